"""Does bf16 hurt? fmnist-FID and time of bf16 runs beside the float32 runs of the same config.

Trains `configs/<family>_fashion_mnist.yaml` with `train.mixed_precision` set
(bf16 by default), for each seed, and scores the generator as
`tools/fashion_mnist_table.py` does (10,000 samples, seed 0, against the 10,000
test images, the shipped Fashion-MNIST classifier's features). The float32
runs it is compared with are that table's own rows (same config, steps and
seeds; `tools/results/fashion_mnist.json`), so run that table first on the same
machine.

    python tools/precision_table.py --seeds 0,1,2 --steps 2000
    python tools/precision_table.py --seeds 0 --float32_network discriminator
    python tools/precision_table.py --family ssgan --steps 6000   # scores test error

Writes `tools/results/precision.{json,md}`; reruns add to the JSON.
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist_table as table  # noqa: E402

RESULTS = os.path.join(table.RESULTS, "precision")


def jobs_for(family, seeds, steps, mode, float32_network=None, ssgan_variant="ssgan_100"):
    # The float32 row it is compared with: the family's own, or one of ssgan's label counts.
    base = ssgan_variant if family == "ssgan" else family
    overrides = [f"train.mixed_precision={mode}", *table.SSGAN_VARIANTS.get(base, [])]
    jobs = []
    for seed in seeds:
        if float32_network:  # e.g. dcgan_bf16_discriminator_float32
            job = table.variant_job(family, f"{base}_{mode}_{float32_network}_float32", seed,
                                    steps, overrides)
            job["float32_network"] = float32_network
        else:
            job = table.variant_job(family, f"{base}_{mode}", seed, steps, overrides)
        job["base_row"] = base
        jobs.append(job)
    return jobs


def _float32_runs():
    runs = table.read_results(os.path.join(table.RESULTS, "fashion_mnist.json"))
    return {(r["job"]["row"], r["steps"], r["job"]["seed"]): r for r in runs
            if r["job"]["framework"] == "ganzoo"}


def _score(run):
    """fmnist-FID, or for ssgan (which scores no samples) D's test error in percent."""
    if run is None:
        return None
    if run["job"]["family"] == "ssgan":
        error = (run.get("report") or {}).get("test_error")
        return None if error is None else 100 * error
    return run.get("fid")


def _late_error(run):
    """ssgan: the mean test error (%) of the run's last 3 checkpoints, else None."""
    history = ((run or {}).get("report") or {}).get("test_error_history") or []
    return 100 * statistics.mean(e for _, e in history[-3:]) if len(history) >= 3 else None


def render(runs):
    base = _float32_runs()
    lines = ["# bf16 vs float32 on Fashion-MNIST", "",
             "Protocol: configs/<family>_fashion_mnist.yaml with `train.mixed_precision`, scored "
             "as in tools/results/fashion_mnist.md (fmnist-FID: the shipped classifier's "
             "features, **not comparable with Inception-FID**); float32 = that table's run of "
             "the same config, steps and seed. `train s`: the training loop; float32's and the "
             "speed-up only where that run was timed on the same kind of CPU. `bf16, "
             "discriminator float32`: bf16 with that network built in float32 "
             "(`--float32_network`). `score`: fmnist-FID; ssgan rows (which score no "
             "samples): the discriminator's error on the 10,000 test images, in percent "
             "(`--ssgan_variant` picks the label count). Lower is better for both.", "",
             "| family | mode | steps | seed | score | float32 score | classes | "
             "train s | float32 train s | speed-up |", "|---|---|---|---|---|---|---|---|---|---|"]
    groups = {}
    for run in sorted(runs, key=lambda r: (r["job"]["row"], r["steps"], r["job"]["seed"])):
        job = run["job"]
        mode = job["overrides"][0].split("=", 1)[1]
        if job.get("float32_network"):
            mode += f", {job['float32_network']} float32"
        ref = base.get((job.get("base_row", job["family"]), run["steps"], job["seed"]))
        ref_fid = _score(ref)
        same_cpu = ref and ref.get("machine", {}).get("cpu") == run.get("machine", {}).get("cpu")
        ref_s = ref["train_seconds"] if same_cpu and ref.get("timed", True) else None
        speed = ref_s / run["train_seconds"] if ref_s and run.get("timed", True) else None
        groups.setdefault((job.get("base_row", job["family"]), mode, run["steps"]), []).append(
            (_score(run), ref_fid, speed, _late_error(run), _late_error(ref)))
        lines.append(
            f"| {job.get('base_row', job['family'])} | {mode} | {run['steps']} | {job['seed']} | "
            f"{_score(run):.1f} | "
            f"{'-' if ref_fid is None else f'{ref_fid:.1f}'} | {run.get('classes_covered', '-')} | "
            f"{run['train_seconds']:.0f} | {'-' if ref_s is None else f'{ref_s:.0f}'} | "
            f"{'-' if speed is None else f'{speed:.2f}x'} |")
    lines += ["", "Means over seeds:", ""]
    for (family, mode, steps), rows in sorted(groups.items()):
        fids = [r[0] for r in rows]
        refs = [r[1] for r in rows if r[1] is not None]
        speeds = [r[2] for r in rows if r[2] is not None]
        metric = "test error (%)" if family.startswith("ssgan") else "fmnist-FID"
        text = (f"- {family}, {mode}, {steps} steps, {len(fids)} seed(s): "
                f"{metric} {table._fmt(fids)}")
        if refs:
            text += f" vs float32 {table._fmt(refs)} ({len(refs)} seed(s))"
        late = [(r[3], r[4]) for r in rows if r[3] is not None and r[4] is not None]
        if late:  # one checkpoint's test error is noisy: the last three's mean too
            text += (f"; mean of the last 3 checkpoints' test errors "
                     f"{table._fmt([a for a, _ in late])} vs {table._fmt([b for _, b in late])}")
        if speeds:
            text += f"; training loop {statistics.mean(speeds):.2f}x float32's speed"
        lines.append(text + ".")
    lines += [""] + table.machine_lines(runs)
    return "\n".join(lines) + "\n"


def main():
    parser = table.variant_parser(__doc__)
    parser.add_argument("--family", default="dcgan", choices=table.FAMILIES)
    parser.add_argument("--mode", default="bf16", choices=("bf16", "fp16"))
    parser.add_argument("--ssgan_variant", default="ssgan_100",
                        choices=[v for v in table.SSGAN_VARIANTS if not v.endswith("_supervised")],
                        help="ssgan only: which label count's float32 row to compare with")
    parser.add_argument("--float32_network", choices=("generator", "discriminator"),
                        help="keep this network in float32 (which one's bf16 costs FID?)")
    args = parser.parse_args()
    table.run_variant_table(RESULTS + ".json", args, lambda seeds: jobs_for(
        args.family, seeds, args.steps, args.mode, args.float32_network, args.ssgan_variant),
        render)


if __name__ == "__main__":
    main()
