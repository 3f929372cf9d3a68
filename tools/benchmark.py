"""DCGAN training throughput: ganzoo beside its PyTorch twin, interleaved in one run.

Default (side by side): at each image size, three configurations of the same
DCGAN (ganzoo's default networks at `--width`, batch `--batch`, one D and one G
update per step, a fixed in-memory batch so no input pipeline is timed):

- ganzoo's default path, `gan.fit` as a run uses it: oneDNN on, XLA where
  `hardware.fast_path` picks it for a dcgan run on this CPU (on CPUs without
  AVX-512), graph mode elsewhere, in the precision `hardware.default_precision`
  picks (bf16 on a CPU with bf16 instructions); with a batch-end callback, as every
  `train_lib.run` has its divergence guard (Keras then runs callbacks in the
  loop rather than on a thread pool);
- PyTorch eager (`tools/reference`, the twin `check_parity.py` verifies);
- PyTorch with `channels_last` memory order.

Each measurement is a fresh subprocess: warm-up steps, then `--repeats`
timed repeats of `--steps` steps; it reports the median repeat. Configurations
alternate inside a round (the order rotates from round to round) and the
table gives the median over `--rounds` rounds, so load from other jobs hits
all of them alike; each measurement also records the 1-minute load average,
the CPU time its process used per wall second, and images per CPU-second.
Both frameworks get `--threads` intra-op and inter-op threads; the default is
TensorFlow's own (one per logical core) and PyTorch is set to match. The table
also converts each rate to GFLOP/s reached (`step_gflop_per_image`), beside
this CPU's fp32 matmul rate where `tools/machine.py` has measured it: how much
room is left at all. Each CPU model gets its own section.

On a shared machine wall-clock rates are shares of busy cores, and above one
thread PyTorch's OpenMP spin-waiting collapses under contention (the table
says so when the load exceeded the cores). `--threads 1` with the
images-per-CPU-second table is the comparison that survives other jobs;
`--max_load` waits for a quiet moment before each measurement.

`--grid` instead runs ganzoo alone with oneDNN on/off x XLA on/off (the
measurement behind `hardware.fast_path`). `--mixed_precision off bf16`
runs ganzoo's default path alone in each `train.mixed_precision` mode,
interleaved in rounds like the side-by-side table (bf16 uses AMX/AVX-512 bf16
units where the CPU has them). `--trace` times ganzoo's 28 px `fit` calls in one
process with tf.data autotuning on and off, split into steps and the teardown
after the last step: the cause of the two speeds of issue 15 (a TF bug,
`ganzoo.compat.without_autotune`). Results go to
`tools/results/benchmark.{json,md}`; each mode, thread count and CPU type replaces
only its own section, and a run with other settings than the defaults (sizes,
width, batch, steps, warmup, repeats, rounds) writes a section named after them,
so a smoke run never replaces a table measured with the defaults.

`--torch_only --device cuda` times the PyTorch twin alone (eager and
channels_last, float32 and bf16 autocast) for a GPU machine without TensorFlow;
it reads ganzoo's dcgan config and GFLOP counts from
`tools/reference/dcgan_benchmark.json` (`--save_reference` rewrites it), and
`--from_log` rebuilds its section from the lines of a run cut off early.

Usage:
    python tools/benchmark.py                        # 28, 32, 64 px, 3 rounds (~6 min idle)
    python tools/benchmark.py --threads 1            # per-core comparison, robust to load
    python tools/benchmark.py --sizes 64 --rounds 5
    python tools/benchmark.py --grid --sizes 16 64   # oneDNN x XLA grid
    python tools/benchmark.py --mixed_precision off bf16 --sizes 64   # float32 vs bf16
    python tools/benchmark.py --trace --repeats 5    # fit teardown, autotuning on/off
    python tools/benchmark.py --render               # benchmark.md from benchmark.json
    python tools/benchmark.py --torch_only --device cuda   # the twin alone on a GPU
"""

import argparse
import importlib.util
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from importlib import metadata

import machine  # tools/machine.py (this script's folder is on sys.path)
from results_name import results_name  # tools/results_name.py

TOOLS = os.path.dirname(os.path.abspath(__file__))
# GANZOO_BENCHMARK_RESULTS: another folder (tools/gpu_check.sh keeps GPU runs apart).
RESULTS = os.environ.get("GANZOO_BENCHMARK_RESULTS") or os.path.join(TOOLS, "results")
IMPLS = ("ganzoo", "torch", "torch_cl")
LABELS = {"ganzoo": "ganzoo default (oneDNN, no XLA)", "torch": "PyTorch eager",
          "torch_cl": "PyTorch channels_last"}
# `--torch_only`, the twin alone (a GPU machine without TensorFlow):
# name -> (channels_last, precision).
TORCH_IMPLS = {"torch": (False, "off"), "torch_cl": (True, "off"),
               "torch_bf16": (False, "bf16"), "torch_cl_bf16": (True, "bf16")}
TORCH_LABELS = {"torch": "eager fp32", "torch_cl": "channels_last fp32",
                "torch_bf16": "eager bf16 autocast", "torch_cl_bf16": "channels_last bf16 autocast"}
# The twin's resolved dcgan config and the step's GFLOP per image, saved by
# `--save_reference` where ganzoo imports, for `--torch_only` where it does not.
REFERENCE = os.path.join(TOOLS, "reference", "dcgan_benchmark.json")
# Steps per timed repeat: about 1.5-3 s each on 2 idle cores.
DEFAULT_STEPS = {16: 150, 28: 30, 32: 20, 64: 4}


# ----------------------------------------------------------------------- workers
def ganzoo_worker(args):
    """Times ganzoo's `fit` in this process; prints JSON."""
    import keras
    import numpy as np
    import tensorflow as tf

    from ganzoo import compat, precision
    from ganzoo.config import ModelConfig
    from ganzoo.data import DataSpec
    from ganzoo.registry import get_model

    if args.threads != os.cpu_count():  # else TF's default, one thread per logical core
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    spec = DataSpec("bench", (args.size, args.size, args.channels), 0)
    with precision.policy_scope(args.precision):  # as train_lib.run builds the networks
        gan = get_model("dcgan").from_data_spec(spec, ModelConfig(width=args.width), seed=0)
    gan.compile(jit_compile=args.jit)
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, *spec.shape)).astype(np.float32)
    # As `train_lib.run` feeds `fit`: autotuning off, else each `fit` call (each
    # repeat here) returns late (`ganzoo.compat.without_autotune`).
    data = compat.without_autotune(
        tf.data.Dataset.from_tensors((x, np.zeros(args.batch, np.int32))).repeat())
    gan.fit(data, steps_per_epoch=args.warmup, epochs=1, verbose=0)  # trace + compile
    threads = {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
               "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}

    class Budget(keras.callbacks.Callback):
        """Counts steps; ends the repeat early once `--max_repeat_s` is spent (busy machines)."""

        def on_train_begin(self, logs=None):
            self.start, self.steps = time.perf_counter(), 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if time.perf_counter() - self.start > args.max_repeat_s:
                self.model.stop_training = True

    budget = Budget()

    def repeat():
        gan.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=[budget])
        return budget.steps

    return _time_repeats(repeat, args, {"threads (0 = one per core)": threads,
                                        "mixed_precision": args.precision})


def torch_worker(args):
    """Times the PyTorch twin's `train_step` in this process; prints JSON."""
    import torch

    sys.path.insert(0, TOOLS)
    from reference import Twin

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    shape = (args.size, args.size, args.channels)
    twin = Twin(json.loads(args.config), shape, channels_last=args.channels_last,
                device=args.device)
    x = torch.rand(args.batch, args.channels, args.size, args.size,
                   generator=torch.Generator().manual_seed(0)) * 2 - 1
    x = x.to(args.device)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    # bf16: autocast around the whole step (no loss scaling needed for bf16).
    autocast = torch.autocast(x.device.type, dtype=torch.bfloat16,
                              enabled=args.precision == "bf16")
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)

    def step():
        with autocast:
            twin.train_step(x)

    def repeat():
        start, steps = time.perf_counter(), 0
        while steps < args.steps and (not steps or
                                      time.perf_counter() - start <= args.max_repeat_s):
            step()
            steps += 1
        sync()  # a GPU runs ahead of the host: count finished work only
        return steps

    for _ in range(args.warmup):
        step()
    sync()
    extra = {"threads": {"intra_op": torch.get_num_threads(),
                         "inter_op": torch.get_num_interop_threads()},
             "device": str(x.device), "mixed_precision": args.precision}
    if x.device.type == "cuda":
        extra.update(gpu=torch.cuda.get_device_name(x.device),
                     cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
                     matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32)
    return _time_repeats(repeat, args, extra)


def _time_repeats(repeat, args, extra):
    # CPU time of the whole process (all threads): at one thread per framework it
    # measures work done, unaffected by other jobs taking turns on the cores; with
    # more threads it also counts time spent spin-waiting.
    rates, cpu_rates, steps = [], [], []
    for _ in range(args.repeats):
        start, cpu = time.perf_counter(), time.process_time()
        steps.append(repeat())
        rates.append(args.batch * steps[-1] / (time.perf_counter() - start))
        cpu_rates.append(args.batch * steps[-1] / (time.process_time() - cpu))
    print(json.dumps({"images_per_second": statistics.median(rates), "all": rates,
                      "images_per_cpu_second": statistics.median(cpu_rates),
                      "all_cpu": cpu_rates, "steps_timed": steps, **extra}))


def trace_worker(args):
    """ganzoo's step over many `fit` calls in one process, tf.data autotuning on and off.

    The two-speed question of issue 15: each `fit` call is timed three ways:
    the whole call, its steps (first batch begin to last batch end) and the
    teardown after `on_train_end` until `fit` returns (where Keras deletes its
    data iterator). `on`: a plain `tf.data` pipeline, as the tables before the
    fix fed `fit`; `off`: `ganzoo.compat.without_autotune`, as `train_lib.run`
    feeds it now. Both `fit` calls carry a batch-end callback, as every run's
    divergence guard. Prints JSON.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from ganzoo import compat
    from ganzoo.config import ModelConfig
    from ganzoo.data import DataSpec
    from ganzoo.registry import get_model

    spec = DataSpec("bench", (args.size, args.size, args.channels), 0)
    gan = get_model("dcgan").from_data_spec(spec, ModelConfig(width=args.width), seed=0)
    gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, *spec.shape)).astype(np.float32)
    plain = tf.data.Dataset.from_tensors((x, np.zeros(args.batch, np.int32))).repeat()
    pipelines = {"on": plain, "off": compat.without_autotune(plain)}

    class Clock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.first = getattr(self, "first", None) or time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last = time.perf_counter()

        def on_train_end(self, logs=None):
            self.end = time.perf_counter()

    gan.fit(plain, steps_per_epoch=args.warmup, epochs=1, verbose=0)
    series = {mode: {"fit_s": [], "steps_s": [], "teardown_s": []} for mode in pipelines}
    for _ in range(args.repeats):
        for mode, data in pipelines.items():
            clock, start = Clock(), time.perf_counter()
            gan.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=[clock])
            done = time.perf_counter()
            for key, value in (("fit_s", done - start), ("steps_s", clock.last - clock.first),
                               ("teardown_s", done - clock.end)):
                series[mode][key].append(round(value, 3))
    print(json.dumps({"steps_per_fit": args.steps, "batch": args.batch, **series}))


def trace_table(s):
    rows = ["| tf.data autotuning | fit calls | steps per fit | steps (s, median) | "
            "teardown after the last step (s, median / max) | whole fit (s, median) | img/s |",
            "|---|---|---|---|---|---|---|"]
    for mode, label in (("on", "on (plain pipeline)"),
                        ("off", "off (`compat.without_autotune`, as runs)")):
        m = s[mode]
        fit = statistics.median(m["fit_s"])
        rows.append(f"| {label} | {len(m['fit_s'])} | {s['steps_per_fit']} | "
                    f"{statistics.median(m['steps_s']):.2f} | "
                    f"{statistics.median(m['teardown_s']):.2f} / {max(m['teardown_s']):.2f} | "
                    f"{fit:.2f} | {s['batch'] * s['steps_per_fit'] / fit:.0f} |")
    return rows


# ------------------------------------------------------------------------ driver
def run_worker(kind, size, args, onednn=True, jit=False, config=None, channels_last=False,
               mixed_precision="off"):
    """One measurement in a fresh process, with load and CPU-use around it."""
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1" if onednn else "0", TF_CPP_MIN_LOG_LEVEL="3")
    steps = args.steps or DEFAULT_STEPS.get(size, max(5, 40 * 28 * 28 // size**2))
    cmd = [sys.executable, os.path.abspath(__file__), f"--worker={kind}", f"--size={size}",
           f"--channels={channels(size, args)}", f"--width={args.width}",
           f"--batch={args.batch}", f"--steps={steps}", f"--warmup={args.warmup}",
           f"--repeats={args.repeats}", f"--threads={args.threads}",
           f"--max_repeat_s={args.max_repeat_s}", f"--precision={mixed_precision}"]
    cmd += ["--jit"] if jit else []
    cmd += ["--channels_last"] if channels_last else []
    cmd += [f"--config={json.dumps(config)}"] if config else []
    cmd += [f"--device={args.device}"] if kind == "torch" else []
    waited = _wait_for_quiet(args.max_load, args.wait)
    load, before, start = round(os.getloadavg()[0], 2), _child_cpu(), time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    wall = time.perf_counter() - start
    result.update(steps=steps, load_1min=load, waited_s=waited, process_seconds=round(wall, 1),
                  cpu_per_wall=round((_child_cpu() - before) / wall, 2))
    return result


def _wait_for_quiet(max_load, limit):
    """Sleeps until the 1-minute load is at most `max_load` (0: never), or `limit` s."""
    start = time.perf_counter()
    while max_load and os.getloadavg()[0] > max_load and time.perf_counter() - start < limit:
        time.sleep(5)
    return round(time.perf_counter() - start)


def channels(size, args):
    return args.channels or (1 if size <= 16 else 3)


def _child_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def default_path(args):
    """`(jit_compile, reason, mixed_precision, reason)` of a `dcgan` run here:
    `hardware.fast_path`'s and `hardware.default_precision`'s choices."""
    import tensorflow as tf

    from ganzoo import hardware, tasks, train_lib

    config = train_lib.resolve_config("dcgan", **{"model.width": args.width,
                                                  "train.batch_size": args.batch})
    one, task = tf.distribute.get_strategy(), tasks.get_task("dcgan")
    return (*hardware.fast_path(one, task, config),
            *hardware.default_precision(one, task, config))


def ganzoo_label(section):
    """The ganzoo column's name: the default path the section measured."""
    mode = section.get("ganzoo_jit_compile")
    if mode is None:  # sections written before the default depended on the CPU
        return LABELS["ganzoo"]
    path = "XLA" if mode else "graph, oneDNN"
    if section.get("ganzoo_mixed_precision", "off") != "off":
        path += f", {section['ganzoo_mixed_precision']}"
    return f"ganzoo default ({path})"


def step_gflop_per_image(size, args):
    """Multiply-add work of one DCGAN training step, GFLOP per image of the batch.

    With G_f and D_f the products of one image's forward pass (counted from the
    traced networks by `graph_multiply_adds`: convolutions, transposed
    convolutions, matmuls; 2 FLOP per multiply-add): D's step runs G forward, and
    D forward and backward (input and weight gradients, a forward pass each) on a
    real and a fake image, G_f + 6 D_f; G's step runs both forward, D's input
    gradients and G's two backward halves, 3 G_f + 2 D_f. So 4 G_f + 8 D_f per
    image, the same products in both frameworks; element-wise ops (normalisation,
    activations, the optimizer) are left out. A rate times this is the GFLOP/s
    reached, comparable with the CPU's matmul rate.
    """
    import tensorflow as tf

    from ganzoo.config import ModelConfig
    from ganzoo.data import DataSpec
    from ganzoo.registry import get_model

    spec = DataSpec("bench", (size, size, channels(size, args)), 0)
    with tf.device("/CPU:0"):  # shapes only: keep a GPU's memory for the workers
        gan = get_model("dcgan").from_data_spec(spec, ModelConfig(width=args.width), seed=0)

    def forward(model, shape):
        call = tf.function(tf.autograph.experimental.do_not_convert(
            lambda x: model(x, training=True)))
        return graph_multiply_adds(call.get_concrete_function(
            tf.TensorSpec((1, *shape), tf.float32)).graph)

    g = forward(gan.generator, gan.generator.input_shape[1:])
    d = forward(gan.discriminator, spec.shape)
    return 2 * (4 * g + 8 * d) / 1e9


def graph_multiply_adds(graph):
    """Multiply-adds of the convolutions and matmuls in a TensorFlow graph (static shapes)."""
    total = 0
    for op in graph.get_operations():
        if op.type == "Conv2D":  # [N, Ho, Wo, Cout] outputs, each kh * kw * Cin products
            kh, kw, cin, _ = op.inputs[1].shape
            total += math.prod(op.outputs[0].shape) * kh * kw * cin
        elif op.type == "Conv2DBackpropInput":  # the forward conv's work, from its filter
            kh, kw, cin, _ = op.inputs[1].shape
            total += math.prod(op.inputs[2].shape) * kh * kw * cin
        elif op.type == "Conv2DBackpropFilter":  # output: the filter gradient
            kh, kw, cin, _ = op.outputs[0].shape
            total += math.prod(op.inputs[2].shape) * kh * kw * cin
        elif op.type == "MatMul":
            (a0, a1), (b0, b1) = op.inputs[0].shape, op.inputs[1].shape
            m, k = (a1, a0) if op.get_attr("transpose_a") else (a0, a1)
            n = b0 if op.get_attr("transpose_b") else b1
            total += m * n * k
    return total


def interleaved(args, names, measure):
    """`{(size, name): [one result per round]}` of `measure(size, name, round)`.

    Every size in each of `args.rounds` rounds; the order of `names` rotates
    from round to round, so load from other jobs hits every configuration alike.
    """
    names = list(names)
    runs = {(size, name): [] for size in args.sizes for name in names}
    for r in range(args.rounds):
        shift = r % len(names)
        for size in args.sizes:
            for name in names[shift:] + names[:shift]:
                runs[(size, name)].append(measure(size, name, r + 1))
    return runs


def side_by_side(args):
    """Interleaved rounds of ganzoo's default path / PyTorch eager / channels_last."""
    from ganzoo import train_lib

    jit, reason, mode, mode_reason = default_path(args)
    print(f"ganzoo's default path here: {'XLA' if jit else 'graph mode'} ({reason}); "
          f"mixed_precision {mode} ({mode_reason})", flush=True)
    config = train_lib.resolve_config("dcgan", **{"model.width": args.width,
                                                  "train.batch_size": args.batch}).to_dict()
    labels = dict(LABELS, ganzoo=ganzoo_label({"ganzoo_jit_compile": jit,
                                               "ganzoo_mixed_precision": mode}))

    def measure(size, impl, r):
        if impl == "ganzoo":
            result = run_worker("ganzoo", size, args, jit=jit, mixed_precision=mode)
        else:
            result = run_worker("torch", size, args, config=config,
                                channels_last=impl == "torch_cl")
        print(f"round {r} {size}px {labels[impl]}: "
              f"{result['images_per_second']:.1f} img/s, "
              f"{result['images_per_cpu_second']:.1f} img/cpu-s (repeats "
              f"{', '.join(f'{v:.0f}' for v in result['all'])}; load "
              f"{result['load_1min']:.1f}, cpu/wall {result['cpu_per_wall']})",
              flush=True)
        return result

    runs = interleaved(args, IMPLS, measure)
    rows = []
    for size in args.sizes:
        row = {"image": f"{size}x{size}x{channels(size, args)}", "image_size": size}
        for impl in IMPLS:
            rates = [m["images_per_second"] for m in runs[(size, impl)]]
            cpu = [m["images_per_cpu_second"] for m in runs[(size, impl)]]
            row[impl] = {"median": statistics.median(rates), "min": min(rates),
                         "max": max(rates), "cpu_median": statistics.median(cpu),
                         "rounds": runs[(size, impl)]}
        row["gflop_per_image"] = step_gflop_per_image(size, args)
        for impl in ("torch", "torch_cl"):
            row[f"ratio_vs_{impl}"] = row["ganzoo"]["median"] / row[impl]["median"]
            row[f"cpu_ratio_vs_{impl}"] = row["ganzoo"]["cpu_median"] / row[impl]["cpu_median"]
        rows.append(row)
    protocol = (f"DCGAN width {args.width}, batch {args.batch}, 1 D + 1 G update per step, "
                f"fixed in-memory batch; images/s, median over {args.rounds} interleaved "
                f"rounds (range in brackets) of the median of {args.repeats} timed repeats "
                f"in a fresh process; {args.threads} intra-op and {args.threads} inter-op "
                "threads in both frameworks (TensorFlow's default is one per logical core; "
                "PyTorch is set to match).")
    return {"protocol": protocol, "threads": args.threads, "cores": os.cpu_count(), "rows": rows,
            "ganzoo_jit_compile": jit, "ganzoo_default_reason": reason,
            "ganzoo_mixed_precision": mode, "ganzoo_mixed_precision_reason": mode_reason}


def reference_payload(width=64, batch=64, sizes=(16, 28, 32, 64)):
    """What `--save_reference` writes: ganzoo's resolved dcgan config and GFLOP per image."""
    from ganzoo import train_lib

    args = argparse.Namespace(width=width, channels=0)
    config = train_lib.resolve_config("dcgan", **{"model.width": width,
                                                  "train.batch_size": batch}).to_dict()
    return {"about": "tools/benchmark.py --save_reference: the PyTorch twin's dcgan config "
                     "and the step's GFLOP per image, for --torch_only runs without TensorFlow",
            "config": config,
            "gflop_per_image": {str(n): step_gflop_per_image(n, args) for n in sizes}}


def torch_alone(args):
    """Interleaved rounds of the twin alone (eager / channels_last x fp32 / bf16) on --device."""
    with open(REFERENCE) as f:
        saved = json.load(f)
    config = saved["config"]  # a copy with --width/--batch; `saved` keeps what its GFLOPs count
    config = dict(config, model=dict(config["model"], width=args.width),
                  train=dict(config["train"], batch_size=args.batch))

    def measure(size, impl, r):
        channels_last, precision = TORCH_IMPLS[impl]
        result = run_worker("torch", size, args, config=config,
                            channels_last=channels_last, mixed_precision=precision)
        # torch_alone_from_log reads these lines back (LOG_LINE).
        print(f"round {r} {size}px {TORCH_LABELS[impl]} on {result['device']}: "
              f"{result['images_per_second']:.0f} img/s (repeats "
              f"{', '.join(f'{v:.0f}' for v in result['all'])})", flush=True)
        return result

    runs = interleaved(args, TORCH_IMPLS, measure)
    first = next(iter(runs.values()))[0]
    return torch_alone_payload(runs, args, saved, first.get("gpu"), {
        k: first.get(k) for k in ("cudnn_allow_tf32", "matmul_allow_tf32")})


LOG_LINE = re.compile(r"round (\d+) (\d+)px (.+) on (\S+): (\d+) img/s \(repeats ([\d, ]+)\)")


def torch_alone_from_log(args):
    """A `--torch_only` section rebuilt from the lines a run printed (one cut off early)."""
    labels = {label: impl for impl, label in TORCH_LABELS.items()}
    runs = {}
    with open(args.from_log) as f:
        for line in f:
            m = LOG_LINE.search(line)
            if m:
                _, size, label, device, rate, repeats = m.groups()
                runs.setdefault((int(size), labels[label]), []).append(
                    {"images_per_second": float(rate), "device": device,
                     "all": [float(v) for v in repeats.split(",")]})
    if not runs:
        raise SystemExit(f"no '--torch_only' measurement lines in {args.from_log}")
    args.sizes = sorted({size for size, _ in runs})
    with open(REFERENCE) as f:
        saved = json.load(f)
    device_json = os.path.join(os.path.dirname(args.from_log), "device.json")
    probe = {}
    if os.path.exists(device_json):
        with open(device_json) as f:
            probe = json.load(f)
    payload = torch_alone_payload(runs, args, saved, (probe.get("torch_gpus") or [None])[0],
                                  None, source=args.from_log)
    return dict(payload, torch=probe.get("torch"))


def torch_alone_payload(runs, args, saved, gpu, tf32, source=None):
    """Rows (median and range over rounds per size and mode) and the protocol line."""
    rows = []
    for size in args.sizes:
        row = {"image": f"{size}x{size}x{channels(size, args)}", "image_size": size,
               "gflop_per_image": saved["gflop_per_image"].get(str(size))
               if saved["config"]["model"]["width"] == args.width else None}
        for impl in TORCH_IMPLS:
            rates = [m["images_per_second"] for m in runs.get((size, impl), [])]
            row[impl] = {"median": statistics.median(rates), "min": min(rates),
                         "max": max(rates), "rounds": runs[(size, impl)]} if rates else None
        rows.append(row)
    device = next(iter(runs.values()))[0]["device"]
    counts = sorted({len(v) for v in runs.values()})
    rounds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    protocol = (f"The PyTorch twin alone (tools/reference) on {device}"
                + (f" ({gpu})" if gpu else "")
                + f": DCGAN width {args.width}, batch {args.batch}, 1 D + 1 G update per step, "
                f"fixed in-memory batch; images/s, median over {rounds} interleaved rounds "
                f"(range in brackets) of the median of {args.repeats} timed repeats in a fresh "
                "process. bf16 = `torch.autocast` around the whole step."
                + (f" Rebuilt from the lines of `{os.path.basename(source)}`: the run was cut "
                   "off before its last measurements." if source else "")
                + ("" if importlib.util.find_spec("tensorflow") and not source else
                   " ganzoo is not in this table: TensorFlow is not installed where it ran."))
    return {"protocol": protocol, "rows": rows, "device": device, "gpu": gpu,
            "batch": args.batch, "tf32": tf32}


def torch_alone_table(section):
    """Markdown lines of a `--torch_only` section."""
    head = f"| image | {' | '.join(TORCH_LABELS.values())} | best GFLOP/s |"
    lines = [head, "|---" * (len(TORCH_IMPLS) + 2) + "|"]
    for row in section["rows"]:
        cells = [f"{row[i]['median']:.0f} ({row[i]['min']:.0f}-{row[i]['max']:.0f})"
                 if row[i] else "-" for i in TORCH_IMPLS]
        best = max(row[i]["median"] for i in TORCH_IMPLS if row[i])
        flops = f"{best * row['gflop_per_image']:.0f}" if row.get("gflop_per_image") else "-"
        lines.append(f"| {row['image']} | {' | '.join(cells)} | {flops} |")
    if section.get("tf32"):
        lines += ["", f"TF32: {section['tf32']} (PyTorch's defaults)."]
    return lines


def host_matmul_gflops(cpu):
    """`tools/machine.py`'s fp32 matmul rate of the CPU named `cpu` (None if unmeasured)."""
    path = os.path.join(TOOLS, "results", "hosts.json")
    if not cpu or not os.path.exists(path):
        return None
    with open(path) as f:
        rates = [h["matmul_fp32_gflops"] for h in json.load(f)["hosts"] if h["cpu"] == cpu]
    return rates[-1] if rates else None


def side_by_side_table(section):
    """Markdown lines of a side-by-side section: wall and CPU-time tables, load warning."""
    rows = section["rows"]
    labels = dict(LABELS, ganzoo=ganzoo_label(section))
    head = f"| image | {' | '.join(labels[i] for i in IMPLS)} | ganzoo / eager | " \
           "ganzoo / channels_last |"
    rule = "|---" * (len(IMPLS) + 3) + "|"
    lines = ["Images per second (wall clock):", "", head, rule]
    if section.get("ganzoo_default_reason"):
        head_lines = [f"ganzoo's default path on this CPU (`hardware.fast_path`): "
                      f"{section['ganzoo_default_reason']}."]
        if section.get("ganzoo_mixed_precision_reason"):
            head_lines.append(f"Its precision (`hardware.default_precision`): "
                              f"{section['ganzoo_mixed_precision']}, "
                              f"{section['ganzoo_mixed_precision_reason']}.")
        lines = [" ".join(head_lines), ""] + lines
    for row in rows:
        cells = [f"{row[i]['median']:.0f} ({row[i]['min']:.0f}-{row[i]['max']:.0f})"
                 for i in IMPLS]
        lines.append(f"| {row['image']} | {' | '.join(cells)} | {row['ratio_vs_torch']:.2f}x | "
                     f"{row['ratio_vs_torch_cl']:.2f}x |")
    lines += ["", "Images per CPU-second of the process (medians; above one thread this also "
              "counts spin-waiting):", "", head, rule]
    for row in rows:
        cells = [f"{row[i]['cpu_median']:.0f}" for i in IMPLS]
        lines.append(f"| {row['image']} | {' | '.join(cells)} | "
                     f"{row['cpu_ratio_vs_torch']:.2f}x | {row['cpu_ratio_vs_torch_cl']:.2f}x |")
    if all("gflop_per_image" in row for row in rows):
        meta = section.get("meta") or {}
        # The rate recorded with the measurement; hosts.md's current one for older sections.
        peak = meta.get("matmul_fp32_gflops") or host_matmul_gflops(meta.get("cpu"))
        lines += ["", "Achieved GFLOP/s: the step's multiply-add work (`step_gflop_per_image`: "
                  "4 generator and 8 discriminator forward passes' convolutions and matmuls "
                  "per image) times the wall-clock rates"
                  + (f"; in brackets, the share of this CPU's TensorFlow fp32 matmul rate "
                     f"({peak:.0f} GFLOP/s, tools/results/hosts.md)" if peak else "") + ":", "",
                  f"| image | GFLOP per image | {' | '.join(labels[i] for i in IMPLS)} |",
                  "|---" * (len(IMPLS) + 2) + "|"]
        for row in rows:
            rates = [row[i]["median"] * row["gflop_per_image"] for i in IMPLS]
            cells = [f"{r:.0f}" + (f" ({r / peak:.0%})" if peak else "") for r in rates]
            lines.append(f"| {row['image']} | {row['gflop_per_image']:.3f} | "
                         f"{' | '.join(cells)} |")
    loads = [m["load_1min"] for row in rows for i in IMPLS for m in row[i]["rounds"]]
    cores = section.get("cores") or os.cpu_count()
    lines += ["", f"1-min load when the measurements started: {min(loads):.1f}-{max(loads):.1f} "
              f"(median {statistics.median(loads):.1f}) on {cores} cores; the benchmark's own "
              "back-to-back measurements keep it near the thread count."]
    # Other jobs: a median load above what the benchmark itself causes.
    if statistics.median(loads) > cores + 0.5 and section.get("threads", cores) > 1:
        lines += ["", "**Not a framework comparison:** other jobs kept the cores busy. With "
                  "more than one thread, PyTorch's OpenMP threads spin-wait at barriers and "
                  "collapse under such contention (see the CPU-second table); TensorFlow's "
                  "thread pool degrades far less. Rerun on an idle machine."]
    elif max(loads) > cores + 0.5:  # the benchmark alone reaches about its thread count
        lines += ["", "Other jobs kept the cores busy: the wall-clock rates are shares of busy "
                  "cores; the CPU-second table (one thread each: work done, no spin-waiting) "
                  "is the comparison."]
    return lines


def grid_table(section):
    lines = ["| image | oneDNN | XLA (jit_compile) | images/s (median) |", "|---|---|---|---|"]
    return lines + [f"| {r['image_size']}px | {'on' if r['onednn'] else 'off'} | "
                    f"{'on' if r['jit_compile'] else 'off'} | {r['images_per_second']:.1f} |"
                    for r in section["rows"]]


def grid(args):
    """ganzoo alone: oneDNN on/off x XLA on/off."""
    rows = []
    for size in args.sizes:
        for onednn in (False, True):
            for jit in (False, True):
                result = run_worker("ganzoo", size, args, onednn=onednn, jit=jit)
                rows.append({"image_size": size, "channels": channels(size, args),
                             "width": args.width, "batch": args.batch, "jit_compile": jit,
                             "onednn": onednn, **result})
                print(f"{size}px onednn={onednn} jit={jit}: "
                      f"{result['images_per_second']:.1f} img/s", flush=True)
    protocol = f"ganzoo DCGAN width {args.width}, batch {args.batch}; median of {args.repeats}."
    return {"protocol": protocol, "rows": rows}


def precision_runs(args):
    """ganzoo's default path in each `train.mixed_precision` mode, interleaved rounds."""
    modes = args.mixed_precision
    jit, reason, _, _ = default_path(args)

    def measure(size, mode, r):
        result = run_worker("ganzoo", size, args, jit=jit, mixed_precision=mode)
        print(f"round {r} {size}px mixed_precision={mode}: "
              f"{result['images_per_second']:.1f} img/s, "
              f"{result['images_per_cpu_second']:.1f} img/cpu-s (load "
              f"{result['load_1min']:.1f}, cpu/wall {result['cpu_per_wall']})", flush=True)
        return result

    runs = interleaved(args, modes, measure)
    rows = []
    for (size, mode), results in runs.items():
        rates = [m["images_per_second"] for m in results]
        cpu = [m["images_per_cpu_second"] for m in results]
        rows.append({"image_size": size, "image": f"{size}x{size}x{channels(size, args)}",
                     "mixed_precision": mode, "median": statistics.median(rates),
                     "min": min(rates), "max": max(rates), "cpu_median": statistics.median(cpu),
                     "rounds": results})
    protocol = (f"ganzoo DCGAN width {args.width}, batch {args.batch}, default path (oneDNN "
                f"on, {'XLA' if jit else 'graph mode'}), 1 D + 1 G update per step, "
                "fixed in-memory batch; images/s, "
                f"median over {args.rounds} interleaved rounds (range in brackets) of the "
                f"median of {args.repeats} timed repeats in a fresh process; {args.threads} "
                "intra-op and inter-op threads.")
    return {"protocol": protocol, "threads": args.threads, "cores": os.cpu_count(), "rows": rows,
            "ganzoo_jit_compile": jit, "ganzoo_default_reason": reason}


def precision_table(section):
    base = {r["image_size"]: r for r in section["rows"] if r["mixed_precision"] == "off"}
    lines = ["| image | mixed_precision | images/s (median, range) | vs off | images per "
             "CPU-s | vs off |", "|---|---|---|---|---|---|"]
    for r in section["rows"]:
        ref = base.get(r["image_size"])
        wall = f"{r['median'] / ref['median']:.2f}x" if ref else "-"
        cpu = f"{r['cpu_median'] / ref['cpu_median']:.2f}x" if ref else "-"
        lines.append(f"| {r['image']} | {r['mixed_precision']} | {r['median']:.1f} "
                     f"({r['min']:.1f}-{r['max']:.1f}) | {wall} | {r['cpu_median']:.1f} | {cpu} |")
    loads = [m["load_1min"] for r in section["rows"] for m in r["rounds"]]
    return lines + ["", f"1-min load when the measurements started: {min(loads):.1f}-"
                    f"{max(loads):.1f} on {section.get('cores', os.cpu_count())} cores."]


def settings_suffix(parser, args):
    """`""` for the default settings, else `"_<setting><value>..."` naming the changed
    ones (`results_name`): a smoke run (`--sizes 16 --steps 2`) writes a section of
    its own and never replaces a table measured with the defaults."""
    default_sizes = [16, 64] if args.grid else [28, 32, 64]  # `--sizes` defaults to None
    sizes = "" if args.sizes == default_sizes else "_sizes" + "-".join(map(str, args.sizes))
    return sizes + results_name(parser, args, "", ["width", "batch", "steps", "warmup",
                                                   "repeats", "rounds", "channels"])


def machine_info():
    """CPU model, cores, load and library versions."""
    physical = set()
    try:
        with open("/proc/cpuinfo") as f:
            physical = {line.partition(":")[2].strip() for line in f if line.startswith("core id")}
    except OSError:
        pass
    versions = {}
    for package in ("tensorflow", "keras", "torch", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"cpu": machine.describe(), "logical_cores": os.cpu_count(),
            "physical_cores": len(physical) or None, "cpu_features": machine.features(),
            "machine": platform.machine(), "python": platform.python_version(), **versions,
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "load_1min_at_start": round(os.getloadavg()[0], 2)}


def write_results(section=None, payload=None, meta=None):
    """Replaces `section` in benchmark.json (if given); renders benchmark.md from all sections."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, "benchmark.json")
    results = {}
    if os.path.exists(path):
        with open(path) as f:
            results = json.load(f)
        if "rows" in results:  # the earlier grid-only format
            results = {"grid": {"meta": results.get("meta"), "rows": results["rows"],
                                "protocol": "earlier run of this tool (oneDNN x XLA grid)"}}
    if section:
        meta["load_1min_at_end"] = round(os.getloadavg()[0], 2)
        results[section] = {"meta": meta, **payload}
        with open(path, "w") as f:
            json.dump(results, f, indent=2)
    md = []
    for name in sorted(results, key=lambda n: (not n.startswith("side"), n)):
        s = results[name]
        side = name.startswith("side")
        alone = name.startswith("torch")
        where = s.get("gpu") or s.get("device")
        title = ("ganzoo vs PyTorch (same DCGAN)" if side else
                 f"The PyTorch twin alone, batch {s.get('batch')}, on {where}" if alone
                 else "ganzoo: mixed precision"
                 if name.startswith("precision") else "The two speeds: `fit` teardown"
                 if name == "trace" else "ganzoo: oneDNN x XLA")
        kind = name.split(" @ ")[0]
        if "_threads" in kind and not alone:
            title += f", {kind.split('_')[-2]} thread(s)" + (" per framework" if side else "")
        if side and s.get("ganzoo_mixed_precision", "off") != "off":
            title += f", ganzoo's default path in {s['ganzoo_mixed_precision']}"
        m = s.get("meta") or {}
        machine_line = (f"Machine: {m['gpu']}; PyTorch {m.get('torch', '?')}; {m.get('date')}."
                        if m.get("gpu") else None)
        md += [f"## {title}", "", s.get("protocol", ""), ""]
        md += [machine_line + (f" {m['note']}" if m.get("note") else ""), ""] if machine_line else [
               f"Machine: {m.get('cpu', '?')}, {m.get('logical_cores', m.get('cpu_count'))} "
               f"logical cores; TF {m.get('tensorflow')}, Keras {m.get('keras', '?')}, PyTorch "
               f"{m.get('torch', '-')}; {m.get('date')}; 1-min load "
               f"{m.get('load_1min_at_start', '?')} -> {m.get('load_1min_at_end', '?')}."
               + (f" {m['note']}" if m.get("note") else ""), ""]
        render = (side_by_side_table if side else torch_alone_table if alone else precision_table
                  if name.startswith("precision") else trace_table if name == "trace"
                  else grid_table)
        md += render(s)
        md.append("")
    with open(os.path.join(RESULTS, "benchmark.md"), "w") as f:
        f.write("\n".join(md))
    return md


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=("ganzoo", "torch", "trace"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=28, help=argparse.SUPPRESS)
    parser.add_argument("--channels_last", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="image sizes (default 28 32 64; --grid: 16 64)")
    parser.add_argument("--channels", type=int, default=0,
                        help="image channels (default: 1 up to 16 px, else 3)")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=0, help="steps per repeat (default by size)")
    parser.add_argument("--max_repeat_s", type=float, default=5.0,
                        help="a timed repeat stops after this many seconds (busy machines)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="intra-/inter-op threads of both frameworks (default: one per "
                             "logical core, TF's own default; PyTorch is set to match)")
    parser.add_argument("--max_load", type=float, default=0.0,
                        help="wait before each measurement until the 1-min load is at most "
                             "this (0: do not wait); for shared machines")
    parser.add_argument("--wait", type=float, default=120, help="longest wait, seconds")
    parser.add_argument("--jit", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--grid", action="store_true", help="oneDNN x XLA grid of ganzoo alone")
    parser.add_argument("--mixed_precision", nargs="+", choices=("off", "bf16", "fp16"),
                        help="ganzoo alone in these train.mixed_precision modes")
    parser.add_argument("--precision", default="off", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true",
                        help="fit teardown with tf.data autotuning on and off, 28 px")
    parser.add_argument("--torch_only", action="store_true",
                        help="the PyTorch twin alone (eager/channels_last x fp32/bf16) on "
                             "--device, from tools/reference/dcgan_benchmark.json: for a GPU "
                             "machine without TensorFlow")
    parser.add_argument("--device", default="cpu", help="PyTorch device of the twin (cuda)")
    parser.add_argument("--from_log", help="with --torch_only: rebuild its section from the "
                        "lines a run printed (a run cut off early), without running anything")
    parser.add_argument("--save_reference", action="store_true",
                        help="rewrite tools/reference/dcgan_benchmark.json from ganzoo")
    parser.add_argument("--render", action="store_true", help="rewrite benchmark.md from the json")
    parser.add_argument("--note", default="", help="a line about the machine, kept in the json")
    args = parser.parse_args()
    if args.worker:
        args.channels = args.channels or (1 if args.size <= 16 else 3)
        return {"ganzoo": ganzoo_worker, "torch": torch_worker, "trace": trace_worker}[
            args.worker](args)
    if args.trace:
        size = (args.sizes or [28])[0]
        result = run_worker("trace", size, args)
        payload = {"protocol": (
            f"ganzoo DCGAN width {args.width}, {size} px, batch {args.batch}, one process, "
            f"{args.repeats} rounds of two `fit` calls of {result['steps_per_fit']} steps, "
            "tf.data autotuning on then off; teardown = from `on_train_end` to `fit`'s return "
            "(Keras deletes its data iterator there)."), **result}
        write_results("trace", payload, machine_info())
        return print("\n".join(trace_table(payload)))
    if args.render:
        return print("\n".join(write_results()))
    if args.save_reference:
        with open(REFERENCE, "w") as f:
            json.dump(reference_payload(args.width, args.batch), f, indent=1, sort_keys=True)
            f.write("\n")
        return print(f"wrote {REFERENCE}")
    args.sizes = args.sizes or ([16, 64] if args.grid else [28, 32, 64])
    meta = dict(machine_info(), **({"note": args.note} if args.note else {}))
    meta["matmul_fp32_gflops"] = host_matmul_gflops(meta.get("cpu"))  # hosts.md, as measured
    if args.torch_only:
        payload = torch_alone_from_log(args) if args.from_log else torch_alone(args)
        section, table = f"torch_only_{payload['device']}_batch{args.batch}", torch_alone_table
        meta["gpu"] = payload["gpu"]
        if args.from_log:  # the machine that ran it, not this one
            meta = {"cpu": "the GPU machine's host", "gpu": payload["gpu"],
                    "torch": payload.get("torch"),
                    "date": time.strftime("%Y-%m-%d"), **({"note": args.note} if args.note else {})}
    elif args.mixed_precision:
        payload, section, table = precision_runs(args), "precision", precision_table
    elif args.grid:
        payload, section, table = grid(args), "grid", grid_table
    else:
        payload, section, table = side_by_side(args), "side_by_side", side_by_side_table
        if payload["ganzoo_mixed_precision"] != "off":  # float32 sections are kept beside it
            section += f"_{payload['ganzoo_mixed_precision']}"
    if args.threads != os.cpu_count():
        section += f"_{args.threads}_threads"
    if not args.torch_only:
        section += settings_suffix(parser, args)
    # One section per kind of CPU: a new host adds its own table.
    section += f" @ {meta['cpu']}"
    write_results(section, payload, meta)
    print("\n".join(table(payload)))


if __name__ == "__main__":
    main()
