"""Preemption: on SIGTERM or SIGINT, save at the current step and exit with a distinct status.

Clusters stop a job with SIGTERM and a grace period before SIGKILL (Kubernetes'
default is 30 s; Slurm's `KillWait` and spot/preemptible VMs are similar);
Ctrl-C sends SIGINT. While `train_lib.run` trains, `SignalWatcher` catches the
first of either signal and only sets a flag; `StopOnSignal` reads it at the end
of every step and stops `fit` there, and `train_lib.run` then writes a
checkpoint at that step (the usual atomic `run_dir.save_checkpoint`), records
the signal in `run.json`, releases the lock and raises `Preempted`, which
`python -m ganzoo.train` turns into exit status `EXIT_PREEMPTED` (75), without
the seconds of interpreter teardown (`exit_preempted`). Running the same
command again resumes from that checkpoint.

A second signal exits at once: the first one puts both signals back to the
operating system's default action, so the process dies of the second (exit
status 128 + signal number: 143 for SIGTERM, 130 for SIGINT) even in the
middle of a step; the rerun takes over the lock it leaves as stale.

Multi-worker runs (`MultiWorkerMirroredStrategy`): a cluster may signal the
workers at slightly different times, or only one of them. Each step's flag is
all-reduced (summed) over the workers, so all of them stop after the same step
and none waits forever in a collective for a peer that left; only the chief
writes the run directory (the others write their scratch copy, as always).
Keras 3's `fit` has no preemption support of its own (its `BackupAndRestore`
lost Keras 2's `save_before_preemption`), and
`tf.distribute.experimental.PreemptionCheckpointHandler` needs to wrap the
step function, which `fit` owns; one small collective per step is the
equivalent built on the strategy.
"""

import os
import signal
import sys
import threading
import time

import keras
import tensorflow as tf
from absl import logging

from ganzoo.errors import warn

# EX_TEMPFAIL (sysexits.h): "temporary failure, the user is invited to retry".
# Distinct from 143/130 (killed by the signal, nothing saved at this step).
EXIT_PREEMPTED = 75
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(Exception):
    """The run stopped early on a signal, after saving its state; rerun to resume.

    Args:
        signal_name: str. `SIGTERM` or `SIGINT`.
        step: int. The generator step the run stopped after.
        checkpoint: str or None. The checkpoint holding that step (None when
            nothing could be saved, e.g. non-finite weights).
        model_dir: str. The run directory.
    """

    def __init__(self, signal_name, step, checkpoint, model_dir):
        self.signal_name, self.step = signal_name, step
        self.checkpoint, self.model_dir = checkpoint, model_dir
        saved = (f"saved {checkpoint}" if checkpoint else
                 "no checkpoint could be saved at this step")
        super().__init__(
            f"Stopped by {signal_name} after step {step}; {saved}. Run the same command "
            f"again to resume (--model_dir={model_dir}).")


def exit_preempted(teardown=False):
    """Ends the process with `EXIT_PREEMPTED` once a preempted run has saved.

    By default the interpreter's teardown is skipped (`os._exit`): freeing
    TensorFlow's graphs and threads took 2.9 s after a dcgan_digits run and
    25 s after dcgan_celeba64 on a loaded 2-core CPU, time a grace period may
    not have. Everything that must last is written by then: the fsynced
    checkpoint, run.json, the flushed TensorBoard events, the released lock.

    Args:
        teardown: bool. Exit normally instead (multi-worker processes, so that
            TensorFlow's coordination service shuts down with its peers).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    logging.flush()
    if teardown:
        sys.exit(EXIT_PREEMPTED)
    os._exit(EXIT_PREEMPTED)


class SignalWatcher:
    """Context manager that turns the first SIGTERM/SIGINT into a flag.

    Handlers are installed only in the main thread (Python allows no other),
    also over an inherited "ignore" (a job started in the background of a
    script has SIGINT ignored, yet `kill -INT` should still save it, as
    `tools/launch_local.py` does); the previous handlers are restored on exit.

    Args:
        signals: the signals to catch. Defaults to SIGTERM and SIGINT.

    Example:

    >>> with SignalWatcher() as watcher:
    ...     gan.fit(ds, callbacks=[StopOnSignal(watcher)])
    >>> watcher.received   # "SIGTERM", or None
    """

    def __init__(self, signals=SIGNALS):
        self.signals = tuple(signals)
        self.received = None
        self.received_at = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        return False

    @property
    def active(self):
        """Whether handlers are installed (False outside the main thread)."""
        return bool(self._previous)

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name
        self.received_at = time.time()
        for sig in self._previous:
            signal.signal(sig, signal.SIG_DFL)  # the next signal kills at once
        # Straight to fd 2: a handler that prints or logs through sys.stderr can
        # interrupt a write to it and fail ("reentrant call inside BufferedWriter").
        newline = "\n" if sys.stderr.isatty() else ""  # after a progress bar's line
        message = (f"{newline}warning: {self.received} received: finishing the current step, "
                   "then saving a checkpoint and exiting. Send it again to exit at once "
                   "(unsaved).\n")
        try:
            os.write(2, message.encode())
        except OSError:
            pass


class StopOnSignal(keras.callbacks.Callback):
    """Stops `fit` at the end of the step during which a watched signal arrived.

    Args:
        watcher: `SignalWatcher`.
        strategy: the run's `tf.distribute.Strategy` or None. Under a
            multi-worker strategy the flag is all-reduced each step, so every
            worker stops after the same step.
    """

    def __init__(self, watcher, strategy=None):
        super().__init__()
        self.watcher = watcher
        self.stopped_at = None
        self._agree = _agreement(strategy) if _multi_worker(strategy) else None

    def on_train_batch_end(self, batch, logs=None):
        stop = self.watcher.received is not None
        if self._agree is not None:
            stop = self._agree(stop)
        if stop:
            self.stopped_at = int(self.model.g_optimizer.iterations.numpy())
            self.model.stop_training = True
            if self.watcher.received is None:  # this worker's own signal was said already
                warn(f"stopping after step {self.stopped_at}: another worker was signalled.")
            else:
                logging.info("Stopping after step %d: %s.", self.stopped_at,
                             self.watcher.received)


def _multi_worker(strategy):
    """Whether `strategy` spans several processes (the only case that needs agreement)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    jobs = strategy.cluster_resolver.cluster_spec().as_dict()
    return sum(len(jobs.get(job, ())) for job in ("chief", "worker")) > 1


def _agreement(strategy):
    """`flag -> bool`: whether any worker's flag is set (one all-reduce, every worker calls it)."""

    @tf.function
    def any_worker(flag):
        def replica_fn(value):
            # ReduceOp has no MAX: a sum > 0 says the same. The identity places the
            # value on the replica's device (else: "destinations can not be empty").
            return tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, tf.identity(value))

        return strategy.run(replica_fn, args=(flag,))

    def agree(flag):
        result = any_worker(tf.constant(1.0 if flag else 0.0))
        return bool(strategy.experimental_local_results(result)[0] > 0)

    return agree
