"""Does the EMA generator help? fmnist-FID of G and of its moving average, same runs.

Trains `configs/dcgan_fashion_mnist.yaml` with `train.ema_decay` set, for each
seed, and scores both generators of the same run (10,000 samples, seed 0,
against the 10,000 test images, the shipped Fashion-MNIST classifier's features,
as `tools/fashion_mnist_table.py` does): the averaged one that samples, export
and presets use, and G itself, which is the generator the run would have without
the option (the average never feeds back into training). A paired comparison:
the same weights trajectory, only the read-out differs.

    python tools/ema_table.py --steps 2000 --seeds 0,1,2 --decays 0.999

Writes `tools/results/ema.{json,md}`; reruns add to the JSON.
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist_table as table  # noqa: E402

RESULTS = os.path.join(table.RESULTS, "ema")


def jobs_for(family, seeds, steps, decays):
    return [table.variant_job(family, f"{family}_ema{decay}", seed, steps,
                              [f"train.ema_decay={decay}"]) for decay in decays for seed in seeds]


def render(runs):
    lines = ["# EMA generator on Fashion-MNIST: G vs its moving average, the same runs", "",
             "Protocol: configs/<family>_fashion_mnist.yaml with `train.ema_decay`; both "
             "generators of each run scored as in tools/results/fashion_mnist.md (fmnist-FID: "
             "the shipped classifier's features, **not comparable with Inception-FID**). "
             "`gain` = FID of G minus FID of the average (positive: the average is better). "
             "`average, G's BN statistics`: the average with G's batch-norm statistics copied "
             "in, instead of those measured for its own weights (`ema.recalibrate`).", "",
             "| family | ema_decay | steps | seed | FID of G | FID of the average | gain | "
             "average, G's BN statistics | classes G / average | train s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    groups = {}
    for run in sorted(runs, key=lambda r: (r["job"]["row"], r["steps"], r["job"]["seed"])):
        job = run["job"]
        decay = job["overrides"][0].split("=", 1)[1]
        raw, ema = run["without_ema"]["fid"], run["fid"]
        groups.setdefault((job["family"], decay, run["steps"]), []).append(raw - ema)
        g_stats = run.get("ema_with_g_statistics", {}).get("fid")
        lines.append(f"| {job['family']} | {decay} | {run['steps']} | {job['seed']} | {raw:.1f} "
                     f"| {ema:.1f} | {raw - ema:+.1f} | "
                     f"{'-' if g_stats is None else f'{g_stats:.1f}'} | "
                     f"{run['without_ema']['classes_covered']} / "
                     f"{run['classes_covered']} | {run['train_seconds']:.0f} |")
    lines += ["", "Mean gain over seeds:", ""]
    for (family, decay, steps), gains in sorted(groups.items()):
        spread = f" ± {statistics.stdev(gains):.1f}" if len(gains) > 1 else ""
        wins = sum(g > 0 for g in gains)
        lines.append(f"- {family}, ema_decay {decay}, {steps} steps: {statistics.mean(gains):+.1f}"
                     f"{spread} FID points ({wins} of {len(gains)} seeds better with the average).")
    lines += [""] + table.machine_lines(runs)
    return "\n".join(lines) + "\n"


def main():
    parser = table.variant_parser(__doc__)
    parser.add_argument("--family", default="dcgan", choices=table.FAMILIES)
    parser.add_argument("--decays", default="0.999")
    args = parser.parse_args()
    decays = [float(d) for d in args.decays.split(",")]
    table.run_variant_table(RESULTS + ".json", args, lambda seeds: jobs_for(
        args.family, seeds, args.steps, decays), render)


if __name__ == "__main__":
    main()
