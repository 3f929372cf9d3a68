"""Everything `python -m ganzoo.train` does, as functions tests can call.

A run directory holds:
    config.yaml          the resolved config (repeat the run with --config)
    run.json             versions, command line, host; `history` of every invocation
    .lock                pid/host of the process training here (`ganzoo.run_dir`)
    guard.json           divergence-guard events and rollbacks (`ganzoo.guard`)
    checkpoints/         ckpt-XXXXXXXX.keras (weights + both optimizers + step),
                         index.json, best.keras (with train.best_metric)
    samples/             step_XXXXXXXX.png grids from fixed noise
    logs/                TensorBoard scalars and sample images
    model.keras          the final model
    saved_model/1/       the exported generator (TF Serving layout)
    report.json          the family's end-of-run measurements; `skipped` lists
                         those the data could not support, with the reason
Running again with the same directory resumes from the newest checkpoint.
`model_dir` may be on any TensorFlow file system (`gs://...`; tested on `ram://`):
every file goes through `tf.io.gfile` (`ganzoo.files`).

SIGTERM or SIGINT (`ganzoo.preemption`) stops the run after the current step,
saves a checkpoint there, records the signal in run.json (`ended`) and raises
`preemption.Preempted`; the CLI exits with status 75. A second signal kills at once.
"""

import os
import sys
import time

import keras
import tensorflow as tf
from absl import logging

from ganzoo import (
    callbacks,
    compat,
    data,
    distribute,
    export,
    files,
    finetune,
    hardware,
    loading,
    precision,
    preemption,
    preset_dirs,
    run_dir,
    run_lock,
    tasks,
    validation,
)
from ganzoo import config as config_lib
from ganzoo import guard as guard_lib
from ganzoo import images as images_lib
from ganzoo.errors import warn
from ganzoo.registry import get_model
from ganzoo.run_config import (  # noqa: F401  (public here: train_lib's entry points)
    resolve_config,
    set_steps_from_epochs,
)

# Config keys that may change when a run is resumed (they do not change the model). The
# strategy and device count among them: N replicas make the same update as one device on
# the same global batch (tests/test_distribute.py), so a run may resume on other hardware.
_RESUMABLE_KEYS = (
    "train.steps", "train.steps_per_epoch", "train.sample_every", "train.checkpoint_every",
    "train.keep_checkpoints", "train.jit_compile", "data.data_dir", "train.best_metric",
    "train.best_mode", "train.strategy", "train.num_cpu_devices",
    *(f"train.guard.{k}" for k in config_lib.GuardConfig.__dataclass_fields__),
)


def run(config, model_dir, verbose="auto", extra_callbacks=()):
    """Trains (or resumes) a run and writes everything into `model_dir`.

    Args:
        config: `ExperimentConfig`.
        model_dir: str. The run directory; an existing run there is resumed.
        verbose: Keras `fit` verbosity ("auto" shows a progress bar).
        extra_callbacks: more Keras callbacks.

    Returns:
        dict with `model_dir`, `steps`, `metrics` (last logged values), `report`,
        `seconds`, `model` and `chief` (False on a multi-worker run's other workers,
        which wrote only a scratch copy of the run directory, since removed).

    Raises:
        ConfigError: the config, or the data for this model family
            (`Task.data_requirements`), is wrong; the run directory is untouched.
        preemption.Preempted: SIGTERM/SIGINT arrived; the run saved a checkpoint
            at the step it stopped after (rerun to resume).

    Example:

    >>> config = resolve_config("dcgan", **{"train.steps": 200})
    >>> result = run(config, "runs/dcgan")
    """
    t = config.train
    if verbose == "auto":
        # A progress bar on a terminal, one line per epoch in logs and CI.
        verbose = 1 if sys.stdout.isatty() else 2
    if t.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.get_strategy(t.strategy, t.num_cpu_devices)
    distribute.check_batch_size(t.batch_size, strategy)
    # Load the data before touching the run directory: a data error costs nothing.
    dataset, spec = _training_data(config)
    # The family's pipeline, callbacks and report for this run (`ganzoo.tasks`).
    task = tasks.get_task(config.model.name)
    skipped = validation.check_requirements(task, config, spec, dataset)
    # Only the chief writes the run directory; other workers write a scratch copy.
    shared_dir, model_dir = model_dir, distribute.worker_dir(strategy, model_dir)
    # Read-only checks first; nothing in the run directory changes until they pass.
    _prepare_run_dir(config, model_dir, write=False)
    _check_init_from(t.init_from, model_dir)
    speed = _speed(strategy, task, config)
    jit = speed["jit_compile"]
    ckpt_dir = os.path.join(model_dir, "checkpoints")
    with strategy.scope():
        gan, resumed, corrupt = _resume_or_build(config, spec, model_dir, ckpt_dir, speed)
    resumed_step = int(gan.g_optimizer.iterations.numpy()) if resumed else 0
    validation.check_best_metric(t.best_metric, gan)
    lock = run_lock.RunLock(model_dir).acquire()
    # Warnings once nothing can refuse the run (a refused run prints only its error).
    for message in _warnings(config, spec, strategy, skipped):
        warn(message)
    # From here on, SIGTERM/SIGINT stops after the current step and saves it (ganzoo.preemption).
    with preemption.SignalWatcher() as watcher:
        run_dir.quarantine(corrupt)
        run_dir.remove_temporary_files(ckpt_dir)
        _prepare_run_dir(config, model_dir, resumed_step=resumed_step, speed=speed)
        writer = tf.summary.create_file_writer(os.path.join(model_dir, "logs"))
        guard = guard_lib.DivergenceGuard(t.guard, model_dir, writer, loss=t.loss)
        if resumed:
            guard.resume_rates(gan)
        checkpoint = run_dir.Checkpoint(model_dir, t.checkpoint_every, t.keep_checkpoints,
                                        t.best_metric, t.best_mode, guard=guard)
        stopper = preemption.StopOnSignal(watcher, strategy)
        cbs = [
            guard,
            callbacks.Scalars(writer),
            callbacks.SampleGrid(model_dir, t.sample_every, writer, seed=t.seed),
            checkpoint,
            *task.callbacks(gan, config, spec, model_dir, writer),
            *extra_callbacks,
            stopper,
        ]
        start = time.time()
        metrics = {}
        spe = min(t.steps_per_epoch, t.steps)
        # Whole epochs of `spe` steps, then one shorter epoch for the remainder; each
        # segment's pipeline skips the batches already seen, so data order continues.
        while (step := int(gan.g_optimizer.iterations.numpy())) < t.steps:
            epochs, steps_per_epoch = t.steps // spe, spe
            if t.steps - step < spe or step % spe:
                epochs, steps_per_epoch = 1, min(t.steps - step, spe - step % spe)
            pipeline = fit_pipeline(task, dataset, spec, config, strategy, skip_batches=step)
            # shuffle=False: the pipeline shuffles (per-epoch permutations); Keras would only
            # warn on every run that it ignores shuffle=True for a tf.data.Dataset.
            history = gan.fit(pipeline, epochs=epochs, initial_epoch=min(step // spe, epochs - 1),
                              steps_per_epoch=steps_per_epoch, callbacks=cbs, verbose=verbose,
                              shuffle=False)
            if guard.tripped:  # stop: raises; rollback: continues from the last good checkpoint
                gan = guard.recover(gan, ckpt_dir, strategy, jit)
            else:
                metrics = {k: float(v[-1]) for k, v in history.history.items()}
            if stopper.stopped_at is not None:
                _preempted(gan, checkpoint, watcher, writer, lock, shared_dir, model_dir)
        finish_run(gan, model_dir, seed=t.seed)
        step = int(gan.g_optimizer.iterations.numpy())
        if watcher.received:  # after the last step's check: skip the optional report
            _preempted(gan, checkpoint, watcher, writer, lock, shared_dir, model_dir)
        report = _write_report(task, gan, config, spec, model_dir, writer)
        run_dir.update_run_json(model_dir, {"ended": {"reason": "completed", "step": step,
                                                      "time": _now()}})
        lock.release()
        distribute.remove_worker_dir(shared_dir, model_dir)
        return {"model_dir": shared_dir, "steps": step, "resumed_from": resumed_step,
                "metrics": metrics, "report": report,
                "seconds": time.time() - start, "model": gan, "chief": model_dir == shared_dir}


def _training_data(config):
    """The training split as the config selects it (classes, examples), checked."""
    dataset, spec = data.load(config.data.name, "train", config.data.image_size,
                              config.data.data_dir)
    dataset, spec = data.select_classes(dataset, spec, config.data.classes)
    dataset, spec = data.select_examples(dataset, spec, config.data.max_examples)
    validation.check_dataset(dataset, spec)
    return dataset, spec


def _speed(strategy, task, config):
    """XLA and precision for this run, each with its reason (run.json's `"speed"`)."""
    t = config.train
    jit, jit_reason = hardware.fast_path(strategy, task, config)
    if t.jit_compile is not None:
        jit, jit_reason = t.jit_compile, "set by train.jit_compile"
    mode, mode_reason = hardware.default_precision(strategy, task, config)
    if t.mixed_precision != precision.AUTO:
        mode, mode_reason = t.mixed_precision, "set by train.mixed_precision"
    return {"jit_compile": bool(jit), "jit_compile_reason": jit_reason,
            "mixed_precision": mode, "mixed_precision_reason": mode_reason}


def _resume_or_build(config, spec, model_dir, ckpt_dir, speed):
    """`(gan, resumed checkpoint or None, corrupt checkpoints)`: the run's newest good
    checkpoint, else a new compiled model (from `train.init_from` when set). Under the
    strategy's scope. A resumed run's precision replaces `speed`'s (its layers keep it).

    Raises:
        ConfigError: the run is past `train.steps`; nothing was written.
    """
    t = config.train
    # Resumed runs too: tf.data's shuffle order depends on the global seed.
    keras.utils.set_random_seed(t.seed)
    gan, resumed, corrupt = run_dir.load_latest(run_dir.list_checkpoints(ckpt_dir),
                                                speed["jit_compile"])
    if resumed:
        step = int(gan.g_optimizer.iterations.numpy())
        if step > t.steps:
            raise config_lib.ConfigError(
                f"{model_dir} is at step {step}, past train.steps={t.steps}: --steps "
                f"is the run's total, not steps more. Pass --steps={step + t.steps} "
                f"for {t.steps} more, or a new --model_dir to train from scratch.")
        print(f"Resuming from {resumed} (step {step})")
        mode, reason = _resumed_precision(gan, t.mixed_precision, model_dir)
        speed.update(mixed_precision=mode, mixed_precision_reason=reason)
        return gan, resumed, corrupt
    keras.utils.set_random_seed(t.seed)
    # Layers keep the policy (checkpoints load with it); the global one is restored.
    with precision.policy_scope(speed["mixed_precision"]):
        gan = build_model(config, spec)
    if t.init_from:
        step = finetune.initialize_from(gan, t.init_from)
        print(f"Initialized from {t.init_from}" + ("" if step is None else f" (its step {step})"))
    gan.compile(d_optimizer=make_optimizer(t.d_optimizer),
                g_optimizer=make_optimizer(t.g_optimizer), loss=t.loss,
                label_smoothing=t.label_smoothing, jit_compile=speed["jit_compile"])
    if t.freeze_d_blocks or t.learning_rate_scale != 1.0:
        finetune.prepare(gan, t.freeze_d_blocks, t.learning_rate_scale)
    return gan, resumed, corrupt


def _warnings(config, spec, strategy, skipped):
    """What the user should know about a run that trains, said once nothing can refuse it."""
    t = config.train
    messages = validation.skipped_warnings(config.model.name, skipped)
    if t.strategy == "mirrored" and strategy.num_replicas_in_sync == 1:
        messages.append("train.strategy 'mirrored' found one device, so the run has one "
                        "replica; on a CPU, --num_cpu_devices=N splits it into N.")
    per_step = t.batch_size * t.d_steps
    if spec.num_examples and per_step > spec.num_examples:
        messages.append(f"a step draws {per_step} examples but {config.data.name!r} has "
                        f"{spec.num_examples}, so every step repeats examples; a "
                        f"train.batch_size of at most {spec.num_examples // t.d_steps} "
                        "avoids it.")
    return messages


def fit_pipeline(task, dataset, spec, config, strategy, skip_batches=0):
    """The dataset a run's `fit` reads: the task's pipeline, sharded for several
    workers (`distribute.distribute_options`), tf.data autotuning off so that
    `fit` returns as soon as its last step is done (`compat.without_autotune`)."""
    pipeline = task.make_pipeline(dataset, spec, config, skip_batches=skip_batches)
    return compat.without_autotune(distribute.distribute_options(pipeline, strategy))


def _preempted(gan, checkpoint, watcher, writer, lock, shared_dir, model_dir):
    """Saves the current step (unless saved already), records why, unlocks, raises `Preempted`."""
    step = int(gan.g_optimizer.iterations.numpy())
    path = checkpoint.save_now(gan)
    if path and model_dir != shared_dir:  # a non-chief worker: name the chief's copy
        path = os.path.join(shared_dir, "checkpoints", os.path.basename(path))
    # A worker that was not signalled itself stops because another one was.
    reason = watcher.received or "a signal to another worker"
    waited = time.time() - watcher.received_at if watcher.received_at else None
    run_dir.update_run_json(model_dir, {"ended": {
        "reason": "preempted", "signal": reason, "step": step, "checkpoint": path,
        "time": _now(), "seconds_after_signal": waited}})
    writer.flush()
    lock.release()
    distribute.remove_worker_dir(shared_dir, model_dir)
    raise preemption.Preempted(reason, step, path, shared_dir)


def _write_report(task, gan, config, spec, model_dir, writer):
    """`task.report` into report.json and TensorBoard; a failing report only warns.

    The model is trained and saved by now, so no measurement may turn the run
    into an error: one that raises is recorded under `skipped` instead (as
    "run_report", the name report.json has always used for it).
    """
    try:
        report = task.report(gan, config, spec)
    except Exception as e:  # noqa: BLE001 (any failure of an optional measurement)
        logging.exception("The end-of-run report failed")
        report = {"skipped": {"run_report": f"{type(e).__name__}: {e}"}}
    for name, reason in (report or {}).get("skipped", {}).items():
        message = f"report.json: {name} skipped ({reason})"
        warn(message)
    if report:
        files.write_json(os.path.join(model_dir, "report.json"), report, default=float)
        with writer.as_default(step=int(gan.g_optimizer.iterations.numpy())):
            for key, value in report.items():
                if isinstance(value, (int, float)):
                    tf.summary.scalar(f"report/{key}", value)
        writer.flush()
    return report


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _check_init_from(init_from, model_dir):
    """Refuses to fine-tune into the source itself: the source is never written."""
    if not init_from:
        return
    source, target = (os.path.realpath(p) if files.is_local(p) else p.rstrip("/")
                      for p in (preset_dirs.preset_dir(init_from), model_dir))
    if files.isfile(source):
        source = os.path.dirname(source)
    if target == source or target.startswith(source + os.sep):
        raise config_lib.ConfigError(
            f"--model_dir={model_dir} is inside --init_from={init_from}; a fine-tuning run "
            "needs its own new run directory (the source is never modified).")


def build_model(config, spec):
    """Builds an uncompiled model of `config.model.name` for data described by `spec`."""
    cls = get_model(config.model.name)
    return cls.from_data_spec(spec, config.model, seed=config.train.seed,
                              d_steps=config.train.d_steps, ema_decay=config.train.ema_decay,
                              ema_start=config.train.ema_start,
                              diffaugment=config.train.diffaugment,
                              diffaugment_probability=config.train.diffaugment_probability)


def make_optimizer(opt):
    """A Keras optimizer from an `OptimizerConfig`."""
    kwargs = {"learning_rate": opt.learning_rate}
    if opt.name.lower() in ("adam", "adamw", "nadam", "adamax", "lion"):
        kwargs.update(beta_1=opt.beta_1, beta_2=opt.beta_2)
    kwargs.update(opt.options)
    try:
        return keras.optimizers.get({"class_name": opt.name, "config": kwargs})
    except (ValueError, TypeError) as e:
        raise config_lib.ConfigError(
            f"Cannot build optimizer {opt.name!r} with {kwargs}: {e}"
        ) from e


def finish_run(gan, model_dir, seed=0):
    """Writes the final model, sample grid and the exported generator SavedModel."""
    with files.atomic_path(os.path.join(model_dir, "model.keras")) as tmp:
        gan.save(tmp)
    images_lib.write_png(os.path.join(model_dir, "samples.png"), gan.sample_grid(seed), scale=2)
    export.export_generator(gan, os.path.join(model_dir, "saved_model", "1"), overwrite=True)


def _resumed_precision(gan, requested, model_dir):
    """`(mode, reason)` of a resumed run: its checkpoint's layers keep the precision
    they were built in; an explicit `requested` mode must be that one."""
    mode = precision.mode_of(gan.generator, gan.discriminator)
    if requested not in (precision.AUTO, mode):
        raise config_lib.ConfigError(
            f"The run in {model_dir} trains with train.mixed_precision={mode!r} (its "
            f"checkpoint's layers compute in it), not {requested!r}; resume it with "
            f"--mixed_precision={mode} or auto, or start a new --model_dir.")
    return mode, "resumed: the checkpoint's layers keep the precision the run started in"


def _has_state(model_dir):
    """Whether a run directory holds trained weights (a checkpoint or model.keras)."""
    return bool(run_dir.list_checkpoints(os.path.join(model_dir, "checkpoints"))
                or files.exists(os.path.join(model_dir, "model.keras")))


def _prepare_run_dir(config, model_dir, write=True, resumed_step=0, speed=None):
    """Checks that a resumed run's config is compatible and no live process holds
    the directory; with `write`, creates it and writes config.yaml and run.json."""
    path = os.path.join(model_dir, "config.yaml")
    if not write:
        run_lock.RunLock(model_dir).check()
    previous = loading.run_config_values(model_dir)
    if previous is not None and not files.exists(os.path.join(model_dir, "run.json")):
        raise config_lib.ConfigError(
            f"{model_dir!r} holds a config.yaml but no ganzoo run (no run.json), and a run "
            "writes its own config.yaml there. Pass that file as --config and choose another "
            "--model_dir.")
    if previous is not None and not _has_state(model_dir):
        # A run that stopped before its first checkpoint has nothing to resume: a new
        # config replaces its config.yaml (run.json keeps the earlier attempt).
        previous = None
    if previous is not None:
        previous = config_lib.flatten(previous)
        current = config_lib.flatten(config.to_dict())
        # A key newer than the run's config.yaml had its default value there.
        defaults = config_lib.flatten(config_lib.ExperimentConfig().to_dict())
        previous = {**{k: v for k, v in defaults.items() if k not in previous}, **previous}
        changed = sorted(
            k for k in set(previous) | set(current)
            if previous.get(k) != current.get(k) and k not in _RESUMABLE_KEYS
            # `auto` is resolved against the checkpoint (`_resumed_precision`).
            and not (k == "train.mixed_precision"
                     and precision.AUTO in (previous.get(k), current.get(k)))
        )
        if changed:
            details = "; ".join(f"{k}: {previous.get(k)!r} -> {current.get(k)!r}" for k in changed)
            raise config_lib.ConfigError(
                f"{model_dir!r} holds a run with a different config ({details}). Resume it "
                "with the same settings (--config " + path + "), or use a new --model_dir."
            )
    if not write:
        return
    files.atomic_write(path, config_lib.to_yaml(config))
    run_dir.write_run_json(model_dir, {"resumed_from_step": resumed_step,
                                       "deterministic": config.train.deterministic,
                                       **({"speed": speed} if speed else {})})


