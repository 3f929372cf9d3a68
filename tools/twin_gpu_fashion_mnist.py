"""The PyTorch twins of dcgan and wgan_gp trained on Fashion-MNIST on a GPU, scored here.

This project's lent GPU machines carry PyTorch but no TensorFlow, and cannot
install it (tools/results/gpu_check/README.md), so ganzoo itself cannot train
there; its PyTorch twins (`tools/reference/`: the same networks, init,
optimizers, losses, batch and steps) can. That gives the number a GPU run of
ganzoo will be held against, on the same data and protocol as
tools/results/fashion_mnist.md. Three steps, the middle one without ganzoo or
TensorFlow:

    # here: the training images (uint8, compressed) and the resolved configs
    python tools/twin_gpu_fashion_mnist.py prepare .gpu_data
    # on the GPU machine (torch and numpy only): train, then 10,000 samples each
    python tools/twin_gpu_fashion_mnist.py train .gpu_data $OUT --device cuda
    # here: fmnist-FID, KID, precision/recall, classes, beside the CPU twins
    python tools/twin_gpu_fashion_mnist.py score FOLDER_WITH_THE_OUTPUT...
    python tools/twin_gpu_fashion_mnist.py render   # after the CPU table changed

`train` writes `twin_fashion_mnist.json` (timings, device) after each run and
`<family>_s<seed>_samples.npz` (float16 samples in [-1, 1]: 15.7 MB for 10,000,
under the device tool's 16 MiB per file). `score` takes one or more such folders
and writes tools/results/gpu_check/fashion_mnist_twin.{json,md}.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import fashion_mnist_table as table  # noqa: E402  (imports no TensorFlow: the GPU machine has none)

ROOT = os.path.dirname(TOOLS)
RESULTS = os.path.join(TOOLS, "results", "gpu_check")
FAMILIES = table.TWINS
TIMINGS = "twin_fashion_mnist.json"


def prepare(folder, families):
    """Writes `images.npz` (the 60,000 training images, uint8) and `configs.json`."""
    from ganzoo.data import idx

    os.makedirs(folder, exist_ok=True)
    arrays = idx.idx_arrays("fashion_mnist", "train")
    if arrays is None:
        sys.exit("error: no Fashion-MNIST IDX files (apt-get install dataset-fashion-mnist)")
    np.savez_compressed(os.path.join(folder, "images.npz"), images=arrays[0])
    with open(os.path.join(folder, "configs.json"), "w") as f:
        json.dump(resolved_configs(families), f, indent=1)
    size = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
    print(f"wrote {folder}: {arrays[0].shape[0]:,} images, configs of {', '.join(families)} "
          f"({size / 2**20:.1f} MiB)")


def resolved_configs(families):
    """`{family: configs/<family>_fashion_mnist.yaml resolved, as a dict}` for `twin.train`."""
    from ganzoo import train_lib

    return {f: train_lib.resolve_config(config_file=os.path.join(
        ROOT, "configs", f"{f}_fashion_mnist.yaml")).to_dict() for f in families}


def train(folder, out, families, device, seeds, steps=None):
    """Trains each family's twin per seed (its config's steps unless `steps`); samples, times."""
    import torch
    from reference import twin

    with open(os.path.join(folder, "configs.json")) as f:
        configs = json.load(f)
    # The scaling of ganzoo.data (x / 127.5 - 1), NHWC.
    images = np.load(os.path.join(folder, "images.npz"))["images"][..., None]
    images = images.astype(np.float32) / 127.5 - 1.0
    os.makedirs(out, exist_ok=True)
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"
    runs = {}
    for family, seed in ((f, s) for s in seeds for f in families):
        start = time.perf_counter()
        result = twin.train(images, configs[family], steps=steps, seed=seed, device=device)
        samples = result.generate(table.NUM_SAMPLES, seed=0)
        runs[f"{family}_s{seed}"] = {
            "family": family, "framework": "pytorch", "device": device, "gpu": gpu,
            "torch": torch.__version__, "steps": result.steps, "seed": seed,
            "batch_size": configs[family]["train"]["batch_size"],
            "train_seconds": result.seconds, "total_seconds": time.perf_counter() - start,
            "images_per_second": result.images_per_second, "metrics": result.metrics,
            "date": time.strftime("%Y-%m-%d %H:%M")}
        np.savez(os.path.join(out, f"{family}_s{seed}_samples.npz"),
                 samples=samples.astype(np.float16))
        with open(os.path.join(out, TIMINGS), "w") as f:
            json.dump(runs, f, indent=1)
        print(f"{family} seed {seed}: {result.steps} steps in {result.seconds:.1f} s "
              f"({result.images_per_second:,.0f} img/s) on {gpu}", flush=True)


def score(folders):
    """Scores the samples in `folders`; writes fashion_mnist_twin.{json,md} beside the CPU rows."""
    runs = {}
    for folder in folders:
        with open(os.path.join(folder, TIMINGS)) as f:
            found = json.load(f)
        for name, run in found.items():
            samples = np.load(os.path.join(folder, f"{name}_samples.npz"))["samples"]
            run.update(table.score(samples.astype(np.float32)))
            print(f"{name}: fmnist-FID {run['fid']:.1f}, {run['classes_covered']} classes")
        runs.update(found)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "fashion_mnist_twin.json"), "w") as f:
        json.dump({"gpu_runs": runs}, f, indent=1, default=float)
    write_markdown()


def write_markdown():
    """fashion_mnist_twin.md from its JSON and the CPU table's current rows."""
    with open(os.path.join(RESULTS, "fashion_mnist_twin.json")) as f:
        runs = json.load(f)["gpu_runs"]
    cpu = table.read_results(os.path.join(TOOLS, "results", "fashion_mnist.json"))
    with open(os.path.join(RESULTS, "fashion_mnist_twin.md"), "w") as f:
        f.write(render(runs, cpu))


def render(runs, cpu_runs):
    """The GPU rows beside the same config's rows in tools/results/fashion_mnist.json."""
    lines = [
        "# The PyTorch twins on Fashion-MNIST on a GPU", "",
        "Protocol: tools/twin_gpu_fashion_mnist.py; configs/<family>_fashion_mnist.yaml "
        "(steps, batch, optimizers) trained by the PyTorch twin (`tools/reference/`) on the 60,000 "
        "training images, in float32, eager; 10,000 samples (seed 0) scored here as "
        "tools/results/fashion_mnist.md (fmnist-FID: the shipped classifier's features, "
        "**not comparable with Inception-FID**). The CPU rows are that table's (2 cores). "
        "`train s`: the training loop, CUDA-synchronised. ganzoo itself cannot run on this "
        "machine (no TensorFlow: tools/results/gpu_check/README.md).", "",
        "| family | framework | device | steps | seeds | fmnist-FID | KID | precision | recall "
        "| classes | train s | img/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for family in dict.fromkeys(run["family"] for run in runs.values()):
        gpu = [r for r in runs.values() if r["family"] == family]
        run = gpu[0]
        lines.append(
            f"| {family} | pytorch | {run['gpu']} | {run['steps']} | "
            f"{','.join(str(r['seed']) for r in gpu)} | {table.score_cells(gpu)} | "
            f"{np.mean([r['train_seconds'] for r in gpu]):.0f} | "
            f"{np.mean([r['images_per_second'] for r in gpu]):,.0f} |")
        for framework in ("pytorch", "ganzoo"):
            same = [r for r in cpu_runs if r["job"].get("row") == family
                    and r["job"].get("framework") == framework and r.get("steps") == run["steps"]]
            if same:
                seeds = ",".join(str(r["job"]["seed"]) for r in same)
                timed = table.timings(same, "train_seconds")
                rate = table.timings(same, "images_per_second")
                lines.append(
                    f"| {family} | {framework} | CPU, 2 cores | {run['steps']} | {seeds} | "
                    f"{table.score_cells(same)} | {np.mean(timed):.0f} | {np.mean(rate):,.0f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="here: images.npz and configs.json")
    p.add_argument("folder")
    p.add_argument("--families", default=",".join(FAMILIES))
    t = sub.add_parser("train", help="on the GPU machine: train, sample, time")
    t.add_argument("folder")
    t.add_argument("out")
    t.add_argument("--families", default=",".join(FAMILIES))
    t.add_argument("--device", default="cuda")
    t.add_argument("--seeds", default="0", help="comma-separated")
    t.add_argument("--steps", type=int, default=None, help="dry runs: override the configs'")
    s = sub.add_parser("score", help="here: score the samples, write the results")
    s.add_argument("folders", nargs="+")
    sub.add_parser("render", help="here: only rewrite the .md (after the CPU table changed)")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.folder, args.families.split(","))
    elif args.command == "train":
        train(args.folder, args.out, args.families.split(","), args.device,
              [int(s) for s in args.seeds.split(",")], args.steps)
    elif args.command == "score":
        score(args.folders)
    else:
        write_markdown()


if __name__ == "__main__":
    main()
