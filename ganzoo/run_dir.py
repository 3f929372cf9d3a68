"""A run directory that survives crashes: a lock, safe checkpoints, a run history.

Every file goes through `tf.io.gfile` (`ganzoo.files`), so the run directory
can be on any TensorFlow file system (`gs://...`; the tests use `ram://`).

- **Lock**: `ganzoo.run_lock.RunLock` (one training process per directory).
- **Checkpoints** (`Checkpoint`, `save_checkpoint`): written to a temporary
  file, fsynced (locally) and renamed, so a crash while saving leaves the
  previous one loadable. Non-finite weights or losses are never saved. The
  newest `keep` stay, plus the newest *healthy* one (saved while the divergence
  guard saw no trouble), plus `best.keras` for a configured metric.
  `checkpoints/index.json` records each file's step, health and metrics.
  This is ganzoo's own manager, not `tf.train.CheckpointManager`: that one
  writes variables only (no architecture or config, so `ganzoo.load_gan` and
  `--init_from` could not read a checkpoint without the code and config that
  built it), keeps the newest N (or one every N hours) with no notion of a
  healthy or best checkpoint, never refuses a non-finite state, and does not
  fall back past a checkpoint that fails to load.
- **Resume** (`load_latest`): the newest checkpoint that loads; a truncated or
  corrupt one is skipped with a warning and renamed `*.corrupt` once the lock
  is held.
- **History** (`write_run_json`): `run.json` holds this invocation's versions,
  command line and host, and a `history` list with every earlier invocation;
  `update_run_json` adds how it `ended` (`completed`, or `preempted` with the
  signal, step and checkpoint; a crashed invocation has no `ended`).

Test hooks (environment variables read only by the crash tests):
    GANZOO_TEST_CRASH_IN_SAVE=STEP   SIGKILL after the temporary checkpoint file
                                     of STEP is written, before the rename.
    GANZOO_TEST_CRASH_AT_STEP=STEP   SIGKILL at the start of the batch after STEP.
"""

import json
import math
import os
import platform
import shlex
import signal
import socket
import sys
import time
import zipfile

import keras
import numpy as np
import tensorflow as tf

from ganzoo import callbacks, files
from ganzoo.errors import warn
from ganzoo.version import __version__

gfile = files.gfile
INDEX_NAME = "index.json"
BEST_NAME = "best.keras"


# -------------------------------------------------------------- checkpoints
def save_checkpoint(model, directory, step, keep, logs=None, healthy=True,
                    best_metric=None, best_mode="min"):
    """Saves `model` as `ckpt-<step>.keras` atomically, then prunes old ones.

    Args:
        model: a compiled ganzoo GAN.
        directory: str. The `checkpoints/` directory.
        step: int. The generator step, used in the file name.
        keep: int. Newest checkpoints kept (the newest healthy one is kept too).
        logs: dict or None. The epoch's metrics, recorded in `index.json`.
        healthy: bool. False while the divergence guard suspects trouble; such
            a checkpoint is never a rollback target.
        best_metric: str or None. Metric in `logs` whose best value is kept as
            `best.keras`.
        best_mode: str. `min` or `max`.

    Returns:
        The checkpoint path, or None when the state is non-finite (not saved).
    """
    logs = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
    bad = nonfinite_state(model, logs)
    if bad:
        warn(f"checkpoint at step {step} refused: {bad} is not finite; the previous "
             "checkpoints stay.")
        return None
    path = checkpoint_path(directory, step)
    with files.atomic_path(path) as tmp:
        model.save(tmp)
        if os.environ.get("GANZOO_TEST_CRASH_IN_SAVE") == str(step):
            os.kill(os.getpid(), signal.SIGKILL)  # test hook: a crash mid-save
    index = read_index(directory)
    index["checkpoints"][os.path.basename(path)] = {"step": step, "healthy": healthy,
                                                    "metrics": logs}
    if best_metric and healthy and _improves(index.get("best"), logs.get(best_metric), best_mode):
        with files.atomic_path(os.path.join(directory, BEST_NAME)) as tmp:
            files.link_or_copy(path, tmp)  # the same bytes under a name pruning never touches
        index["best"] = {"step": step, "metric": best_metric, "value": logs[best_metric],
                         "mode": best_mode}
    _prune(directory, index, keep)
    files.write_json(os.path.join(directory, INDEX_NAME), index)
    return path


def checkpoint_path(directory, step):
    """`<directory>/ckpt-<step, 8 digits>.keras`."""
    return os.path.join(directory, f"ckpt-{step:08d}.keras")


def list_checkpoints(directory):
    """Complete checkpoints in `directory`, oldest first (temporary files are ignored)."""
    return sorted(gfile.glob(os.path.join(directory, "ckpt-*.keras")))


def nonfinite_state(model, logs=None):
    """Names the first non-finite loss in `logs` or weight of `model`; None if all finite."""
    for key, value in (logs or {}).items():
        if _is_number(value) and not math.isfinite(float(value)):
            return f"{key}={value}"
    for variable in model.weights:
        if variable.dtype in ("float16", "bfloat16", "float32", "float64"):
            if not np.isfinite(keras.ops.convert_to_numpy(variable)).all():
                return f"weight {variable.path}"
    return None


def read_index(directory):
    index = files.read_json(os.path.join(directory, INDEX_NAME)) or {}
    index.setdefault("checkpoints", {})
    return index


def healthy_checkpoints(directory, before_step=None, index=None):
    """Checkpoints fit to roll back to (not marked unhealthy), oldest first."""
    marked = (index or read_index(directory))["checkpoints"]
    return [p for p in list_checkpoints(directory)
            if marked.get(os.path.basename(p), {}).get("healthy", True)
            and (before_step is None or _step_of(p) <= before_step)]


def discard_after(directory, step):
    """Deletes checkpoints newer than `step` (an abandoned trajectory, after a rollback)."""
    index = read_index(directory)
    for path in list_checkpoints(directory):
        if _step_of(path) > step:
            gfile.remove(path)
            index["checkpoints"].pop(os.path.basename(path), None)
    files.write_json(os.path.join(directory, INDEX_NAME), index)


def load_latest(paths, jit_compile=None):
    """Loads the newest loadable checkpoint among `paths` (oldest first).

    A file that fails to load (truncated, corrupt) is skipped with a warning.

    Returns:
        `(model, path, skipped)`: the model and its file, or `(None, None,
        skipped)` when `paths` is empty; `skipped` lists the unloadable files.

    Raises:
        RuntimeError: every checkpoint failed to load.
    """
    skipped = []
    for path in reversed(list(paths)):
        try:
            model = load_keras(path)
        except UnknownClassError:
            raise  # not a bad file: every checkpoint of the run would fail alike
        except Exception as e:  # zipfile, h5py and Keras raise many types for a bad file
            warn(f"checkpoint {path} is unreadable ({type(e).__name__}: {str(e)[:200]}); "
                 "falling back to the previous one.")
            skipped.append(path)
            continue
        if jit_compile is not None:
            model.jit_compile = jit_compile
        return model, path, skipped
    if skipped:
        raise RuntimeError(
            f"None of the checkpoints could be loaded ({', '.join(skipped)}). Move them "
            "aside to start this run afresh, or use a new --model_dir.")
    return None, None, skipped


class UnknownClassError(ValueError):
    """A `.keras` file's model class is not registered in this process."""


def load_keras(path, compile=True):
    """`keras.models.load_model`, naming the fix when the file's class is unknown here.

    A model of a family defined outside ganzoo (README, "Adding a model") loads
    only once its module has been imported; Keras' own error is a long
    TypeError that ends in the whole config.

    Raises:
        UnknownClassError: the saved model's class is not registered; the message
            names the module to import (`--import_module`).
    """
    try:
        return keras.models.load_model(path, compile=compile)
    except TypeError as error:
        module, class_name = _unregistered_class(path)
        if class_name is None:
            raise
        if module in (None, "__main__"):  # defined in a script: no module to import
            fix = ("import the code that defines and registers it (a module of its own, "
                   "passed as --import_module=MODULE, or `import MODULE` in Python) first")
            where = "in code"
        else:
            fix = (f"pass --import_module={module} (from Python: `import {module}` first), "
                   "with the module in the working directory or on PYTHONPATH")
            where = f"in the Python module {module!r}"
        raise UnknownClassError(
            f"{path} holds a {class_name} defined {where} that is not imported in this "
            f"process, so Keras cannot rebuild it; {fix}.") from error


def _unregistered_class(path):
    """`(module, class name)` of a `.keras` file's model when its class is not
    registered with Keras, else `(None, None)`."""
    try:
        with gfile.GFile(path, "rb") as f, zipfile.ZipFile(f) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, tf.errors.OpError):
        return None, None
    registered = config.get("registered_name")
    if not registered or keras.saving.get_registered_object(registered) is not None:
        return None, None
    return config.get("module"), config.get("class_name") or registered


def quarantine(paths):
    """Renames unloadable checkpoints to `*.corrupt` (kept for inspection)."""
    for path in paths:
        if files.isfile(path):
            gfile.rename(path, path + ".corrupt", overwrite=True)


def remove_temporary_files(directory):
    """Deletes `.tmp-*` leftovers of a save that crashed."""
    for path in gfile.glob(os.path.join(directory, files.TMP_PREFIX + "*")):
        files.remove(path)


class Checkpoint(callbacks._EveryNSteps):
    """Saves the whole model (weights, both optimizers, step) as `.keras` every `every` steps.

    Each file is written atomically (`save_checkpoint`): finite states only, with
    health marks and a best model. The finished run's last step is always saved.

    Args:
        run_dir: str. The run directory.
        every: int. Steps between checkpoints.
        keep: int. Newest checkpoints kept (plus the newest healthy one).
        best_metric: str or None. Logged metric whose best checkpoint is kept.
        best_mode: str. `min` or `max`.
        guard: `ganzoo.guard.DivergenceGuard` or None. While it suspects
            trouble checkpoints are marked unhealthy; once it trips, none is saved.
    """

    def __init__(self, run_dir, every, keep=3, best_metric=None, best_mode="min", guard=None):
        super().__init__(every)
        self.dir = os.path.join(run_dir, "checkpoints")
        self.keep = keep
        gfile.makedirs(self.dir)
        self.best_metric, self.best_mode, self.guard = best_metric, best_mode, guard
        self._crash_at = os.environ.get("GANZOO_TEST_CRASH_AT_STEP")
        self._logs = {}

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if (self.guard is not None and self.guard.mode == "rollback"
                and not list_checkpoints(self.dir)):
            self._save(self._last, {})  # a rollback target before the first interval

    def on_epoch_end(self, epoch, logs=None):
        self._logs = dict(logs or {})
        super().on_epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        if self._crash_at is not None and self.step() == int(self._crash_at):
            os.kill(os.getpid(), signal.SIGKILL)  # test hook: a crash between two steps

    def run(self, step, logs):
        self._save(step, logs)

    def on_train_end(self, logs=None):
        # The finished run's last step is always checkpointed, so extending the
        # run (a larger --steps) resumes where it stopped (`save_now` skips a
        # step saved already).
        self.save_now()

    def save_now(self, model=None):
        """Checkpoints the current step unless it is saved already (a preemption save).

        Args:
            model: the GAN to save, if not the one `fit` last trained (after a rollback).

        Returns:
            The checkpoint path of this step, or None when it could not be saved
            (non-finite state, or the divergence guard tripped).
        """
        if model is not None:
            self.set_model(model)
        step = self.step()
        path = checkpoint_path(self.dir, step)
        if files.isfile(path):
            return path
        self._last = step
        return self._save(step, self._logs)

    def _save(self, step, logs):
        if self.guard is not None and self.guard.tripped:
            return None
        healthy = self.guard is None or self.guard.healthy
        return save_checkpoint(self.model, self.dir, step, self.keep, logs, healthy,
                               self.best_metric, self.best_mode)


def _prune(directory, index, keep):
    paths = list_checkpoints(directory)
    healthy = healthy_checkpoints(directory, index=index)
    protected = set(paths[-keep:]) | set(healthy[-1:])
    for path in paths:
        if path not in protected:
            gfile.remove(path)
            index["checkpoints"].pop(os.path.basename(path), None)


def _improves(best, value, mode):
    if value is None or not math.isfinite(value):
        return False
    if not best:
        return True
    return value < best["value"] if mode == "min" else value > best["value"]


def _step_of(path):
    return int(os.path.basename(path)[len("ckpt-"):-len(".keras")])


def _is_number(value):
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


# ------------------------------------------------------------------ history
def write_run_json(model_dir, extra=None):
    """Writes `run.json`: this invocation at the top level, every one in `history`.

    Args:
        model_dir: str. The run directory.
        extra: dict or None. More fields for this invocation (e.g. resumed step).
    """
    path = os.path.join(model_dir, "run.json")
    previous = files.read_json(path)
    if previous is None and files.exists(path):  # unreadable: keep it, start a new history
        backup = f"{path}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
        gfile.copy(path, backup, overwrite=True)
        warn(f"{path} is not valid JSON; kept it as {backup} and started a new history.")
    previous = previous or {}
    history = previous.get("history")
    if history is None:  # a run.json written before the history existed
        history = [previous] if previous else []
    entry = {
        "ganzoo": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
        "numpy": np.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "host": socket.gethostname(), "pid": os.getpid(),
        "argv": sys.argv, "command": command_line(), "cwd": os.getcwd(),
        "env": {k: os.environ[k] for k in _RECORDED_ENV if k in os.environ},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(extra or {}),
    }
    files.write_json(path, {**entry, "history": [*history, entry]})


def update_run_json(model_dir, fields):
    """Adds `fields` to this invocation's record in `run.json` (e.g. how it `ended`).

    The top level and the newest `history` entry (if this process wrote it) are
    updated; a missing `run.json` is left missing.
    """
    path = os.path.join(model_dir, "run.json")
    record = files.read_json(path)
    if not record:
        return
    record.update(fields)
    history = record.get("history") or []
    if history and history[-1].get("pid") == os.getpid():
        history[-1].update(fields)
    files.write_json(path, record)


_RECORDED_ENV = ("TF_ENABLE_ONEDNN_OPTS", "TF_DETERMINISTIC_OPS", "TF_CONFIG",
                 "CUDA_VISIBLE_DEVICES", "PYTHONHASHSEED", "OMP_NUM_THREADS",
                 "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def command_line():
    """The command that started this process, as a shell line that repeats it."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(os.path.join("ganzoo", "train.py")):
        argv = ["-m", "ganzoo.train", *argv[1:]]
    return shlex.join([sys.executable, *argv])
