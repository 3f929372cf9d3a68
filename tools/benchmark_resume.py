"""Resume cost: time to the first trained step after 1k, 10k and 100k steps (issue 18, item 3).

A resumed run starts its data at batch `step` (`data.train_pipeline(...,
skip_batches=step)`). Before commit 463fd90 that was `dataset.skip(step)` over
the whole shuffled history; now the order is a pure function of (seed,
position), so random-access data seeks at once and data of known size without
random access reads at most one epoch. The issue's target: 10k and 100k steps
within 2x of 1k. Three kinds of data, batch 64:

- `digits`: the embedded 1,437 training digits, 16x16 (in memory, random access);
- `fashion_mnist`: the 60,000 Fashion-MNIST training images, 28x28, from the
  IDX files (`/usr/share/datasets/fashion-mnist`; in memory, random access);
- `buffer`: the same Fashion-MNIST as a data set of known size *without* random
  access (the loader's `Source` dropped by an identity `map`, and
  `ganzoo.data._MAX_IN_MEMORY_BYTES = 0` so it is not copied into memory: what a
  large TFDS set gets). Each epoch is a buffer shuffle seeded by (seed, epoch);
  a resume reads the shuffle buffer plus the part of its epoch already done,
  so its cost depends on where in the epoch the step falls (`end of an epoch`:
  the worst position, the last batch before an epoch boundary). This kind
  runs with seed 1, the others with the configs' seed 0: with the global seed
  0 that `train_lib.run` sets, the buffer path fails in TensorFlow's
  `random_seed.get_seed`, which compares the per-epoch seed tensor with 0 in
  Python ("Using a symbolic `tf.Tensor` as a Python `bool`"; any other seed
  short-circuits the comparison).

Measurements, each data kind in fresh subprocesses:

1. Pipeline alone: from calling `data.train_pipeline(ds, 64, 0, skip_batches=N)`
   to its first batch, after a warm-up round; positions interleaved (forwards,
   then backwards), `--repeats` times. Beside it, the replay this replaced
   (`git show 463fd90^:ganzoo/data/__init__.py`, `_old_pipeline` below).
2. Full CLI resume: a run directory at step N, then `python -m ganzoo.train
   --config=configs/dcgan_<data>.yaml --model_dir=RUN --steps=N+50`, timed to
   the end of its first trained step from `train_lib.run`'s start and from the
   process start (which adds Python and TensorFlow imports). The run directory
   is made cheaply: a 1-step run preempted by SIGINT (`ganzoo.preemption`),
   whose checkpoint then gets both optimizers' `iterations` set to N (what
   `train_lib.run` resumes from) and is saved as `ckpt-N` by
   `run_dir.save_checkpoint`; training 100k steps would change nothing that
   a resume reads. `--cli_old` adds the same resume with the old replay
   patched in (one repeat).
3. Bit-identity: a tiny `--deterministic` DCGAN on digits (batch 16: an epoch
   is 89.8 steps) trained 100 steps straight, and 60 + 36 + 4 steps with two
   resumes (the second inside epoch 1); weights and both optimizers' slots
   compared, for `digits` and `buffer` data. `tests/test_determinism.py`
   checks the same for the CLI (6 steps), `tests/test_data_pipeline.py` that
   a resumed pipeline yields the same batches on all three paths.

The machine is shared: the 1-minute load average is recorded before each
subprocess, and the tables give the median of the repeats (every value is in
the JSON). Results: `tools/results/resume.{json,md}`.

Usage:
    python tools/benchmark_resume.py                     # everything (~35 min, 2 loaded cores)
    python tools/benchmark_resume.py --parts pipeline --repeats 5
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from results_name import results_name  # tools/ is sys.path[0] for a script

_T0 = time.time()  # before any heavy import: a CLI child's process start
TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
RESULTS = os.path.join(TOOLS, "results")
BATCH = 64
KINDS = ("digits", "fashion_mnist", "buffer")
DATA = {"digits": "digits", "fashion_mnist": "fashion_mnist", "buffer": "fashion_mnist"}
SEEDS = {"digits": 0, "fashion_mnist": 0, "buffer": 1}  # buffer: see the docstring
CONFIGS = {kind: f"configs/dcgan_{name}.yaml" for kind, name in DATA.items()}
EXTRA_STEPS = 50


# ------------------------------------------------------------------ data
def _patch_data(kind):
    """For `buffer`: every data set loads without random access and is not copied
    into memory (`ganzoo.data.load` is what the CLI calls)."""
    from ganzoo import data

    if kind != "buffer":
        return
    load = data.load
    data._MAX_IN_MEMORY_BYTES = 0

    def without_source(name, split="train", image_size=None, data_dir=None):
        ds, spec = load(name, split, image_size, data_dir)
        return ds.map(lambda x, y: (x, y)), spec  # a new dataset: no `Source`, as from TFDS

    data.load = without_source


def _old_pipeline(dataset, batch_size, seed, shuffle_buffer=10_000, skip_batches=0):
    """`data.train_pipeline` before 463fd90: a buffer shuffle, replayed by `skip`."""
    import tensorflow as tf

    card = int(dataset.cardinality())
    ds = dataset.cache() if 0 < card <= 200_000 else dataset
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat().batch(batch_size, drop_remainder=True)
    if skip_batches:
        ds = ds.skip(skip_batches)
    return ds.prefetch(tf.data.AUTOTUNE)


def end_of_epoch(position, size, batch=BATCH):
    """The step <= `position` whose first batch is the last one before an epoch ends."""
    return max(range(max(0, position - size // batch - 2), position + 1),
               key=lambda n: (n * batch) % size)


# ------------------------------------------------------------------ children
def pipeline_child(args):
    import tensorflow as tf

    from ganzoo import data

    _patch_data(args.kind)
    ds, spec = data.load(DATA[args.kind])
    seed = SEEDS[args.kind]
    tf.random.set_seed(seed)  # as `train_lib.run` does; tf.data's shuffles read it
    positions = [int(p) for p in args.positions.split(",")]
    if args.kind == "buffer":
        positions.append(end_of_epoch(positions[-1], spec.num_examples))

    def first_batch(fn, n):
        start = time.perf_counter()
        next(iter(fn(ds, BATCH, seed, skip_batches=n)))
        return time.perf_counter() - start

    for n in positions:  # a warm-up round: graph building, the first reads
        first_batch(data.train_pipeline, n)
    new = {n: [] for n in positions}
    for i in range(args.repeats):  # forwards, then backwards: drifting load hits all alike
        for n in (positions if i % 2 == 0 else positions[::-1]):
            new[n].append(first_batch(data.train_pipeline, n))
    old = {}
    if args.kind != "buffer":  # the old pipeline ignores random access: buffer = fashion_mnist
        first_batch(_old_pipeline, 0)
        for n in positions:
            repeats = args.old_repeats if n <= args.old_repeat_below else 1
            old[n] = [first_batch(_old_pipeline, n) for _ in range(repeats)]
    return {"examples": spec.num_examples, "shape": list(spec.shape), "new": new, "old": old,
            "worst_position": positions[-1] if args.kind == "buffer" else None}


def prepare_child(args):
    """Run directories at each position: a 1-step run stopped by SIGINT, then fast-forwarded."""
    import signal

    import keras

    from ganzoo import preemption, run_dir, train_lib

    class SignalAtFirstStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            os.kill(os.getpid(), signal.SIGINT)

    _patch_data(args.kind)
    base = os.path.join(args.root, "base")
    config = train_lib.resolve_config(config_file=CONFIGS[args.kind], **{
        "train.steps": 2, "train.seed": SEEDS[args.kind]})
    try:
        train_lib.run(config, base, verbose=0, extra_callbacks=[SignalAtFirstStep()])
    except preemption.Preempted as e:
        checkpoint = e.checkpoint
    else:
        raise RuntimeError("the 1-step run was not stopped by its SIGINT")
    made = {}
    for n in (int(p) for p in args.positions.split(",")):
        gan = keras.models.load_model(checkpoint)
        gan.g_optimizer.iterations.assign(n)
        gan.d_optimizer.iterations.assign(n * config.train.d_steps)
        target = os.path.join(args.root, f"step{n}")
        shutil.copytree(base, target, ignore=shutil.ignore_patterns("checkpoints"))
        made[n] = run_dir.save_checkpoint(gan, os.path.join(target, "checkpoints"), n, keep=1)
    return {"runs": made}


def cli_child(args):
    """`python -m ganzoo.train` resuming `--model_dir`; exits after its first trained step."""
    import keras

    from ganzoo import data, train, train_lib

    stamps = {"process_start": _T0}

    class FirstStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps["first_step_end"] = time.time()
            stamps["step"] = int(self.model.g_optimizer.iterations.numpy())
            print("RESULT " + json.dumps(stamps), flush=True)
            os._exit(0)  # the rest of the run is not measured

    _patch_data(args.kind)
    if args.old:
        data.train_pipeline = _old_pipeline
    pipeline, run = data.train_pipeline, train_lib.run

    def timed_pipeline(*a, **kw):
        stamps["pipeline_call"] = time.time()
        return pipeline(*a, **kw)

    def timed_run(config, model_dir, **kw):
        stamps["run_start"] = time.time()
        return run(config, model_dir, extra_callbacks=[FirstStep()])

    data.train_pipeline, train_lib.run = timed_pipeline, timed_run
    steps = int(args.position) + EXTRA_STEPS
    sys.argv = ["ganzoo.train", f"--config={CONFIGS[args.kind]}", f"--model_dir={args.model_dir}",
                f"--steps={steps}", f"--seed={SEEDS[args.kind]}"]
    train.run()
    raise RuntimeError("the run ended before its first step")


# A checkpoint every 4 steps, so each invocation resumes from where the last one ended
# (a completed run's last step is in model.keras, not always in a checkpoint).
_DETERMINISM_TINY = ["model.width=8", "model.latent_dim=8", "train.batch_size=16",
                     "train.steps_per_epoch=4", "train.sample_every=1000",
                     "train.checkpoint_every=4", "train.jit_compile=false"]
_DETERMINISM_STEPS = (60, 96, 100)  # digits: 1,437 / 16 = 89.8 steps an epoch


def determinism_child(args):
    import keras
    import numpy as np

    import ganzoo
    from ganzoo import train_lib

    _patch_data(args.kind)  # `buffer`: digits without random access

    def go(name, steps):
        config = train_lib.resolve_config("dcgan", overrides=_DETERMINISM_TINY, **{
            "train.steps": steps, "train.deterministic": True, "data.name": "digits",
            "train.seed": SEEDS[args.kind]})
        train_lib.run(config, os.path.join(args.root, name), verbose=0)

    def state(name):
        gan = ganzoo.load_gan(os.path.join(args.root, name, "model.keras"))
        return [keras.ops.convert_to_numpy(v) for v in
                (*gan.weights, *gan.d_optimizer.variables, *gan.g_optimizer.variables)]

    go("straight", _DETERMINISM_STEPS[-1])
    for steps in _DETERMINISM_STEPS:
        go("resumed", steps)
    a, b = state("straight"), state("resumed")
    diffs = [float(np.max(np.abs(x.astype(np.float64) - y))) if x.size else 0.0
             for x, y in zip(a, b, strict=True)]
    with open(os.path.join(args.root, "resumed", "run.json")) as f:
        resumed_from = [h.get("resumed_from_step") for h in json.load(f)["history"]]
    return {"variables": len(a), "max_abs_difference": max(diffs),
            "bit_identical": all(np.array_equal(x, y) for x, y in zip(a, b)),
            "resumed_from_steps": resumed_from, "steps": _DETERMINISM_STEPS,
            "epoch_steps": 1437 / 16}


# ------------------------------------------------------------------ driver
def _child(argv, timeout=1800):
    load = os.getloadavg()[0]
    start = time.time()
    out = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True,
                         timeout=timeout, cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"{argv} failed ({out.returncode}):\n{out.stdout[-2000:]}\n"
                           f"{out.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    result["load_average_1min"] = load
    result["parent_start"] = start
    return result


def _stats(values):
    values = [float(v) for v in values]
    return {"median": statistics.median(values), "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values),
            "all": values}


def measure_pipelines(args):
    out = {}
    for kind in KINDS:
        r = _child(["--child", "pipeline", "--kind", kind, "--positions", args.positions,
                    "--repeats", str(args.repeats), "--old_repeats", str(args.old_repeats),
                    "--old_repeat_below", str(args.old_repeat_below)])
        out[kind] = {"examples": r["examples"], "shape": r["shape"],
                     "worst_position": r["worst_position"],
                     "load_average_1min": r["load_average_1min"],
                     "new": {n: _stats(v) for n, v in r["new"].items()},
                     "old": {n: _stats(v) for n, v in r["old"].items()}}
        print("pipeline", kind, {n: round(s["median"], 3) for n, s in out[kind]["new"].items()},
              "old", {n: round(s["median"], 3) for n, s in out[kind]["old"].items()}, flush=True)
    return out


def measure_cli(args):
    root = tempfile.mkdtemp(prefix="ganzoo_resume_")
    positions = [int(p) for p in args.positions.split(",")]
    out = {}
    try:
        for kind in KINDS:
            _child(["--child", "prepare", "--kind", kind, "--root", os.path.join(root, kind),
                    "--positions", args.positions])
        plan = [(kind, n, False) for i in range(args.cli_repeats) for kind in KINDS
                for n in (positions if i % 2 == 0 else positions[::-1])]
        if args.cli_old:
            plan += [(kind, n, True) for kind in ("digits", "fashion_mnist") for n in positions]
        rows = []
        for i, (kind, n, old) in enumerate(plan):
            template = os.path.join(root, kind, f"step{n}")
            run = os.path.join(root, f"run{i}")
            shutil.copytree(template, run)
            r = _child(["--child", "cli", "--kind", kind, "--model_dir", run, "--position", str(n),
                        *(["--old"] if old else [])])
            shutil.rmtree(run, ignore_errors=True)
            if r["step"] != n + 1:
                raise RuntimeError(f"{kind} resumed at step {r['step'] - 1}, not {n}")
            row = {"kind": kind, "position": n, "old": old,
                   "run_to_first_step_s": r["first_step_end"] - r["run_start"],
                   "pipeline_to_first_step_s": r["first_step_end"] - r["pipeline_call"],
                   "process_to_first_step_s": r["first_step_end"] - r["parent_start"],
                   "load_average_1min": r["load_average_1min"]}
            rows.append(row)
            print("cli", {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()},
                  flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for kind in KINDS:
        for old in (False, True):
            for n in positions:
                picked = [r for r in rows if (r["kind"], r["position"], r["old"]) == (kind, n, old)]
                if picked:
                    out.setdefault(("old/" if old else "") + kind, {})[str(n)] = {
                        key: _stats([r[key] for r in picked]) for key in
                        ("run_to_first_step_s", "pipeline_to_first_step_s",
                         "process_to_first_step_s", "load_average_1min")}
    return {"rows": rows, "summary": out}


def measure_determinism():
    out = {}
    for kind in ("digits", "buffer"):
        root = tempfile.mkdtemp(prefix="ganzoo_resume_det_")
        try:
            out[kind] = _child(["--child", "determinism", "--kind", kind, "--root", root])
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print("determinism", kind, out[kind], flush=True)
    return out


# ------------------------------------------------------------------ report
_PATHS = {"digits": "random access (in memory)", "fashion_mnist": "random access (in memory)",
          "buffer": "known size, no random access (buffer)"}


def _cell(s, digits=3):
    """Median [min-max]: under other jobs' load a few repeats run slow, so the
    median, not the mean, is the typical value (mean and std are in the JSON)."""
    if s is None:
        return "-"
    if s["n"] == 1:
        return f"{s['median']:.{digits}f}"
    return f"{s['median']:.{digits}f} [{min(s['all']):.{digits}f}-{max(s['all']):.{digits}f}]"


def _ratio(table, n, base):
    if n not in table or base not in table:
        return "-"
    return f"{table[n]['median'] / table[base]['median']:.2f}x"


def write(args, results):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "tensorflow": tf.__version__,
            "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "machine": platform.machine(), "git_head": commit, "batch": BATCH, "seeds": SEEDS,
            "positions": args.positions, "repeats": args.repeats, "cli_repeats": args.cli_repeats,
            "old_repeat_below": args.old_repeat_below, "old_repeats": args.old_repeats,
            "load_average_at_end": list(os.getloadavg()),
            "note": "shared machine: other engineers' jobs ran at the same time (see the "
                    "per-measurement 1-minute load averages)"}
    path = os.path.join(RESULTS, args.results_name + ".json")
    previous = {}
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
    merged = {**previous, **results, "meta": {**previous.get("meta", {}), **meta}}
    os.makedirs(RESULTS, exist_ok=True)
    with open(path, "w") as f:
        json.dump(merged, f, indent=1)
    with open(os.path.join(RESULTS, args.results_name + ".md"), "w") as f:
        f.write(markdown(merged))


def markdown(r):
    meta = r["meta"]
    pos = meta["positions"].split(",")
    base = pos[0]
    k = lambda n: f"{int(n) // 1000}k" if int(n) % 1000 == 0 else f"{int(n):,}"  # noqa: E731
    lines = [
        "# Resume cost: time to the first trained step",
        "",
        f"`python tools/benchmark_resume.py`, {meta['date']}, {meta['cpu_count']} CPU cores "
        f"**shared with other engineers' jobs** (1-minute load averages below; "
        f"{meta['load_average_at_end'][0]:.1f} at the end), TF {meta['tensorflow']}, "
        f"Python {meta['python']}, ganzoo at {meta['git_head']} plus the working tree. "
        f"Batch {meta['batch']}, seed 0 (buffer: 1, see below); positions are steps already "
        "done (= batches "
        "skipped). Sections can come from separate runs (`--parts`); the date and commit "
        "are the latest run's. Seconds: median [min-max] of the repeats; ratios of medians. "
        "`before`: "
        "`dataset.skip(n)` replay of the "
        "pipeline before 463fd90. Target (issue 18): 10k and 100k within 2x of 1k.",
        "",
        "Known problem: the buffer path (known size, no random access: e.g. a TFDS set "
        "over 2 GB) fails when the global seed is 0, the configs' default, which "
        "`train_lib.run` sets: TensorFlow's `random_seed.get_seed` compares the per-epoch "
        "shuffle seed tensor of `data.batched_stream` with 0 in Python (\"Using a symbolic "
        "`tf.Tensor` as a Python `bool` is not allowed\"). The `buffer` rows therefore use "
        "seed 1; the cost does not depend on the seed.",
        "",
    ]
    if "pipeline" in r:
        lines += [
            f"## Pipeline alone: `data.train_pipeline(..., skip_batches=N)` to its first batch "
            f"({meta['repeats']} repeats after a warm-up round; `before`: "
            f"{meta.get('old_repeats', 3)} repeats, beyond {k(meta['old_repeat_below'])} 1 run)",
            "",
            "| data | path | " + " | ".join(k(n) for n in pos) + " | "
            + " | ".join(f"{k(n)} / {k(base)}" for n in pos[1:]) + " | "
            + " | ".join(f"before {k(n)}" for n in pos) + " | load avg |",
            "|---|---|" + "---|" * (3 * len(pos) - 1) + "---|",
        ]
        for kind, row in r["pipeline"].items():
            old = row["old"] or r["pipeline"].get("fashion_mnist", {}).get("old", {})
            name = f"{kind} ({row['examples']:,} x {'x'.join(map(str, row['shape']))})"
            lines.append(
                f"| {name} | {_PATHS[kind]} | " + " | ".join(_cell(row["new"].get(n)) for n in pos)
                + " | " + " | ".join(_ratio(row["new"], n, base) for n in pos[1:]) + " | "
                + " | ".join(_cell(old.get(n), 2) + ("" if row["old"] else " †")
                             for n in pos) + f" | {row['load_average_1min']:.1f} |")
        buffer = r["pipeline"].get("buffer")
        if buffer:
            lines += ["", "† The old pipeline never used random access: for `buffer` it is the "
                      "same code on the same data as the fashion_mnist row."]
        if buffer:
            into = ", ".join(f"{k(n)}: {int(n) * meta['batch'] % buffer['examples']:,}"
                             for n in pos)
            lines += ["", f"`buffer` positions inside their epoch (examples read before the "
                      f"first batch, after filling the buffer): {into}."]
        if buffer and buffer.get("worst_position"):
            w = str(buffer["worst_position"])
            done = int(w) * meta["batch"] % buffer["examples"]
            lines += ["", f"`buffer` at the worst position, step {int(w):,} (the first batch "
                      f"crosses an epoch boundary: {done:,} of the epoch's "
                      f"{buffer['examples']:,} examples are read first): "
                      f"{_cell(buffer['new'][w])} s, "
                      f"{_ratio(buffer['new'], w, base)} of {k(base)}. "
                      "The buffer path's cost is set by the position inside the epoch (plus "
                      "filling the 10,000-example buffer), never by the step count: at most "
                      "one epoch's read."]
        lines.append("")
    if "cli" in r:
        s = r["cli"]["summary"]
        lines += [
            f"## Full CLI resume: `python -m ganzoo.train --config=configs/dcgan_<data>.yaml "
            f"--model_dir=RUN --steps=N+{EXTRA_STEPS}` of a run directory at step N",
            "",
            f"Until the end of the first trained step (which includes tracing `train_step`), "
            f"{meta['cli_repeats']} repeats (`before`: 1). From `train_lib.run`'s start (data "
            "load and checks, checkpoint load, pipeline, first step), and from the process "
            "start (adds Python and TensorFlow imports). `buffer`: Fashion-MNIST run "
            "directories of seed 1 resumed with the loader's random access removed.",
            "",
            "| data | path | " + " | ".join(f"run {k(n)}" for n in pos) + " | "
            + " | ".join(f"{k(n)} / {k(base)}" for n in pos[1:]) + " | "
            + " | ".join(f"process {k(n)}" for n in pos) + " | "
            + " | ".join(f"before: run {k(n)}" for n in pos) + " | load avg |",
            "|---|---|" + "---|" * (4 * len(pos) - 1) + "---|",
        ]
        for kind in KINDS:
            if kind not in s:
                continue
            run = {n: v["run_to_first_step_s"] for n, v in s[kind].items()}
            proc = {n: v["process_to_first_step_s"] for n, v in s[kind].items()}
            old = {n: v["run_to_first_step_s"] for n, v in s.get("old/" + kind, {}).items()}
            loads = [v["load_average_1min"]["mean"] for v in s[kind].values()]
            lines.append(
                f"| {kind} | {_PATHS[kind]} | " + " | ".join(_cell(run.get(n), 2) for n in pos)
                + " | " + " | ".join(_ratio(run, n, base) for n in pos[1:]) + " | "
                + " | ".join(_cell(proc.get(n), 1) for n in pos) + " | "
                + " | ".join(_cell(old.get(n), 1) for n in pos)
                + f" | {min(loads):.1f}" + (f"-{max(loads):.1f} |" if max(loads) - min(loads)
                                           >= 0.05 else " |"))
        lines.append("")
    if "determinism" in r:
        lines += [
            "## A resumed run is bit-identical to an uninterrupted one (`--deterministic`)",
            "",
            "Tiny DCGAN (width 8, batch 16) on digits: 100 steps straight vs the same 100 "
            "steps in three invocations of `train_lib.run` on one run directory, resumed at "
            "the steps in the table (an epoch is 89.8 steps: the first resume is inside "
            "epoch 0, the second inside epoch 1). Compared: every weight "
            "and both optimizers' variables of `model.keras`. The CLI path is "
            "`tests/test_determinism.py` (6 steps, one resume); batch-level resume equality on "
            "all three data paths is `tests/test_data_pipeline.py::"
            "test_resume_continues_the_same_order_across_epochs`.",
            "",
            "| data | path | invocations resumed from | variables | max abs difference | "
            "bit-identical |",
            "|---|---|---|---|---|---|",
        ]
        for kind, d in r["determinism"].items():
            lines.append(f"| digits | {_PATHS[kind]} | {d['resumed_from_steps']} | "
                         f"{d['variables']} | {d['max_abs_difference']:g} | "
                         f"{'yes' if d['bit_identical'] else 'NO'} |")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", default=["pipeline", "cli", "determinism"],
                        choices=["pipeline", "cli", "determinism"])
    parser.add_argument("--positions", default="1000,10000,100000",
                        help="Steps already done, comma-separated; the first is the base.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--old_repeats", type=int, default=3)
    parser.add_argument("--old_repeat_below", type=int, default=10_000,
                        help="The old replay repeats only up to this position (else once).")
    parser.add_argument("--cli_repeats", type=int, default=3)
    parser.add_argument("--cli_old", action=argparse.BooleanOptionalAction, default=True,
                        help="Also time the CLI resume with the old replay (one repeat).")
    parser.add_argument("--child", choices=["pipeline", "prepare", "cli", "determinism"],
                        help=argparse.SUPPRESS)
    for name in ("--kind", "--root", "--model_dir", "--position"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--old", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.results_name = results_name(parser, args, "resume", [
        "parts", "positions", "repeats", "old_repeats", "old_repeat_below", "cli_repeats",
        "cli_old"])
    if args.child:
        result = {"pipeline": pipeline_child, "prepare": prepare_child, "cli": cli_child,
                  "determinism": determinism_child}[args.child](args)
        print("RESULT " + json.dumps(result), flush=True)
        return
    results = {}
    if "pipeline" in args.parts:
        results["pipeline"] = measure_pipelines(args)
    if "cli" in args.parts:
        results["cli"] = measure_cli(args)
    if "determinism" in args.parts:
        results["determinism"] = measure_determinism()
    write(args, results)
    print(open(os.path.join(RESULTS, "resume.md")).read())


if __name__ == "__main__":
    main()
