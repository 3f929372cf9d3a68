"""Mode-collapse benchmark: the 2014 GAN and its anti-collapse switches on 2-D mixtures.

Trains `vanilla` on `ring8` and `grid25` with each switch combination over
several seeds and measures the VEEGAN/PacGAN metrics on 2,500 samples
(`ganzoo.metrics.mode_coverage`): modes captured, fraction of high-quality
samples (within 3 standard deviations of a mode), reverse KL of the mode
histogram. Writes `tools/results/mode_collapse.md` (mean ± std, every seed's
mode count so a collapse is visible, wall time), `.json` (every run) and one
scatter-plot sheet per data set (`mode_collapse_<data>.png`: a row per
variant, a column per seed).

Each data set's setup is `configs/vanilla_<data>.yaml`; a variant adds `--set`
style overrides. Runs train through the model's own `fit` (the same `train_step` as
`python -m ganzoo.train`) without the run directory, checkpoints and export,
which would dominate these short runs. These MLPs are too small to keep two
cores busy, so `--workers` (default 2) processes each train one run at a time
on one thread.

    python tools/mode_collapse.py                      # the whole table (~15 min on 2 cores)
    python tools/mode_collapse.py --seeds=0 --datasets=ring8 --variants=gan,vbn
"""

import argparse
import json
import os
import sys
import time

import keras
import numpy as np

from ganzoo import data, tasks, train_lib
from ganzoo.data import toy
from ganzoo.metrics import mode_coverage as mc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MBD = "model.discriminator.minibatch_discrimination={num_kernels: 5, kernel_dim: 3}"
UNROLL = "model.options.unrolled_steps=5"
VBN = "model.generator.norm=vbn"
PACK = "model.options.packing=2"

# name -> (label in the table, overrides on top of configs/vanilla_<data>.yaml)
VARIANTS = {
    "gan": ("GAN (Goodfellow et al. 2014)", []),
    "minibatch": ("+ minibatch discrimination", [MBD]),
    "unrolled": ("+ unrolled D, k=5", [UNROLL]),
    "vbn": ("+ virtual batch norm in G", [VBN]),
    "packing": ("+ packing m=2 (PacGAN)", [PACK]),
    "vbn_minibatch": ("+ virtual batch norm in G + minibatch discrimination", [VBN, MBD]),
}
# The combination that covers every mode of both mixtures on every seed
# (tests/test_mode_collapse_e2e.py).
BEST = "vbn_minibatch"

# Published numbers on the same mixtures and metrics, each paper with its own (larger)
# networks and training length, as /work/shared/REFERENCES.md quotes them from the papers'
# tables in their repositories: VEEGAN Table 1 (akashgit/VEEGAN, `tab.png`: 2,500
# samples, high quality = within 3 std of a mode, 5 runs) and PacGAN Table 1
# (fjxmlzn/PacGAN, `synthetic_data_experiments/results/Table1.png`: 10 trials,
# ± standard error). VEEGAN reports no reverse KL. The plain GAN differs between the
# two papers (ring: 1 vs 6.3 modes): our own baseline is the one measured above.
VEEGAN = "Srivastava et al. 2017 (VEEGAN), Table 1"
PACGAN = "Lin et al. 2018 (PacGAN), Table 1"
PUBLISHED = [
    {"paper": VEEGAN, "data": data, "method": method, "modes": modes,
     "high_quality": f"{quality}%", "reverse_kl": "-"}
    for data, rows in (("ring8", [("GAN", "1 / 8", 99.3), ("ALI", "2.8 / 8", 0.13),
                                  ("Unrolled GAN, 5 steps", "7.6 / 8", 35.6),
                                  ("VEEGAN", "8 / 8", 52.9)]),
                       ("grid25", [("GAN", "3.3 / 25", 0.5), ("ALI", "15.8 / 25", 1.6),
                                   ("Unrolled GAN, 5 steps", "23.6 / 25", 16),
                                   ("VEEGAN", "24.6 / 25", 40)]))
    for method, modes, quality in rows
] + [
    {"paper": PACGAN, "data": data, "method": method, "modes": modes,
     "high_quality": quality, "reverse_kl": kl}
    for data, rows in (("ring8", [("GAN", "6.3 ± 0.5 / 8", "98.2%", "0.45"),
                                  ("ALI", "6.6 ± 0.3 / 8", "97.6%", "0.36"),
                                  ("PacGAN2", "7.9 ± 0.1 / 8", "95.6%", "0.07"),
                                  ("PacGAN3", "7.8 ± 0.1 / 8", "97.7%", "0.10"),
                                  ("PacGAN4", "7.8 ± 0.1 / 8", "95.9%", "0.07")]),
                       ("grid25", [("GAN", "17.3 ± 0.8 / 25", "94.8%", "0.70"),
                                   ("ALI", "24.1 ± 0.4 / 25", "95.7%", "0.14"),
                                   ("PacGAN2", "23.8 ± 0.7 / 25", "91.3%", "0.13"),
                                   ("PacGAN3", "24.6 ± 0.4 / 25", "94.2%", "0.06"),
                                   ("PacGAN4", "24.8 ± 0.2 / 25", "93.6%", "0.04")]))
    for method, modes, quality, kl in rows
]
PUBLISHED_NOTE = (
    "Published numbers on the same mixtures and metrics with each paper's own, larger "
    "networks and longer training (VEEGAN: 2,500 samples, 5 runs; PacGAN: 10 trials, ± "
    "standard error; no reverse KL in VEEGAN's table). Their plain GANs differ (ring: 1 vs "
    "6.3 modes), so the baseline to compare a switch with is ours, above.")


def train_and_measure(dataset, variant, seed, steps=None, steps_per_execution=50):
    """Trains one run and returns its metrics, wall time and a scatter plot.

    Args:
        dataset: str. `ring8` or `grid25`.
        variant: str. A key of `VARIANTS`.
        seed: int. `train.seed` (weights, noise, data order).
        steps: int or None. Overrides `train.steps` of the config.
        steps_per_execution: int. Train steps per compiled call (speed only).

    Returns:
        dict with `modes`, `high_quality`, `reverse_kl`, `seconds`, `steps` and
        `picture` (uint8 scatter plot of the 2,500 evaluation samples).
    """
    config = train_lib.resolve_config(
        "vanilla", os.path.join(ROOT, "configs", f"vanilla_{dataset}.yaml"),
        overrides=VARIANTS[variant][1], **{"train.seed": seed, "train.steps": steps})
    t = config.train
    dataset_, spec = data.load(dataset, "train")
    keras.backend.clear_session()
    keras.utils.set_random_seed(t.seed)
    gan = train_lib.build_model(config, spec)
    gan.compile(d_optimizer=train_lib.make_optimizer(t.d_optimizer),
                g_optimizer=train_lib.make_optimizer(t.g_optimizer), loss=t.loss,
                label_smoothing=t.label_smoothing, jit_compile=True,
                steps_per_execution=steps_per_execution)
    pipeline = tasks.get_task(config.model.name).make_pipeline(dataset_, spec, config)
    start = time.time()
    gan.fit(pipeline, steps_per_epoch=t.steps, epochs=1, verbose=0)
    seconds = time.time() - start
    samples = gan.generate(mc.NUM_EVAL_SAMPLES, seed=seed)
    centers, std = toy.mixture_params(dataset)
    stats = mc.mode_coverage(samples, centers, std)
    title = f"{variant} s{seed}: {stats['modes']} modes, {stats['high_quality']:.0%} HQ"
    picture = mc.scatter_plot_array(samples, centers, title=title)
    return {"modes": stats["modes"], "num_modes": len(centers),
            "high_quality": stats["high_quality"], "reverse_kl": stats["reverse_kl"],
            "seconds": seconds, "steps": t.steps, "picture": picture}


def _one_thread():
    """Pool initializer: one TensorFlow thread per process, so `--workers` runs share the cores."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _run(job):
    dataset, variant, seed, steps = job
    result = train_and_measure(dataset, variant, seed, steps)
    result.update(dataset=dataset, variant=variant, seed=seed)
    print(f"{dataset:7s} {variant:14s} seed {seed}: {result['modes']:2d}/"
          f"{result['num_modes']} modes, {100 * result['high_quality']:5.1f}% HQ, "
          f"rKL {result['reverse_kl']:.2f}, {result['seconds']:.0f}s", flush=True)
    return result


def run_all(jobs, workers):
    """Runs `(dataset, variant, seed, steps)` jobs, in `workers` fresh processes if > 1."""
    if workers <= 1:
        return [_run(job) for job in jobs]
    import multiprocessing

    # Slowest jobs first so the pool does not end on one long run.
    cost = {"unrolled": 3, "vbn_minibatch": 2, "minibatch": 2}
    order = sorted(range(len(jobs)), key=lambda i: -cost.get(jobs[i][1], 1))
    context = multiprocessing.get_context("spawn")  # no TensorFlow state inherited
    with context.Pool(workers, initializer=_one_thread, maxtasksperchild=1) as pool:
        done = pool.map(_run, [jobs[i] for i in order], chunksize=1)
    results = [None] * len(jobs)
    for i, result in zip(order, done):
        results[i] = result
    return results


def summarize(runs):
    """Mean ± std over seeds of each (dataset, variant)."""
    rows = []
    for (dataset, variant) in dict.fromkeys((r["dataset"], r["variant"]) for r in runs):
        group = [r for r in runs if r["dataset"] == dataset and r["variant"] == variant]
        row = {"dataset": dataset, "variant": variant, "label": VARIANTS[variant][0],
               "seeds": [r["seed"] for r in group], "num_modes": group[0]["num_modes"],
               "modes_per_seed": [r["modes"] for r in group], "steps": group[0]["steps"]}
        for key in ("modes", "high_quality", "reverse_kl", "seconds"):
            values = np.array([r[key] for r in group], dtype=float)
            row[key] = [float(np.mean(values)), float(np.std(values))]
        rows.append(row)
    return rows


def markdown(rows, total_seconds, command, name="mode_collapse"):
    lines = [
        "# Mode collapse on 2-D mixtures: the 2014 GAN and its anti-collapse switches",
        "",
        f"Produced by `{command}` in {total_seconds / 60:.1f} min "
        "on 2 CPU cores (`wall s` is one run's training time on one thread, with "
        "another run training on the other core).",
        "Metrics of VEEGAN / PacGAN on 2,500 samples: modes captured (a mode with at least "
        "one sample within 3 std of its mean), high-quality samples (within 3 std of the "
        "nearest mode), reverse KL of the high-quality samples' mode histogram to the "
        "uniform one. Mean ± std over seeds; `per seed` lists every seed's mode count.",
        "Setups: `configs/vanilla_ring8.yaml`, `configs/vanilla_grid25.yaml`; a row adds "
        "its switches (see `VARIANTS` in `tools/mode_collapse.py`).",
        "",
        "| data | variant | steps | modes | per seed | high quality | reverse KL | wall s |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['label']} | {r['steps']} "
            f"| {r['modes'][0]:.1f} ± {r['modes'][1]:.1f} / {r['num_modes']} "
            f"| {'/'.join(str(m) for m in r['modes_per_seed'])} "
            f"| {100 * r['high_quality'][0]:.1f} ± {100 * r['high_quality'][1]:.1f} % "
            f"| {r['reverse_kl'][0]:.2f} ± {r['reverse_kl'][1]:.2f} "
            f"| {r['seconds'][0]:.0f} ± {r['seconds'][1]:.0f} |")
    sheets = ", ".join(f"`{name}_{d}.png`" for d in dict.fromkeys(r["dataset"] for r in rows))
    lines += ["", f"Scatter plots of every run: {sheets} (a row per variant, a column per "
              "seed).", ""]
    datasets = {r["dataset"] for r in rows}
    published = [p for p in PUBLISHED if p["data"] in datasets]
    if published:
        lines += ["## Published numbers (their architectures and training lengths)", "",
                  PUBLISHED_NOTE, "",
                  "| paper | data | method | modes | high quality | reverse KL |",
                  "| --- | --- | --- | ---: | ---: | ---: |"]
        lines += [f"| {p['paper']} | {p['data']} | {p['method']} | {p['modes']} "
                  f"| {p['high_quality']} | {p['reverse_kl']} |" for p in published]
    return "\n".join(lines) + "\n"


def contact_sheet(runs, dataset, path):
    from PIL import Image

    group = [r for r in runs if r["dataset"] == dataset]
    variants = list(dict.fromkeys(r["variant"] for r in group))
    seeds = list(dict.fromkeys(r["seed"] for r in group))
    size = group[0]["picture"].shape[0]
    sheet = Image.new("RGB", (len(seeds) * (size + 4), len(variants) * (size + 4)), "white")
    for r in group:
        x, y = seeds.index(r["seed"]) * (size + 4), variants.index(r["variant"]) * (size + 4)
        sheet.paste(Image.fromarray(r["picture"]), (x, y))
    sheet.save(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="ring8,grid25")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=None,
                        help="Override train.steps (the learning-rate schedule keeps its length).")
    parser.add_argument("--workers", type=int, default=2,
                        help="Parallel single-threaded training processes (1: in this process).")
    parser.add_argument("--render", action="store_true",
                        help="Only rewrite the .md from an existing .json.")
    parser.add_argument("--out", default=os.path.join(ROOT, "tools", "results", "mode_collapse"),
                        help="Output path without extension (.md, .json, _<data>.png).")
    args = parser.parse_args(argv)
    if args.render:
        with open(args.out + ".json") as f:
            saved = json.load(f)
        with open(args.out + ".md", "w") as f:
            f.write(markdown(saved["summary"], saved["total_seconds"], saved["command"],
                             os.path.basename(args.out)))
        return
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown --variants {sorted(unknown)}; choose from {sorted(VARIANTS)}")
    jobs = [(dataset, variant, int(seed), args.steps) for dataset in args.datasets.split(",")
            for variant in args.variants.split(",") for seed in args.seeds.split(",")]
    start = time.time()
    runs = run_all(jobs, args.workers)
    total = time.time() - start
    rows = summarize(runs)
    command = "python tools/mode_collapse.py " + " ".join(argv if argv is not None
                                                          else sys.argv[1:])
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write(markdown(rows, total, command.strip(), os.path.basename(args.out)))
    with open(args.out + ".json", "w") as f:
        json.dump({"command": command.strip(), "total_seconds": total, "summary": rows,
                   "published": PUBLISHED,
                   "runs": [{k: v for k, v in r.items() if k != "picture"} for r in runs]},
                  f, indent=1)
    for dataset in args.datasets.split(","):
        contact_sheet(runs, dataset, f"{args.out}_{dataset}.png")
    print(f"Wrote {args.out}.md/.json in {total / 60:.1f} min")


if __name__ == "__main__":
    main()
