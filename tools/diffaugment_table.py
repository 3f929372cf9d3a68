"""DiffAugment on 10% of Fashion-MNIST: DCGAN with and without it.

Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training",
NeurIPS 2020, https://arxiv.org/abs/2006.10738: augmenting every image D sees
(real and fake, in both updates) helps most when the training set is small. This
trains `configs/dcgan_fashion_mnist.yaml` on a fixed random 6,000 of the 60,000
training images (`data.max_examples=6000`, the same subset for every seed), once
per variant (`train.diffaugment` off, `translation`, `translation,cutout`,
`color,translation,cutout`) and seed, each run in its own process through
`ganzoo.train_lib.run` (the `--worker` of `tools/fashion_mnist_table.py`).

Every generator is scored as in `tools/fashion_mnist_table.py` (its `score`):
10,000 samples (seed 0) against the 10,000 test images with the shipped
Fashion-MNIST classifier's features (fmnist-FID, KID, precision, recall, classes
covered). Writes `diffaugment.{json,md}` under `--out` (default `tools/results`);
reruns add to the JSON (a rerun of a seed replaces it):

    python tools/diffaugment_table.py                       # 3 variants x seeds 0,1,2
    python tools/diffaugment_table.py --variants off,translation_cutout --steps 5000
    python tools/diffaugment_table.py --steps 20 --seeds 0 --out /tmp/da   # smoke run
    python tools/diffaugment_table.py --render              # md from json
    python tools/diffaugment_table.py --overfit             # D's outputs, recorded runs

`--overfit` asks whether D overfits the subset, the failure DiffAugment is for:
for every recorded run whose directory still exists, the trained D's mean logit
on its 6,000 training images, on the 10,000 held-out test images and on 6,000 of
G's samples (the view of Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data", fig. 1), and their overfitting heuristic
r_t = E[sign D(x_train)]. An overfitted D scores its training images far above
unseen real ones (r_t near 1); augmented runs are also scored on augmented
images, as D saw them in training.
"""

import argparse
import collections
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)

import fashion_mnist_table as fmt  # noqa: E402

RESULTS = os.path.join(TOOLS, "results")
EXAMPLES = 6_000  # 10% of the Fashion-MNIST training split
# Variant name -> train.diffaugment ("" is off).
VARIANTS = {"off": "", "color": "color", "cutout": "cutout", "translation": "translation",
            "translation_cutout": "translation,cutout",
            "color_translation_cutout": "color,translation,cutout",
            "translation_p50": "translation", "translation_cutout_p50": "translation,cutout"}
# Variants with train.diffaugment_probability below 1 (ADA's p, Karras et al. 2020).
PROBABILITY = {"translation_p50": 0.5, "translation_cutout_p50": 0.5}


def label(row):
    """A variant as the tables name it: its policy (or off) and its probability below 1."""
    p = PROBABILITY.get(row)
    return (VARIANTS[row] or "off") + (f" (p {p:g})" if p else "")


def jobs_for(variants, seeds, steps, examples):
    jobs = []
    for seed in seeds:
        for variant in variants:
            overrides = [f"data.max_examples={examples}"]
            if VARIANTS[variant]:
                overrides.append(f"train.diffaugment={VARIANTS[variant]}")
            if variant in PROBABILITY:
                overrides.append(f"train.diffaugment_probability={PROBABILITY[variant]}")
            jobs.append({"framework": "ganzoo", "family": "dcgan", "config": "dcgan",
                         "row": variant, "seed": seed, "steps": steps, "examples": examples,
                         "overrides": overrides, "name": f"diffaugment_{variant}_s{seed}"})
    return jobs


def d_outputs(model_dir, examples, policy, num_fake=6_000):
    """D's logits on training, held-out and generated images of one run (`--overfit`).

    Args:
        model_dir: str. A finished run directory of this table.
        examples: int. Its `data.max_examples`: the training subset it saw.
        policy: str. Its `train.diffaugment` ("" for none).
        num_fake: int. Generated images scored. Defaults to 6,000.

    Returns:
        dict: for each view ("clean", and "augmented" when `policy` is set) the
        mean logit on "train", "test" and "fake" images, "gap" (train - test),
        "r_t" (E[sign D(train)]) and "test_judged_real" (share of test images
        with a positive logit).
    """
    import numpy as np
    import tensorflow as tf

    import ganzoo
    from ganzoo import augment, data

    gan = ganzoo.load_gan(model_dir, compile=False)
    train, spec = data.load("fashion_mnist", "train")
    train, _ = data.select_examples(train, spec, examples)
    test, _ = data.load("fashion_mnist", "test")
    images = {
        "train": train.batch(examples).get_single_element()[0],
        "test": test.batch(10_000).get_single_element()[0],
        "fake": tf.constant(gan.generate(num_fake, seed=1), tf.float32),
    }

    def logits(x, draw):
        out = []
        for i in range(0, int(x.shape[0]), 500):
            chunk = x[i:i + 500]
            if draw is not None:
                chunk = augment.diff_augment(chunk, policy, tf.constant([draw, i], tf.int32))
            # The model's own D call: its output dict, packing and conditions.
            out.append(np.asarray(gan._discriminate(chunk, {}, training=False)["logits"]))
        return np.concatenate(out)

    views = {"clean": None}
    if policy:
        views["augmented"] = 7
    result = {}
    for view, draw in views.items():
        lg = {k: logits(x, None if draw is None else draw + j)
              for j, (k, x) in enumerate(images.items())}
        result[view] = {k: float(np.mean(v)) for k, v in lg.items()}
        result[view].update(gap=result[view]["train"] - result[view]["test"],
                            r_t=float(np.mean(np.sign(lg["train"]))),
                            test_judged_real=float(np.mean(lg["test"] > 0)))
    return result


def run_matches(r):
    """Whether recorded run `r`'s directory still holds that run.

    A later run of the same name (other steps or examples: the name holds
    neither) may have replaced it.
    """
    from ganzoo import loading

    if not os.path.isdir(r.get("model_dir", "")):
        return False
    values = loading.run_config_values(r["model_dir"])
    return (values["train"]["steps"], values["data"].get("max_examples")) == (
        r["steps"], r["job"]["examples"])


def add_d_outputs(results):
    """`--overfit`: records `d_outputs` for each run whose directory still holds it."""
    for r in results:
        if r.get("d_outputs") or not run_matches(r):
            continue
        job = r["job"]
        print(f"D outputs of {job['name']} ({r['steps']} steps) ...", flush=True)
        r["d_outputs"] = d_outputs(r["model_dir"], job["examples"], VARIANTS[job["row"]])
    return results


def render_d_outputs(results):
    """Markdown lines: the `--overfit` table (empty when no run has it)."""
    scored = [r for r in results if r.get("d_outputs")]
    if not scored:
        return []
    lines = [
        "", "Does D overfit its training images? (`--overfit`: the trained D's mean "
        "logit on its training images (`examples` of them), on the 10,000 held-out test "
        "images and on 6,000 samples of G; r_t = E[sign D(train)], Karras et al. 2020's "
        "overfitting heuristic, near 1 when D has memorised its training set; "
        "`test real`: share of test images D calls real.)",
        "",
        "| diffaugment | examples | steps | seed | images | D(train) | D(test) | D(fake) | "
        "train - test | r_t | test real |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(scored, key=lambda r: (-r["job"]["examples"], r["steps"],
                                           list(VARIANTS).index(r["job"]["row"]),
                                           r["job"]["seed"])):
        for view in ("clean", "augmented"):
            d = r["d_outputs"].get(view)
            if d:
                lines.append(
                    f"| {label(r['job']['row'])} | {r['job']['examples']:,} "
                    f"| {r['steps']} | {r['job']['seed']} "
                    f"| {view} | {d['train']:+.2f} | {d['test']:+.2f} | {d['fake']:+.2f} | "
                    f"{d['gap']:+.2f} | {d['r_t']:+.2f} | {d['test_judged_real']:.0%} |")
    return lines


def render(results):
    rows = {}
    for r in results:
        job = r["job"]
        key = (job["row"], job["examples"], r["steps"])
        rows.setdefault(key, {})[job["seed"]] = r
    order = list(VARIANTS)
    lines = [
        "# DiffAugment: DCGAN on 10% of Fashion-MNIST",
        "",
        "Protocol: configs/dcgan_fashion_mnist.yaml trained on a fixed random subset of the "
        "training split (`data.max_examples`, the same images for every seed and variant), "
        "with `train.diffaugment` as listed (Zhao et al. 2020, "
        "https://arxiv.org/abs/2006.10738). Scored as tools/fashion_mnist_table.py: "
        f"{fmt.NUM_SAMPLES:,} samples (seed 0) vs the 10,000 test images, features of the "
        "shipped Fashion-MNIST classifier (fmnist-FID; **not comparable with "
        f"Inception-FID**); classes covered: predicted for >= {fmt.COVERED_SHARE:.0%} of "
        "samples. Mean ± std over seeds. `train s`: the training loop.",
        "",
        "| diffaugment | examples | steps | seeds | fmnist-FID | KID | precision | recall | "
        "classes | train s | img/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (row, examples, steps), by_seed in sorted(
            rows.items(), key=lambda kv: (kv[0][1], kv[0][2], order.index(kv[0][0]))):
        runs = [by_seed[s] for s in sorted(by_seed)]
        lines.append(
            f"| {label(row)} | {examples:,} | {steps} | "
            f"{','.join(str(s) for s in sorted(by_seed))} | {fmt.score_cells(runs)} | "
            f"{fmt._fmt(fmt.timings(runs, 'train_seconds'), 0)} | "
            f"{fmt._fmt(fmt.timings(runs, 'images_per_second'), 0)} |")
    lines += ["", "Against no augmentation (same examples, steps and seeds):", ""]
    for (row, examples, steps), by_seed in sorted(rows.items()):
        off = rows.get(("off", examples, steps))
        if row == "off" or not off:
            continue
        seeds = sorted(set(by_seed) & set(off))
        if not seeds:
            continue
        deltas = [by_seed[s]["fid"] - off[s]["fid"] for s in seeds]
        lines.append(f"- {label(row)}, {examples:,} examples, {steps} steps: fmnist-FID "
                     f"{fmt._fmt(deltas)} (per seed, seeds {','.join(map(str, seeds))}; "
                     f"negative is better).")
    machines = collections.Counter(fmt.machine.of(r) for r in results)
    lines += render_d_outputs(results)
    lines.append("")
    for (cpu, cores, note), count in machines.items():
        lines.append(f"Machine: {cpu}, {cores} cores ({count} runs, one at a time)"
                     + (f"; {note}" if note else ""))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=None,
                        help="Override train.steps (default: the config's 10,000).")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"Comma-separated subset of {', '.join(VARIANTS)}.")
    parser.add_argument("--examples", type=int, default=EXAMPLES,
                        help="data.max_examples: training images kept (default 6,000 = 10%%).")
    parser.add_argument("--out", default=RESULTS,
                        help="Folder for diffaugment.{json,md} (smoke runs: a temp folder).")
    parser.add_argument("--runs_dir", default=os.environ.get(
        "GANZOO_TABLE_RUNS", "/tmp/ganzoo_diffaugment_table"), help="Run directories.")
    parser.add_argument("--render", action="store_true", help="Only rewrite the .md.")
    parser.add_argument("--overfit", action="store_true",
                        help="Only add D's outputs on train/test/fake images to recorded runs.")
    parser.add_argument("--note", default="", help="A line about the machine's load.")
    args = parser.parse_args()
    json_path = os.path.join(args.out, "diffaugment.json")
    results = fmt.read_results(json_path)
    if args.overfit:
        results = add_d_outputs(results)
    elif not args.render:
        variants = [v for v in args.variants.split(",") if v]
        if not variants or set(variants) - set(VARIANTS):
            parser.error(f"--variants: choose from {', '.join(VARIANTS)}")
        seeds = [int(s) for s in args.seeds.split(",")]
        os.environ["GANZOO_TABLE_RUNS"] = args.runs_dir  # read by the worker processes
        jobs = jobs_for(variants, seeds, args.steps, args.examples)
        results = fmt.run_jobs(jobs, results, json_path, args.note, render)
    fmt.write_results(json_path, results, render)


if __name__ == "__main__":
    main()
