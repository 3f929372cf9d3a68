"""What `compat.FusedBatchNormalization` buys: Keras 3's batch norm vs TF's fused kernel.

Two measurements, written to `tools/results/fused_bn.{json,md}`:

1. **The layer alone** (this process): a training-mode forward and backward pass
   (gradients of the outputs' weighted sum with respect to the input, gamma and
   beta, moving statistics updated) of one batch-norm layer, Keras'
   `BatchNormalization` against `FusedBatchNormalization`, at the activation
   shapes of ganzoo's 64 px DCGAN (batch 64, width 64: G's 4x4x512 ... 32x32x64
   and D's 16x16x128 ... 4x4x512), in float32 and bf16 (the layer under a
   `mixed_bfloat16` policy). Median of `--repeats` timings of `--calls` calls.
2. **The whole training step**: `tools/benchmark.py`'s ganzoo worker (the
   default path, a fixed in-memory batch) in fresh processes, with the fused
   layer as shipped and with its `call` replaced by Keras' (so every batch norm
   takes Keras' path), interleaved in `--rounds` rounds (the order alternates),
   at `--sizes` in float32 and bf16.

Usage:
    python tools/fused_bn_benchmark.py                   # both, ~8 min on 2 idle cores
    python tools/fused_bn_benchmark.py --skip_steps      # the layer table only (~1 min)
    python tools/fused_bn_benchmark.py --render          # the .md from the .json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import machine  # tools/machine.py (this script's folder is on sys.path)

TOOLS = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(TOOLS, "results", "fused_bn")
# (where, shape) of every batch norm in ganzoo's DCGAN at 64 px, width 64, batch 64.
SHAPES = [("G", (64, 4, 4, 512)), ("G", (64, 8, 8, 256)), ("G", (64, 16, 16, 128)),
          ("G", (64, 32, 32, 64)), ("D", (64, 16, 16, 128)), ("D", (64, 8, 8, 256)),
          ("D", (64, 4, 4, 512))]
PRECISIONS = ("off", "bf16")


def layer_times(repeats, calls):
    """Milliseconds per forward + backward call of each layer at each shape and precision."""
    import keras
    import numpy as np
    import tensorflow as tf

    from ganzoo import compat, precision

    rows = []
    for mode in PRECISIONS:
        for where, shape in SHAPES:
            row = {"precision": mode, "where": where, "shape": list(shape)}
            x = tf.constant(np.random.default_rng(0).normal(size=shape), tf.float32)
            w = tf.constant(np.random.default_rng(1).normal(size=shape), tf.float32)
            for name, cls in (("keras", keras.layers.BatchNormalization),
                              ("fused", compat.FusedBatchNormalization)):
                with precision.policy_scope(mode):
                    layer = cls(momentum=0.9, epsilon=1e-5, synchronized=False)
                    layer.build(shape)

                @tf.function
                def step(x, layer=layer, w=w):
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        y = tf.cast(layer(tf.cast(x, layer.compute_dtype), training=True),
                                    tf.float32)
                        loss = tf.reduce_sum(y * w)
                    return tape.gradient(loss, [x, layer.gamma, layer.beta])

                for _ in range(3):
                    step(x)
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    for _ in range(calls):
                        out = step(x)
                    _ = out[0].numpy()
                    times.append((time.perf_counter() - start) / calls * 1000)
                row[name] = statistics.median(times)
            row["speedup"] = row["keras"] / row["fused"]
            print(f"{mode:4} {where} {shape}: keras {row['keras']:.3f} ms, fused "
                  f"{row['fused']:.3f} ms, {row['speedup']:.2f}x", flush=True)
            rows.append(row)
    return rows


def step_worker(args):
    """In a fresh process: tools/benchmark.py's ganzoo worker, batch norm fused or Keras'."""
    import benchmark  # tools/benchmark.py

    if args.plain:
        import keras

        from ganzoo import compat

        compat.FusedBatchNormalization.call = keras.layers.BatchNormalization.call
    worker_args = argparse.Namespace(
        size=args.size, channels=3, width=64, batch=64, steps=args.steps, warmup=3,
        repeats=args.repeats, threads=os.cpu_count(), max_repeat_s=60.0,
        precision=args.precision, jit=False)
    benchmark.ganzoo_worker(worker_args)  # prints its JSON line


def step_rates(sizes, rounds, repeats):
    """Images/s of the whole step, fused vs Keras' batch norm, interleaved rounds."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    runs = []
    for r in range(rounds):
        for size in sizes:
            for mode in PRECISIONS:
                order = ["fused", "keras"] if r % 2 == 0 else ["keras", "fused"]
                for variant in order:
                    steps = {28: 30, 32: 20, 64: 4}.get(size, 10)
                    cmd = [sys.executable, os.path.abspath(__file__), "--worker",
                           f"--size={size}", f"--precision={mode}", f"--steps={steps}",
                           f"--repeats={repeats}"] + (["--plain"] if variant == "keras" else [])
                    load = round(os.getloadavg()[0], 2)
                    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
                    if out.returncode:
                        raise RuntimeError(out.stderr[-3000:])
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                    runs.append({"round": r, "size": size, "precision": mode,
                                 "batch_norm": variant, "load_1min": load,
                                 "images_per_second": result["images_per_second"]})
                    print(f"round {r} {size}px {mode} {variant}: "
                          f"{result['images_per_second']:.1f} img/s (load {load})", flush=True)
    rows = []
    for size in sizes:
        for mode in PRECISIONS:
            rates = {v: [x["images_per_second"] for x in runs if x["size"] == size
                         and x["precision"] == mode and x["batch_norm"] == v]
                     for v in ("keras", "fused")}
            rows.append({"size": size, "precision": mode,
                         **{v: {"median": statistics.median(r), "min": min(r), "max": max(r)}
                            for v, r in rates.items()},
                         "speedup": statistics.median(rates["fused"])
                         / statistics.median(rates["keras"])})
    return rows, runs


def markdown(result):
    lines = ["# Fused batch norm: Keras 3's BatchNormalization vs `compat.FusedBatchNormalization`",
             "", f"Produced by `{result['command']}` on {result['machine']}, "
             f"{result['cores']} cores, TensorFlow {result['tensorflow']}.", "",
             "## The layer alone: forward + backward, training mode", "",
             f"Milliseconds per call, median of {result['repeats']} timings of "
             f"{result['calls']} calls; the activation shapes of ganzoo's 64 px DCGAN "
             "(width 64, batch 64).", "",
             "| precision | network | shape | Keras ms | fused ms | speed-up |",
             "|---|---|---|---|---|---|"]
    for r in result["layers"]:
        lines.append(f"| {r['precision']} | {r['where']} | {'x'.join(map(str, r['shape'][1:]))} "
                     f"| {r['keras']:.3f} | {r['fused']:.3f} | {r['speedup']:.1f}x |")
    for mode in PRECISIONS:
        rows = [r for r in result["layers"] if r["precision"] == mode]
        keras_ms, fused_ms = sum(r["keras"] for r in rows), sum(r["fused"] for r in rows)
        lines.append(f"| {mode} | all 7 | sum | {keras_ms:.3f} | {fused_ms:.3f} | "
                     f"{keras_ms / fused_ms:.1f}x |")
    if result.get("steps"):
        lines += ["", "## The whole DCGAN training step (1 D + 1 G update)", "",
                  f"`tools/benchmark.py`'s ganzoo worker (default path, graph mode, fixed "
                  f"in-memory batch, batch 64, width 64, RGB), each measurement a fresh "
                  f"process; images/s, median over {result['rounds']} interleaved rounds "
                  "(range).", "",
                  "| image | precision | Keras batch norm | fused (shipped) | speed-up |",
                  "|---|---|---|---|---|"]
        for r in result["steps"]:
            k, f = r["keras"], r["fused"]
            lines.append(f"| {r['size']}x{r['size']}x3 | {r['precision']} | {k['median']:.1f} "
                         f"({k['min']:.1f}-{k['max']:.1f}) | {f['median']:.1f} "
                         f"({f['min']:.1f}-{f['max']:.1f}) | {r['speedup']:.2f}x |")
        loads = [x["load_1min"] for x in result["step_runs"]]
        lines += ["", f"1-min load when the measurements started: {min(loads):.1f}-"
                  f"{max(loads):.1f}."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 64])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip_steps", action="store_true")
    parser.add_argument("--render", action="store_true")
    parser.add_argument("--out", default=OUT)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return step_worker(args)
    if args.render:
        with open(args.out + ".json") as f:
            result = json.load(f)
    else:
        import tensorflow as tf

        result = {"command": "python tools/fused_bn_benchmark.py " + " ".join(sys.argv[1:]),
                  "machine": machine.describe(), "cores": os.cpu_count(),
                  "tensorflow": tf.__version__, "repeats": args.repeats, "calls": args.calls,
                  "layers": layer_times(args.repeats, args.calls)}
        if not args.skip_steps:
            result["rounds"] = args.rounds
            result["steps"], result["step_runs"] = step_rates(args.sizes, args.rounds,
                                                              args.repeats)
        result["command"] = result["command"].strip()
        with open(args.out + ".json", "w") as f:
            json.dump(result, f, indent=1)
    with open(args.out + ".md", "w") as f:
        f.write(markdown(result))
    print(f"Wrote {args.out}.md" + ("" if args.render else " and .json"))


if __name__ == "__main__":
    main()
