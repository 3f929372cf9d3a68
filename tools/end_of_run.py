"""Where a run's time outside the training loop goes: set-up, last step to export.

Runs `train_lib.run` (what `python -m ganzoo.train` does) for a few steps of each
family's Fashion-MNIST config and times each phase by wrapping the functions
that do it: loading and checking the data, building and compiling the model,
the `fit` calls (the training loop with its callbacks, first-step tracing
included), the teardown of each `fit` after its last step (from `on_train_end`
to its return, where Keras deletes its data iterator), and after that:
`model.keras`, the sample grid, the SavedModel export (with its TF Serving
warmup records) and the family's end-of-run report. Each family runs in its own
process. `--autotune` feeds `fit` with tf.data autotuning on, as runs did
before `ganzoo.compat.without_autotune` (the teardown then waits out the
autotuning thread's sleep: up to 60 s).

    python tools/end_of_run.py --families dcgan,cgan --steps 20
    python tools/end_of_run.py --families dcgan --steps 400 --autotune

Writes `tools/results/end_of_run.{json,md}`.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist_table as table  # noqa: E402

RESULTS = os.path.join(table.RESULTS, "end_of_run")
PHASES = ("data", "build", "fit", "teardown", "model_keras", "sample_grid", "export", "report")


def _timed(owner, name, phase, seconds):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - start

    return owner, name, original, wrapper


def _fit_with_teardown(seconds):
    """Wraps `keras.Model.fit`: its time goes to "fit", except the time from
    `on_train_end` to its return, which goes to "teardown"."""
    import keras

    original = keras.Model.fit

    class Marker(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            self.ended = time.perf_counter()

    def wrapper(self, *args, **kwargs):
        marker, start = Marker(), time.perf_counter()
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), marker]
        try:
            return original(self, *args, **kwargs)
        finally:
            done = time.perf_counter()
            teardown = done - getattr(marker, "ended", done)
            seconds["fit"] = seconds.get("fit", 0.0) + done - start - teardown
            seconds["teardown"] = seconds.get("teardown", 0.0) + teardown

    return keras.Model, "fit", original, wrapper


def measure(family, steps, autotune=False):
    import keras

    from ganzoo import compat, data, export, images, registry, train_lib, validation

    config = train_lib.resolve_config(
        config_file=os.path.join(table.ROOT, "configs", f"{family}_fashion_mnist.yaml"),
        overrides=[f"train.steps={steps}", f"train.sample_every={steps}",
                   f"train.checkpoint_every={steps}"])
    seconds = {}
    patches = [
        _timed(data, "load", "data", seconds),
        _timed(validation, "check_dataset", "data", seconds),
        _timed(train_lib, "build_model", "build", seconds),
        _fit_with_teardown(seconds),
        _timed(keras.Model, "save", "model_keras", seconds),
        _timed(images, "write_png", "sample_grid", seconds),
        _timed(export, "export_generator", "export", seconds),
        _timed(train_lib, "_write_report", "report", seconds),
    ]
    cls = registry.get_model(family)
    patches.append(_timed(cls, "sample_grid", "sample_grid", seconds))
    if autotune:  # the pipeline as runs fed `fit` before the workaround
        patches.append((compat, "without_autotune", compat.without_autotune, lambda ds: ds))
    with contextlib.ExitStack() as stack:
        for owner, name, original, wrapper in patches:
            setattr(owner, name, wrapper)
            stack.callback(setattr, owner, name, original)
        with tempfile.TemporaryDirectory() as run:
            start = time.perf_counter()
            train_lib.run(config, os.path.join(run, "run"), verbose=0)
            total = time.perf_counter() - start
    # `fit` also saves checkpoints (`keras.Model.save`) inside the loop.
    out = {p: round(seconds.get(p, 0.0), 2) for p in PHASES}
    out["total"] = round(total, 2)
    out["other"] = round(total - sum(seconds.get(p, 0.0) for p in PHASES if p != "model_keras"), 2)
    out.update(family=family, steps=steps, autotune=autotune)
    return out


def render(rows, machine):
    lines = ["# Where a run's time goes outside the training loop", "",
             "`python tools/end_of_run.py`: each family's Fashion-MNIST config for a few steps, "
             "phases timed by wrapping the functions that do them (seconds). `fit` is the training "
             "loop with its callbacks and the first step's tracing; `teardown` is the time from "
             "the last step's end (`on_train_end`) to `fit`'s return; `model.keras` counts every "
             "`save` (checkpoints inside `fit` too); `after the loop` = teardown + model.keras + "
             "sample grid + export + report. Autotuning: how `fit` was fed (`on`: a plain tf.data "
             "pipeline, as before `compat.without_autotune`; `off`: as runs now).", "",
             "| family | steps | autotuning | data | build | fit | teardown | model.keras | "
             "sample grid | export | report | after the loop | total |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows.values():
        teardown = r.get("teardown")
        after = (teardown or 0.0) + r["model_keras"] + r["sample_grid"] + r["export"] + r["report"]
        lines.append(
            f"| {r['family']} | {r['steps']} | {'on' if r['autotune'] else 'off'} | "
            f"{r['data']:.1f} | {r['build']:.1f} | {r['fit']:.1f} | "
            f"{'-' if teardown is None else f'{teardown:.1f}'} | {r['model_keras']:.1f} | "
            f"{r['sample_grid']:.1f} | {r['export']:.1f} | {r['report']:.1f} | {after:.1f} | "
            f"{r['total']:.1f} |")
    lines.append("")
    for note in sorted({r["machine_note"] for r in rows.values()}):
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="dcgan,cgan,infogan,ssgan")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--autotune", action="store_true",
                        help="feed fit with tf.data autotuning on (the behaviour before the fix)")
    parser.add_argument("--note", default="")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(measure(args.worker, args.steps, args.autotune)))
        return
    rows = {}
    if os.path.exists(RESULTS + ".json"):
        with open(RESULTS + ".json") as f:
            rows = json.load(f)["rows"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    machine = table.machine_info()
    note = f"{machine['cpu']}, {machine['cores']} cores" + (f"; {args.note}" if args.note else "")
    for family in args.families.split(","):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", family,
               "--steps", str(args.steps)] + (["--autotune"] if args.autotune else [])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=table.ROOT)
        lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not lines:
            raise RuntimeError(f"{family} failed:\n{proc.stderr[-3000:]}")
        row = dict(json.loads(lines[-1][len("RESULT "):]), machine_note=note)
        rows[f"{family} {args.steps} autotune={'on' if args.autotune else 'off'}"] = row
        print(family, row, flush=True)
    with open(RESULTS + ".json", "w") as f:
        json.dump({"rows": rows}, f, indent=1)
    with open(RESULTS + ".md", "w") as f:
        f.write(render(rows, machine))


if __name__ == "__main__":
    main()
