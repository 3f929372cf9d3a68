"""Training-step time of shipped configs: graph mode against XLA and bf16, on this host.

`train_lib.run` on each config with sample grids and checkpoints out of reach,
a Keras callback timing consecutive blocks of `--block` steps after the first
block (tracing, XLA compilation and warm-up excluded; `total s` includes them
and the end of the run). Each measurement runs in its own process, one at a
time, so run it on an idle machine.

    python tools/step_rate.py --configs dcgan_fashion_mnist,wgan_gp_fashion_mnist \
        --steps 150 --block 50 --modes graph,xla,bf16

Modes: `graph` (float32, `train.jit_compile=false`), `xla` (float32,
`train.jit_compile=true`), `bf16` (graph mode, `train.mixed_precision=bf16`).

Writes `tools/results/step_rate.{json,md}` (rows of the same host, config and
mode are replaced; other hosts' rows are kept).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "tools", "results", "step_rate.json")


# mode -> config overrides.
MODES = {
    "graph": ["train.jit_compile=false", "train.mixed_precision=off"],
    "xla": ["train.jit_compile=true", "train.mixed_precision=off"],
    "bf16": ["train.jit_compile=false", "train.mixed_precision=bf16"],
}


def mode_of(row):
    """A row's mode (rows written before bf16 was measured have only `jit_compile`)."""
    return row.get("mode") or ("xla" if row["jit_compile"] else "graph")


def measure(config_name, steps, block, mode):
    """Runs the config in this process; returns the block times and the total."""
    import keras

    from ganzoo import train_lib

    class Blocks(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.count, self.start, self.seconds = 0, None, []

        def on_train_batch_end(self, batch, logs=None):
            # `batch` restarts each epoch: count steps here.
            self.count += 1
            if self.count == block:
                self.start = time.perf_counter()
            elif self.count > block and (self.count - block) % block == 0:
                now = time.perf_counter()
                self.seconds.append(now - self.start)
                self.start = now

    blocks = Blocks()
    config = train_lib.resolve_config(
        config_file=os.path.join(ROOT, "configs", f"{config_name}.yaml"),
        overrides=[f"train.steps={steps}", f"train.sample_every={steps + 1}",
                   f"train.checkpoint_every={steps + 1}", *MODES[mode]])
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train_lib.run(config, os.path.join(tmp, "run"), verbose=0, extra_callbacks=[blocks])
    return {"block_seconds": blocks.seconds, "total_seconds": time.perf_counter() - start}


def render(rows):
    lines = ["# Step time: graph mode against XLA and bf16, per host", "",
             "`python tools/step_rate.py`: each shipped config for a few blocks of steps, sample "
             "grids and checkpoints out of reach, one process per measurement, one at a time. "
             "`s/step`: median over the timed blocks (the first block, with tracing and XLA "
             "compilation, is not timed); `total s`: the whole run, compilation included. "
             "graph and XLA compute in float32; bf16 is graph mode with "
             "`train.mixed_precision=bf16`. Speed-ups divide graph's s/step.", ""]

    def per_step(r):
        return statistics.median(r["block_seconds"]) / r["block"] if r else None

    for host in sorted({r["cpu"] for r in rows}):
        by_config = {}  # (config, steps, block): a shorter run never shares a row with these
        for r in rows:
            if r["cpu"] == host:
                by_config.setdefault((r["config"], r["steps"], r["block"]), {})[mode_of(r)] = r
        shown = [m for m in MODES if any(m in modes for modes in by_config.values())]
        others = [m for m in shown if m != "graph"]
        header = (["config", "steps", "graph s/step"]
                  + [f"{m.upper() if m == 'xla' else m} {c}" for m in others
                     for c in ("s/step", "speed-up")]
                  + [f"{'XLA' if m == 'xla' else m} total s" for m in shown])
        lines += [f"## {host}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        for (name, steps, _), modes in sorted(by_config.items()):
            graph = per_step(modes.get("graph"))
            cells = [name, str(steps),
                     f"{graph:.3f}" if graph else "-"]
            for m in others:
                t = per_step(modes.get(m))
                cells += [f"{t:.3f}" if t else "-",
                          f"{graph / t:.2f}x" if t and graph else "-"]
            cells += [f"{modes[m]['total_seconds']:.0f}" if m in modes else "-" for m in shown]
            lines.append("| " + " | ".join(cells) + " |")
        notes = sorted({r["note"] for r in rows if r["cpu"] == host and r.get("note")})
        lines += [""] + [f"- {n}" for n in notes] + ([""] if notes else [])
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="dcgan_fashion_mnist,cgan_fashion_mnist,"
                        "infogan_fashion_mnist,wgan_fashion_mnist,wgan_gp_fashion_mnist")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--modes", default="graph,xla",
                        help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--note", default="")
    parser.add_argument("--worker", nargs=2, metavar=("CONFIG", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--render", action="store_true", help="only rewrite the .md")
    args = parser.parse_args(argv)
    if args.worker:
        result = measure(args.worker[0], args.steps, args.block, args.worker[1])
        print("RESULT " + json.dumps(result))
        return
    rows = []
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            rows = json.load(f)["rows"]
    modes = args.modes.split(",")
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"--modes: unknown {unknown}; choose from {', '.join(MODES)}")
    host = machine.describe()
    for name in ([] if args.render else args.configs.split(",")):
        for mode in modes:
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
            proc = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--worker", name, mode,
                 f"--steps={args.steps}", f"--block={args.block}"],
                capture_output=True, text=True, env=env, check=True)
            result = json.loads(proc.stdout.split("RESULT ", 1)[1])
            row = {"cpu": host, "config": name, "mode": mode, "jit_compile": mode == "xla",
                   "steps": args.steps,
                   "block": args.block, "note": args.note, **result}
            print(json.dumps(row), flush=True)
            # Replaces only its own measurement: same host, config, mode, steps and block.
            key = (host, name, mode, args.steps, args.block)
            rows = [r for r in rows if (r["cpu"], r["config"], mode_of(r), r["steps"],
                                        r["block"]) != key] + [row]
            with open(RESULTS, "w") as f:
                json.dump({"rows": rows}, f, indent=1)
    with open(RESULTS[:-5] + ".md", "w") as f:
        f.write(render(rows))


if __name__ == "__main__":
    main()
