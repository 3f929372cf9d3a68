"""Does DiffAugment's translation leak into G, and how much does fmnist-FID punish it?

`tools/diffaugment_table.py` found that DiffAugment (Zhao et al. 2020) raises
DCGAN's fmnist-FID on a 6,000- or 1,000-image Fashion-MNIST subset although it
removes D's overfitting. One explanation: translation "leaks" (Karras et al.
2020, "Training Generative Adversarial Networks with Limited Data", sec. 2.2):
G learns to draw garments off-centre, because D only ever sees shifted images,
and the domain classifier behind fmnist-FID, trained on centred garments, is
sensitive to position. This measures both halves:

1. The metric: fmnist-FID of 10,000 training images against the 10,000 test
   images when every training image is moved by a random whole-pixel shift of at
   most k pixels per axis (k = 0, 1, 2, 4; 4 is DiffAugment's 1/8 of 28),
   padded with the background (-1).
2. The generators: for each run recorded in `diffaugment.json` whose directory
   still exists, the spread of its samples' centres of mass (10,000 samples,
   seed 0; intensity-weighted, pixels) beside the test images', and its
   fmnist-FID after moving every image (samples and test images alike) so that
   its centre of mass lands on the test images' mean centre (whole pixels,
   background-padded). If translation leaks, the augmented runs' centres
   spread wider, and re-centring closes part of their gap to the runs without.

Writes `diffaugment_shift.{json,md}` under `--out` (default `tools/results`):

    python tools/diffaugment_shift.py
    python tools/diffaugment_shift.py --render
"""

import argparse
import json
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)

import diffaugment_table as dat  # noqa: E402
import fashion_mnist_table as fmt  # noqa: E402

RESULTS = os.path.join(TOOLS, "results")
SHIFTS = (0, 1, 2, 4)


def shift(images, dy, dx):
    """Moves each image by (dy[i], dx[i]) whole pixels, padding with the background (-1)."""
    from ganzoo import augment

    # augment.translate pads with 0; shifting x + 1 pads the [-1, 1] image with -1.
    return augment.translate(images + 1.0, dy, dx) - 1.0


def centres(images):
    """Intensity-weighted centre of mass `[N, 2]` (row, column) of images in [-1, 1]."""
    import numpy as np

    w = (np.asarray(images, np.float64)[..., 0] + 1.0) / 2.0  # [N, H, W], 0 = background
    total = np.maximum(w.sum(axis=(1, 2)), 1e-9)
    rows = np.arange(w.shape[1], dtype=np.float64)
    cols = np.arange(w.shape[2], dtype=np.float64)
    return np.stack([(w.sum(axis=2) * rows).sum(axis=1) / total,
                     (w.sum(axis=1) * cols).sum(axis=1) / total], axis=1)


def recentre(images, target, limit=4):
    """Moves each image so its centre of mass is within half a pixel of `target` (row, col)."""
    import numpy as np
    import tensorflow as tf

    move = np.clip(np.round(np.asarray(target)[None, :] - centres(images)), -limit, limit)
    return shift(tf.constant(images, tf.float32), tf.constant(move[:, 0], tf.int32),
                 tf.constant(move[:, 1], tf.int32)).numpy()


def spread(c, target):
    """Summary of centres `c` `[N, 2]`: per-axis std and the mean distance to `target`."""
    import numpy as np

    return {"std_row": float(np.std(c[:, 0])), "std_col": float(np.std(c[:, 1])),
            "mean_distance": float(np.mean(np.linalg.norm(c - np.asarray(target), axis=1)))}


def measure(results):
    import numpy as np
    import tensorflow as tf

    import ganzoo
    from ganzoo import data, metrics

    extractor = metrics.FashionMNISTClassifierExtractor()
    test, _ = data.load("fashion_mnist", "test")
    real = test.batch(fmt.NUM_SAMPLES).get_single_element()[0].numpy()
    train, _ = data.load("fashion_mnist", "train")
    train = train.take(fmt.NUM_SAMPLES).batch(fmt.NUM_SAMPLES).get_single_element()[0].numpy()

    def feats(x):
        return metrics.compute_features(extractor, np.asarray(x, np.float32))["features"]

    real_feats = feats(real)
    metric = []
    rng = np.random.default_rng(0)
    for k in SHIFTS:
        dy, dx = (rng.integers(-k, k + 1, size=len(train)) for _ in range(2))
        moved = shift(tf.constant(train), tf.constant(dy, tf.int32), tf.constant(dx, tf.int32))
        metric.append({"max_shift": k, "fid": float(metrics.fid_from_features(
            real_feats, feats(moved.numpy())))})
        print(f"train images shifted by up to {k} px: fmnist-FID {metric[-1]['fid']:.1f}",
              flush=True)

    real_centres = centres(real)
    target = real_centres.mean(axis=0)
    real_recentred_feats = feats(recentre(real, target))
    runs = []
    for r in results:
        if not dat.run_matches(r):
            continue
        job = r["job"]
        gan = ganzoo.load_gan(r["model_dir"], compile=False)
        fake = np.asarray(gan.generate(fmt.NUM_SAMPLES, seed=0), np.float32)
        fid_recentred = float(metrics.fid_from_features(
            real_recentred_feats, feats(recentre(fake, target))))
        runs.append({"diffaugment": dat.label(job["row"]),
                     "examples": job["examples"], "steps": r["steps"], "seed": job["seed"],
                     "fid": r["fid"], "fid_recentred": fid_recentred,
                     "centres": spread(centres(fake), target)})
        print(f"{job['name']} ({r['steps']} steps, {job['examples']} images): "
              f"fid {r['fid']:.1f} -> recentred {fid_recentred:.1f}", flush=True)
    return {"metric": metric, "test_centres": spread(real_centres, target),
            "test_centre": target.tolist(), "runs": runs,
            "machine": fmt.machine_info()}


def render(out):
    lines = [
        "# Does DiffAugment's translation leak, and does fmnist-FID punish it?",
        "",
        "Made by `tools/diffaugment_shift.py` (its docstring has the protocol).",
        "",
        "The metric: fmnist-FID of 10,000 training images vs the 10,000 test images, "
        "each training image moved by a random whole-pixel shift of up to k pixels per axis "
        "(background-padded; DiffAugment's translation moves by up to 4 at 28x28):",
        "",
        "| max shift (px) | " + " | ".join(str(m["max_shift"]) for m in out["metric"]) + " |",
        "|---|" + "---|" * len(out["metric"]),
        "| fmnist-FID | " + " | ".join(f"{m['fid']:.1f}" for m in out["metric"]) + " |",
        "",
        "The generators (runs of `tools/results/diffaugment.md`, 10,000 samples each): spread "
        "of the samples' centres of mass (std per axis, mean distance to the test images' "
        "mean centre, pixels) and fmnist-FID before and after re-centring every image "
        "(samples and test images alike) on that mean centre. Mean ± std over seeds.",
        "",
        "| diffaugment | examples | steps | seeds | centre std (row / col) | mean distance "
        "| fmnist-FID | re-centred |",
        "|---|---|---|---|---|---|---|---|",
    ]
    t = out["test_centres"]
    lines.append(f"| test images | - | - | - | {t['std_row']:.2f} / {t['std_col']:.2f} | "
                 f"{t['mean_distance']:.2f} | - | - |")
    groups = {}
    for r in out["runs"]:
        groups.setdefault((r["examples"], r["steps"], r["diffaugment"]), []).append(r)
    order = [dat.label(v) for v in dat.VARIANTS]
    for (examples, steps, policy), rs in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order.index(kv[0][2]))):
        rs.sort(key=lambda r: r["seed"])
        c = [r["centres"] for r in rs]
        lines.append(
            f"| {policy} | {examples:,} | {steps} | {','.join(str(r['seed']) for r in rs)} | "
            f"{fmt._fmt([x['std_row'] for x in c], 2)} / {fmt._fmt([x['std_col'] for x in c], 2)}"
            f" | {fmt._fmt([x['mean_distance'] for x in c], 2)} | "
            f"{fmt._fmt([r['fid'] for r in rs])} | {fmt._fmt([r['fid_recentred'] for r in rs])} |")
    m = out["machine"]
    lines += ["", f"Machine: {m['cpu']}, {m['cores']} cores (scores only; no timing)."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--render", action="store_true", help="Only rewrite the .md.")
    args = parser.parse_args()
    json_path = os.path.join(args.out, "diffaugment_shift.json")
    if args.render:
        with open(json_path) as f:
            out = json.load(f)
    else:
        out = measure(fmt.read_results(os.path.join(args.out, "diffaugment.json")))
        with open(json_path, "w") as f:
            json.dump(out, f, indent=1)
    with open(os.path.join(args.out, "diffaugment_shift.md"), "w") as f:
        f.write(render(out))


if __name__ == "__main__":
    main()
