"""Measured control of cGAN, AC-GAN and InfoGAN on digits, 3 seeds, next to the papers.

Trains each shipped config (`configs/{cgan,acgan,infogan}_digits.yaml`, the
same runs as `tests/test_control_e2e.py`) with seeds 0, 1, 2 and reads the
run's `report.json`:
- cGAN / AC-GAN: accuracy with which an independent classifier (the shipped
  digits CNN, `ganzoo.metrics.DigitsClassifierExtractor`, trained on real
  digits only) recognises the requested class; a pixel logistic regression
  trained on the real training split is a second judge.
- InfoGAN: the categorical code's accuracy after the best one-to-one matching
  of code values to digits (Hungarian algorithm), judged by the same CNN on
  generated images; and, as in the paper, Q's matched accuracy on the real
  test split.
Each run is a fresh subprocess. Writes `tools/results/control.json` and
`tools/results/control.md`.

Usage:
    python tools/control_table.py                  # 4 models x 3 seeds, 2 jobs
    python tools/control_table.py --models infogan --seeds 0 1 2 3 4
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "tools", "results")

# name -> (config file, --set overrides, measures: report key -> label, paper's number)
RUNS = {
    "cgan": ("cgan_digits.yaml", [], {
        "class_accuracy": "requested class, digits CNN",
        "pixel_lr_accuracy": "requested class, pixel logistic regression"},
        "n/a (Mirza & Osindero 2014 report only a Parzen log-likelihood on MNIST)"),
    "cgan_concat": ("cgan_digits.yaml", ["model.options.conditioning=concat"], {
        "class_accuracy": "requested class, digits CNN",
        "pixel_lr_accuracy": "requested class, pixel logistic regression"},
        "n/a (Mirza & Osindero 2014 report only a Parzen log-likelihood on MNIST)"),
    "acgan": ("acgan_digits.yaml", [], {
        "class_accuracy": "requested class, digits CNN",
        "pixel_lr_accuracy": "requested class, pixel logistic regression"},
        "n/a on digits (Odena et al. 2017: 10.1% ± 2.0% Inception accuracy, "
        "ImageNet 128px, 1000 classes)"),
    "infogan": ("infogan_digits.yaml", [], {
        "code_accuracy": "categorical code, Hungarian-matched, digits CNN on samples",
        "q_test_accuracy": "Q on real test digits, Hungarian-matched (the paper's measure)"},
        "≈95% (5% error) on MNIST, Q on real digits (Chen et al. 2016, sec. 6)"),
}


def worker(name, seed, model_dir):
    """Trains one run in this process; prints its report and timing as JSON."""
    from ganzoo import train_lib
    from ganzoo.data.digits import digits_arrays
    from ganzoo.metrics import control

    config_file, overrides, _, _ = RUNS[name]
    config = train_lib.resolve_config(
        config_file=os.path.join(ROOT, "configs", config_file), overrides=overrides,
        **{"train.seed": seed})
    start = time.time()
    result = train_lib.run(config, model_dir, verbose=0)
    report = dict(result["report"])
    if "class_accuracy" in report:
        pixels = control.pixel_logistic_regression(*digits_arrays("train", 16))
        report["pixel_lr_accuracy"] = control.conditional_class_accuracy(
            result["model"], pixels, seed=seed)["class_accuracy"]
    report.update(seconds=time.time() - start, steps=config.train.steps,
                  width=config.model.width, config=config_file, overrides=overrides)
    print(json.dumps(report, default=float))


def run_one(name, seed, runs_dir):
    model_dir = os.path.join(runs_dir, f"{name}_seed{seed}")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, str(seed), model_dir]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{name} seed {seed} failed:\n{out.stderr[-3000:]}")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{name} seed {seed}: " + ", ".join(
        f"{k}={report[k]:.3f}" for k in RUNS[name][2] if k in report), flush=True)
    return report


def markdown(results, seeds):
    lines = [
        "# Measured control on digits (16x16)",
        "",
        f"Mean ± std over seeds {', '.join(map(str, seeds))} (`train.seed`: weights, noise "
        "and data order) of the shipped configs, each a fresh run; written by "
        f"`python tools/control_table.py {' '.join(sys.argv[1:])}`. The judges are trained "
        "on real digits only, never on generated images.",
        "",
        "| Model | Config | Steps | Measure | Accuracy | Per seed | Paper |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        config_file, overrides, measures, paper = RUNS[name]
        config = config_file + "".join(f" `{o}`" for o in overrides)
        for key, label in measures.items():
            values = [r[key] for r in runs]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            lines.append(
                f"| {name} | {config} | {runs[0]['steps']} | {label} | "
                f"{100 * statistics.mean(values):.1f}% ± {100 * std:.1f} | "
                f"{' / '.join(f'{100 * v:.1f}' for v in values)} | {paper} |")
    minutes = sum(r["seconds"] for runs in results.values() for r in runs) / 60
    lines += ["", f"Total training and evaluation time: {minutes:.0f} CPU-job minutes.", ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--models", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="Runs in parallel.")
    parser.add_argument("--runs_dir", default=None, help="Where run directories go "
                        "(default: a temporary directory).")
    args = parser.parse_args()
    if args.worker:
        name, seed, model_dir = args.worker
        return worker(name, int(seed), model_dir)
    runs_dir = args.runs_dir or tempfile.mkdtemp(prefix="control_runs_")
    jobs = [(name, seed) for name in args.models for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        reports = list(pool.map(lambda job: run_one(*job, runs_dir), jobs))
    results = {}
    for (name, _), report in zip(jobs, reports):
        results.setdefault(name, []).append(report)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "control.json"), "w") as f:
        json.dump({"seeds": args.seeds, "command": " ".join(sys.argv), "runs_dir": runs_dir,
                   "results": results}, f, indent=2, default=float)
    table = markdown(results, args.seeds)
    with open(os.path.join(RESULTS, "control.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
