"""What was tried when tuning a Fashion-MNIST config: named override sets, scored alike.

Trains `configs/<family>_fashion_mnist.yaml` with each named set of `--set`-style
overrides (the config itself is the variant `config`), for each seed, and scores
every generator as `tools/fashion_mnist_table.py` does (10,000 samples, seed 0,
against the 10,000 test images, the shipped Fashion-MNIST classifier's
features). The table also lists the family's rows of
`tools/results/fashion_mnist.json` at the same step counts, marked as such, so a
variant can be read against the settings measured there without retraining them.

    python tools/tune_fashion_mnist.py --family wgan --steps 1000 --seeds 0 \\
        --variant "lr1e-4=train.g_optimizer.learning_rate=1e-4;train.d_optimizer.learning_rate=1e-4"

Writes `tools/results/tuning.{json,md}`; a rerun of a (family, variant, steps,
seed) replaces its row.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist_table as table  # noqa: E402

RESULTS = os.path.join(table.RESULTS, "tuning")


def parse_variant(text):
    """`name=key=value;key=value` -> (name, [overrides]); `config` alone has none."""
    name, _, rest = text.partition("=")
    overrides = [o.strip() for o in rest.split(";") if o.strip()]
    if not name or (name != "config" and not overrides):
        raise SystemExit(f"--variant {text!r}: expected NAME=KEY=VALUE[;KEY=VALUE...] "
                         "(or `config` for the config unchanged)")
    return name, overrides


def jobs_for(family, variants, seeds, steps):
    return [table.variant_job(family, f"{family}:{name}", seed, steps, overrides)
            for name, overrides in variants for seed in seeds]


def table_rows(family, steps_seen):
    """The family's ganzoo rows of fashion_mnist.json at the step counts tuned."""
    rows = []
    for run in table.read_results(os.path.join(table.RESULTS, "fashion_mnist.json")):
        job = run["job"]
        if (job["framework"], job["family"]) == ("ganzoo", family) and run["steps"] in steps_seen:
            rows.append(dict(run, job=dict(job, row=f"{family}:{job['row']} (fashion_mnist.json)")))
    return rows


def render(runs):
    lines = ["# Tuning the Fashion-MNIST configs: what was tried", "",
             "Protocol: configs/<family>_fashion_mnist.yaml with the overrides listed, scored "
             "as tools/results/fashion_mnist.md (fmnist-FID: the shipped classifier's features, "
             "**not comparable with Inception-FID**; classes covered: predicted for >= 2% of "
             "samples). Rows marked `(fashion_mnist.json)` are that table's runs of the family at "
             "the same step counts, shown for comparison. Mean ± std over seeds.", "",
             "| family:variant | overrides | steps | seeds | fmnist-FID (per seed) | KID | "
             "precision | recall | classes | train s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    families = {r["job"]["family"] for r in runs}
    steps_by_family = {f: {r["steps"] for r in runs if r["job"]["family"] == f} for f in families}
    shown = list(runs) + [r for f in sorted(families) for r in table_rows(f, steps_by_family[f])]
    groups = {}
    for run in shown:
        groups.setdefault((run["job"]["row"], run["steps"]), []).append(run)
    for (row, steps), group in sorted(groups.items()):
        group = sorted(group, key=lambda r: r["job"]["seed"])
        overrides = "; ".join(group[0]["job"].get("overrides") or []) or "-"
        per_seed = " / ".join(f"{r['fid']:.1f}" for r in group)
        lines.append(
            f"| {row} | {overrides} | {steps} | "
            f"{','.join(str(r['job']['seed']) for r in group)} | "
            f"{table._fmt([r['fid'] for r in group])} ({per_seed}) | "
            f"{table._fmt([r['kid'] for r in group], 0)} | "
            f"{table._fmt([r['precision'] for r in group], 2)} | "
            f"{table._fmt([r['recall'] for r in group], 2)} | "
            f"{table._fmt([r['classes_covered'] for r in group])} | "
            f"{table._fmt(table.timings(group, 'train_seconds'), 0)} |")
    lines += [""] + table.machine_lines(shown)
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="wgan", choices=table.FAMILIES)
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=KEY=VALUE[;KEY=VALUE...]; repeat for more (`config`: none).")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--note", default="", help="A line about the machine's load.")
    parser.add_argument("--render", action="store_true", help="Only rewrite the .md.")
    args = parser.parse_args(argv)
    if args.family == "ssgan":
        raise SystemExit("--family ssgan: its rows are test errors; use tools/ssgan_table.py")
    variants = [parse_variant(v) for v in args.variant]
    if not args.render and not variants:
        raise SystemExit("give at least one --variant (or --render)")
    runs = table.read_results(RESULTS + ".json")
    if not args.render:
        jobs = jobs_for(args.family, variants, [int(s) for s in args.seeds.split(",")],
                        args.steps)
        runs = table.run_jobs(jobs, runs, RESULTS + ".json", args.note, render)
    table.write_results(RESULTS + ".json", runs, render)


if __name__ == "__main__":
    main()
