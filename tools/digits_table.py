"""The unconditional digits runs, judged by an independent classifier.

Trains `configs/<name>.yaml` (the README's default DCGAN command, WGAN-GP and
WGAN with clipping) with `ganzoo.train_lib.run` for each seed, draws 1,000
samples (seed 123, as tests/test_dcgan_e2e.py) and scores them with a
scikit-learn logistic regression trained on the real 16x16 digits training
split (shares no code with ganzoo's models): the share of samples it
classifies with p > 0.5, and the class histogram of those. Writes
`tools/results/digits.{json,md}`.

    python tools/digits_table.py                     # 3 configs x seeds 0, 1, 2
    python tools/digits_table.py --configs dcgan_digits --seeds 0
"""

import argparse
import json
import os
import shutil
import statistics
import time

import machine  # tools/machine.py (this script's folder is on sys.path)
import numpy as np
from sklearn.linear_model import LogisticRegression

from ganzoo import train_lib
from ganzoo.data.digits import digits_arrays

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "tools", "results")
CONFIGS = ("dcgan_digits", "wgan_gp_digits", "wgan_digits")


def judge(images):
    """(confident share, class counts of the confident samples)."""
    x, y = digits_arrays("train", images.shape[1])
    clf = LogisticRegression(max_iter=3000, C=0.5).fit(x.reshape(len(x), -1), y)
    probs = clf.predict_proba(images.reshape(len(images), -1))
    confident = probs.max(1) > 0.5
    return float(confident.mean()), np.bincount(probs.argmax(1)[confident], minlength=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--work_dir", default="/tmp/ganzoo_digits_table")
    args = parser.parse_args()
    json_path = os.path.join(RESULTS, "digits.json")
    runs = []
    if os.path.exists(json_path):  # reruns add to (or replace seeds in) the table
        with open(json_path) as f:
            runs = json.load(f)["runs"]
    for name in args.configs.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            config = train_lib.resolve_config(
                config_file=os.path.join(ROOT, "configs", f"{name}.yaml"),
                overrides=[f"train.seed={seed}"])
            model_dir = os.path.join(args.work_dir, f"{name}_s{seed}")
            shutil.rmtree(model_dir, ignore_errors=True)
            start = time.time()
            result = train_lib.run(config, model_dir, verbose=0)
            seconds = time.time() - start
            confident, counts = judge(result["model"].generate(1000, seed=123))
            run = {"config": name, "seed": seed, "steps": result["steps"],
                   "width": config.model.width, "seconds": seconds,
                   "confident": confident, "class_counts": counts.tolist(),
                   "cpu": machine.describe(), "cores": os.cpu_count()}
            runs = [r for r in runs if (r["config"], r["seed"]) != (name, seed)] + [run]
            print(json.dumps(run), flush=True)
            write(json_path, runs)


def write(json_path, runs):
    os.makedirs(RESULTS, exist_ok=True)
    with open(json_path, "w") as f:
        json.dump({"protocol": __doc__, "runs": runs}, f, indent=1)
    lines = ["# Unconditional digits runs, independent logistic-regression judge", "",
             "1,000 samples (seed 123); confident = classified with p > 0.5 by a logistic "
             "regression on the real training digits; smallest class = the rarest class's "
             "share of all samples. Seconds: `train_lib.run` on 2 CPU cores.", "",
             "| config | width | steps | seeds | confident (per seed) | smallest class | seconds |",
             "|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["config"] for r in runs):
        group = [r for r in runs if r["config"] == name]
        shares = [r["confident"] for r in group]
        per_seed = " / ".join(f"{100 * v:.1f}" for v in shares)
        lines.append(
            f"| {name} | {group[0].get('width', '?')} | {group[0]['steps']} | {len(group)} | "
            f"{100 * statistics.mean(shares):.1f}% ({per_seed}) | "
            f"{min(min(r['class_counts']) for r in group) / 10:.1f}% | "
            f"{statistics.mean(r['seconds'] for r in group):.0f} |")
    # Seconds depend on the host: name each one (runs before the field: not recorded).
    hosts = machine.grouped(
        (f"{r['cpu']}, {r['cores']} cores" if "cpu" in r else "not recorded", r["config"])
        for r in runs)
    lines.append("")
    lines += [f"Machine: {host} ({', '.join(names)})" for host, names in hosts.items()]
    with open(os.path.join(RESULTS, "digits.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
