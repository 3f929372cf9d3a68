"""Where a run's time outside the training loop goes: set-up, last step to export.

Runs `train_lib.run` (what `python -m ganzoo.train` does) for a few steps of each
family's Fashion-MNIST config and times each phase by wrapping the functions
that do it: loading and checking the data, building and compiling the model,
the `fit` calls (the training loop with its callbacks, first-step tracing
included), and after the last step: `model.keras`, the sample grid, the
SavedModel export (with its TF Serving warmup records) and the family's
end-of-run report. Each family runs in its own process.

    python tools/end_of_run.py --families dcgan,cgan --steps 20

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
PHASES = ("data", "build", "fit", "model_keras", "sample_grid", "export", "report")


def _timed(owner, name, phase, seconds):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - start

    return owner, name, original, wrapper


def measure(family, steps):
    import keras

    from ganzoo import data, export, images, registry, train_lib, validation

    config = train_lib.resolve_config(
        config_file=os.path.join(table.ROOT, "configs", f"{family}_fashion_mnist.yaml"),
        overrides=[f"train.steps={steps}", f"train.sample_every={steps}",
                   f"train.checkpoint_every={steps}"])
    seconds = {}
    patches = [
        _timed(data, "load", "data", seconds),
        _timed(validation, "check_dataset", "data", seconds),
        _timed(train_lib, "build_model", "build", seconds),
        _timed(keras.Model, "fit", "fit", seconds),
        _timed(keras.Model, "save", "model_keras", seconds),
        _timed(images, "write_png", "sample_grid", seconds),
        _timed(export, "export_generator", "export", seconds),
        _timed(train_lib, "_write_report", "report", seconds),
    ]
    cls = registry.get_model(family)
    patches.append(_timed(cls, "sample_grid", "sample_grid", seconds))
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
    return out


def render(rows, steps, machine):
    lines = ["# Where a run's time goes outside the training loop", "",
             f"`python tools/end_of_run.py`: each family's Fashion-MNIST config for {steps} steps, "
             "phases timed by wrapping the functions that do them (seconds). `fit` is the training "
             "loop with its callbacks and the first step's tracing; `model.keras` counts every "
             "`save` (checkpoints inside `fit` too); `after the loop` = model.keras + sample grid "
             "+ export + report.", "",
             "| family | data | build | fit | model.keras | sample grid | export | report | "
             "after the loop | total |", "|---|---|---|---|---|---|---|---|---|---|"]
    for family, r in rows.items():
        after = r["model_keras"] + r["sample_grid"] + r["export"] + r["report"]
        lines.append(f"| {family} | {r['data']:.1f} | {r['build']:.1f} | {r['fit']:.1f} | "
                     f"{r['model_keras']:.1f} | {r['sample_grid']:.1f} | {r['export']:.1f} | "
                     f"{r['report']:.1f} | {after:.1f} | {r['total']:.1f} |")
    lines += ["", f"Machine: {machine['cpu']}, {machine['cores']} cores"
              + (f"; {machine['note']}" if machine.get("note") else "")]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="dcgan,cgan,infogan,ssgan")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--note", default="")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(measure(args.worker, args.steps)))
        return
    rows = {}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for family in args.families.split(","):
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", family,
                               "--steps", str(args.steps)], env=env, capture_output=True,
                              text=True, cwd=table.ROOT)
        lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not lines:
            raise RuntimeError(f"{family} failed:\n{proc.stderr[-3000:]}")
        rows[family] = json.loads(lines[-1][len("RESULT "):])
        print(family, rows[family], flush=True)
    machine = dict(table.machine_info(), note=args.note)
    with open(RESULTS + ".json", "w") as f:
        json.dump({"steps": args.steps, "machine": machine, "rows": rows}, f, indent=1)
    with open(RESULTS + ".md", "w") as f:
        f.write(render(rows, args.steps, machine))


if __name__ == "__main__":
    main()
