"""The divergence guard: stop or roll back a run whose losses blow up.

GAN training can diverge for good: a NaN or infinite loss after a too-large
learning rate, or a discriminator that wins outright, D(x) -> 1 and D(G(z)) -> 0,
after which the generator's gradient vanishes (Goodfellow et al. 2014, sec. 3;
Arjovsky & Bottou 2017). `DivergenceGuard` checks every step's logged losses
(Python floats Keras already has, so the check costs nothing measurable) and,
when it trips, stops `fit`. `train_lib.run` then either raises `DivergenceError`
(`train.guard.mode=stop`) or calls `recover`, which reloads the newest healthy
checkpoint, scales both learning rates by `train.guard.lr_factor` and lets the
loop continue from that step (`mode=rollback`). Each event goes to the log,
stdout, TensorBoard (text `guard`, scalar `guard/rollbacks`) and `guard.json`,
which also carries the rollback count across restarts.
"""

import contextlib
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from ganzoo import files
from ganzoo import run_dir as run_dir_lib
from ganzoo.errors import warn
from ganzoo.losses import PROBABILITY_LOSSES

GUARD_FILE = "guard.json"


class DivergenceError(RuntimeError):
    """Training diverged and the guard could not (or was told not to) recover."""


class DivergenceGuard(keras.callbacks.Callback):
    """Trips on a non-finite loss or a collapsed discriminator; see the module docstring.

    Args:
        config: `ganzoo.config.GuardConfig`.
        model_dir: str or None. Run directory for `guard.json`; None keeps no record.
        writer: `tf.summary` writer or None, for the TensorBoard event.
        loss: str. The adversarial loss name; the collapse test only applies
            to losses whose D output is a probability.

    Example:

    >>> guard = DivergenceGuard(config.train.guard, "runs/dcgan", writer)
    >>> gan.fit(ds, callbacks=[guard])
    >>> if guard.tripped:
    ...     gan = guard.recover(gan, "runs/dcgan/checkpoints")
    """

    def __init__(self, config, model_dir=None, writer=None, loss="non_saturating"):
        super().__init__()
        self.config = config
        self.mode = config.mode
        self.model_dir = model_dir
        self.writer = writer
        self.check_collapse = config.collapse_steps > 0 and loss in PROBABILITY_LOSSES
        state = _read(model_dir)
        self.rollbacks = int(state.get("rollbacks", 0))
        self.events = list(state.get("events", []))
        self.tripped = None  # the event dict once tripped
        self.streak = 0

    @property
    def healthy(self):
        """No trouble seen: the current state is a fit rollback target."""
        return self.tripped is None and self.streak == 0

    def on_epoch_begin(self, epoch, logs=None):
        self._seen = (0, {})  # (steps, running means) at the previous batch end

    def on_train_batch_end(self, batch, logs=None):
        if self.mode == "off" or self.tripped or not logs:
            return
        values = {k: _scalar(v) for k, v in logs.items()}
        bad = {k: v for k, v in values.items() if v is not None and not math.isfinite(v)}
        if bad:
            self._trip("non-finite loss " + ", ".join(f"{k}={v}" for k, v in bad.items()))
            return
        if self.check_collapse and "d_real" in values and "d_fake" in values:
            # Keras logs running means over the epoch; recover this step's own values.
            seen, previous = getattr(self, "_seen", (0, {}))
            n = batch + 1
            step_values = {k: (n * values[k] - seen * previous.get(k, 0.0)) / max(n - seen, 1)
                           for k in ("d_real", "d_fake")}
            self._seen = (n, values)
            c = self.config
            collapsed = (step_values["d_real"] > c.real_above
                         and step_values["d_fake"] < c.fake_below)
            self.streak = self.streak + 1 if collapsed else 0
            if self.streak >= c.collapse_steps:
                self._trip(
                    f"collapsed discriminator: D(x) > {c.real_above} and D(G(z)) < "
                    f"{c.fake_below} for {self.streak} steps (now D(x)={step_values['d_real']:.4f}"
                    f", D(G(z))={step_values['d_fake']:.4f})")

    def _trip(self, reason):
        step = int(self.model.g_optimizer.iterations.numpy())
        self.tripped = {"step": step, "reason": reason,
                        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.model.stop_training = True
        self._announce(f"Divergence guard tripped at step {step}: {reason}.", step)

    def recover(self, model, checkpoint_dir, strategy=None, jit_compile=None):
        """Rolls back to the newest healthy checkpoint with lower learning rates.

        Args:
            model: the GAN that diverged (its optimizers' learning rates are read).
            checkpoint_dir: str. The run's `checkpoints/` directory.
            strategy: `tf.distribute.Strategy` or None, scope for loading.
            jit_compile: bool or None. Set on the reloaded model.

        Returns:
            The reloaded, rescaled model; training continues from its step.

        Raises:
            DivergenceError: in `stop` mode, after `max_rollbacks` rollbacks, or
                when no healthy checkpoint loads. The message names the step,
                the cause, the last good checkpoint and the fixes.
        """
        event, c = self.tripped, self.config
        good = run_dir_lib.healthy_checkpoints(checkpoint_dir, before_step=event["step"])
        last_good = good[-1] if good else None
        if self.mode != "rollback" or self.rollbacks >= c.max_rollbacks:
            self._record({**event, "action": "stop"})
            raise DivergenceError(self._stop_message(event, last_good))
        scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
        with scope:
            restored, path, skipped = run_dir_lib.load_latest(good, jit_compile)
        run_dir_lib.quarantine(skipped)
        if restored is None:
            self._record({**event, "action": "stop"})
            raise DivergenceError(self._stop_message(event, None))
        target = int(restored.g_optimizer.iterations.numpy())
        run_dir_lib.discard_after(checkpoint_dir, target)
        rates = {}
        for name in ("d_optimizer", "g_optimizer"):
            optimizer = getattr(restored, name)
            # The rate that diverged, not the checkpoint's: rollbacks compound.
            old = _rate(getattr(model, name))
            new = old * c.lr_factor if _set_rate(optimizer, old * c.lr_factor) else _rate(optimizer)
            rates[name] = (old, new)
        self.rollbacks += 1
        rate_text = ", ".join(f"{n} learning rate {a:g} -> {b:g}" for n, (a, b) in rates.items())
        self._record({**event, "action": "rollback", "to_step": target, "checkpoint": path,
                      "learning_rates": {n: b for n, (_, b) in rates.items()}})
        self._announce(
            f"Rollback {self.rollbacks}/{c.max_rollbacks}: reloaded {path} (step {target}); "
            f"{rate_text}.", event["step"])
        self.tripped, self.streak = None, 0
        return restored

    def resume_rates(self, model):
        """A resumed run continues at the learning rates of the guard's last rollback.

        The newest healthy checkpoint can predate that rollback, so it holds the
        rates that diverged; without this, rerunning a run the guard stopped (with
        a higher `max_rollbacks`) would start the `lr_factor` compounding again
        from the configured rates. Rates already at or below the recorded ones
        (a checkpoint saved after the rollback) are left alone.
        """
        recorded = next((e["learning_rates"] for e in reversed(self.events)
                         if e.get("action") == "rollback" and e.get("learning_rates")), None)
        changed = []
        for name, rate in (recorded or {}).items():
            optimizer = getattr(model, name, None)
            if optimizer is None:
                continue
            current = _rate(optimizer)
            if rate < current and _set_rate(optimizer, rate):
                changed.append(f"{name} learning rate {current:g} -> {rate:g}")
        if changed:
            warn(f"resumed at the learning rates of rollback {self.rollbacks} "
                 f"({GUARD_FILE}): {', '.join(changed)}.")

    def _stop_message(self, event, last_good):
        c = self.config
        where = (f"The last good checkpoint, {last_good}, is intact"
                 if last_good else "No healthy checkpoint was saved before it")
        fix = ("lower train.d_optimizer.learning_rate and train.g_optimizer.learning_rate (or "
               "change the loss) and start a new --model_dir")
        if self.mode == "stop":
            why = "train.guard.mode=stop"
            if last_good:
                fix += ("; or rerun this command with --set train.guard.mode=rollback to reload "
                        "that checkpoint and multiply both learning rates by "
                        f"train.guard.lr_factor ({c.lr_factor}) at each rollback")
        else:
            why = f"{self.rollbacks} rollback(s), the limit train.guard.max_rollbacks"
            if last_good:
                fix += ("; or rerun this command with a higher --set train.guard.max_rollbacks "
                        f"or a smaller train.guard.lr_factor (now {c.lr_factor})")
        return (f"Training diverged at step {event['step']}: {event['reason']}. Stopped by "
                f"{why}. {where}. Fix: {fix}.")

    def _announce(self, message, step):
        warn(message)
        if self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.text("guard", message)
                tf.summary.scalar("guard/rollbacks", self.rollbacks)
            self.writer.flush()

    def _record(self, event):
        self.events.append(event)
        if self.model_dir:
            files.write_json(os.path.join(self.model_dir, GUARD_FILE),
                             {"rollbacks": self.rollbacks, "events": self.events})


def _rate(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _set_rate(optimizer, rate):
    """Sets a constant learning rate; False for a LearningRateSchedule, which cannot be
    rescaled in place (it keeps its own)."""
    try:
        optimizer.learning_rate = rate
    except TypeError:
        return False
    return True


def _read(model_dir):
    if not model_dir:
        return {}
    return files.read_json(os.path.join(model_dir, GUARD_FILE)) or {}


def _scalar(value):
    try:
        return float(np.mean(value))
    except (TypeError, ValueError):
        return None
