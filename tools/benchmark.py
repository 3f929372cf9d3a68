"""Training throughput of DCGAN: XLA on/off x oneDNN on/off, median of repeats.

Each configuration runs in a fresh subprocess because TensorFlow reads
`TF_ENABLE_ONEDNN_OPTS` only when it is imported. Writes
`tools/results/benchmark.json` and `tools/results/benchmark.md`.

Usage:
    python tools/benchmark.py                      # 16px digits and 64px RGB DCGAN
    python tools/benchmark.py --sizes 64 --repeats 5
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def worker(args):
    """Times `steps` train steps `repeats` times in this process; prints JSON."""
    import numpy as np
    import tensorflow as tf

    from ganzoo.config import ModelConfig
    from ganzoo.data import DataSpec
    from ganzoo.registry import get_model

    channels = 1 if args.size <= 16 else 3
    spec = DataSpec("bench", (args.size, args.size, channels), 0)
    gan = get_model("dcgan").from_data_spec(spec, ModelConfig(width=args.width), seed=0)
    gan.compile(jit_compile=args.jit)
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, *spec.shape)).astype(np.float32)
    data = tf.data.Dataset.from_tensors((x, np.zeros(args.batch, np.int32))).repeat()
    gan.fit(data, steps_per_epoch=args.warmup, epochs=1, verbose=0)  # trace + compile
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        gan.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
        rates.append(args.batch * args.steps / (time.perf_counter() - start))
    print(json.dumps({"images_per_second": statistics.median(rates), "all": rates}))


def run_config(size, width, batch, jit, onednn, args):
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1" if onednn else "0",
               TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", f"--size={size}",
           f"--width={width}", f"--batch={batch}", f"--steps={args.steps}",
           f"--warmup={args.warmup}", f"--repeats={args.repeats}"] + (["--jit"] if jit else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jit", action="store_true")
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    import tensorflow as tf

    rows = []
    for size in args.sizes:
        steps = args.steps if size > 16 else args.steps * 10
        for onednn in (False, True):
            for jit in (False, True):
                sub = argparse.Namespace(**{**vars(args), "steps": steps})
                result = run_config(size, args.width, args.batch, jit, onednn, sub)
                rows.append({"image_size": size, "width": args.width, "batch": args.batch,
                             "jit_compile": jit, "onednn": onednn, **result})
                print(f"{size}px onednn={onednn} jit={jit}: "
                      f"{result['images_per_second']:.1f} img/s", flush=True)
    meta = {"tensorflow": tf.__version__, "cpu_count": os.cpu_count(),
            "machine": platform.machine(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"), "median_of": args.repeats}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "benchmark.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    lines = ["| image | oneDNN | XLA (jit_compile) | images/s (median) |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['image_size']}px | {'on' if r['onednn'] else 'off'} | "
                     f"{'on' if r['jit_compile'] else 'off'} | {r['images_per_second']:.1f} |")
    with open(os.path.join(RESULTS, "benchmark.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
