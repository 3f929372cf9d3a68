"""The divergence guard: NaN losses and a collapsed discriminator stop or roll back a run."""

import hashlib
import json
import os
import types

import keras
import numpy as np
import pytest

import ganzoo
from ganzoo import run_dir, train_lib
from ganzoo.config import GuardConfig
from ganzoo.guard import DivergenceError, DivergenceGuard

TINY = ["model.width=8", "model.latent_dim=8", "train.batch_size=16", "train.steps_per_epoch=2",
        "train.sample_every=1000", "train.checkpoint_every=2", "train.jit_compile=false"]


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _finite(gan):
    return all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in gan.weights)


class _Poison(keras.callbacks.Callback):
    """Sets one D weight to NaN once, at the start of the batch after `step`: a poisoned
    update, as a bad batch or an overflow would cause. Records the last good checkpoint."""

    def __init__(self, run, step):
        super().__init__()
        self.run, self.at, self.done, self.snapshot = run, step, False, None

    def on_train_batch_begin(self, batch, logs=None):
        if not self.done and int(self.model.g_optimizer.iterations) == self.at:
            self.done = True
            path = os.path.join(self.run, "checkpoints", f"ckpt-{self.at - 1:08d}.keras")
            self.snapshot = (path, _sha(path))
            weight = self.model.discriminator.trainable_weights[0]
            weight.assign(np.full(weight.shape, np.nan, "float32"))


@pytest.mark.e2e
def test_rollback_reloads_the_last_good_checkpoint_and_finishes(tmp_path):
    run = str(tmp_path / "run")
    config = train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=8"])
    poison = _Poison(run, step=5)
    result = train_lib.run(config, run, verbose=0, extra_callbacks=[poison])
    gan = result["model"]
    assert result["steps"] == 8 and _finite(gan)
    # Tripped at step 6 (the poisoned update), rolled back to step 4 with halved rates.
    record = json.load(open(os.path.join(run, "guard.json")))
    assert record["rollbacks"] == 1
    event = record["events"][0]
    assert event["step"] == 6 and event["to_step"] == 4 and "non-finite" in event["reason"]
    for name in ("d_optimizer", "g_optimizer"):
        assert float(getattr(gan, name).learning_rate) == pytest.approx(1e-4)
    # The last good checkpoint was never overwritten and still loads.
    path, digest = poison.snapshot
    assert _sha(path) == digest and _finite(ganzoo.load_gan(path))
    # Rates stay halved in later checkpoints, so a crash-resume keeps them.
    final = ganzoo.load_gan(os.path.join(run, "checkpoints", "ckpt-00000008.keras"))
    assert float(final.d_optimizer.learning_rate) == pytest.approx(1e-4)
    # TensorBoard has the event.
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(os.path.join(run, "logs"),
                                             size_guidance={"tensors": 0})
    acc.Reload()
    assert "guard/rollbacks" in acc.Tags()["tensors"] and "guard" in acc.Tags()["tensors"]
    from tensorboard.util import tensor_util

    # 0 when it trips, 1 after the rollback (both at step 6).
    assert [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
            for e in acc.Tensors("guard/rollbacks")] == [(6, 0.0), (6, 1.0)]


@pytest.mark.e2e
def test_huge_learning_rate_exhausts_rollbacks_and_keeps_the_good_checkpoint(tmp_path):
    run = str(tmp_path / "run")
    # 1e20: the fused batch norm keeps D finite at 1e10 (compat.FusedBatchNormalization).
    config = train_lib.resolve_config("dcgan", overrides=TINY + [
        "train.steps=8", "train.d_optimizer.learning_rate=1e20", "train.guard.max_rollbacks=1"])
    with pytest.raises(DivergenceError, match=r"step 1: non-finite loss .*max_rollbacks") as e:
        train_lib.run(config, run, verbose=0)
    assert "ckpt-00000000.keras, is intact" in str(e.value)
    assert not os.path.exists(os.path.join(run, "model.keras"))  # no NaN model written
    paths = run_dir.list_checkpoints(os.path.join(run, "checkpoints"))
    assert [os.path.basename(p) for p in paths] == ["ckpt-00000000.keras"]
    assert _finite(ganzoo.load_gan(paths[0]))
    assert json.load(open(os.path.join(run, "guard.json")))["rollbacks"] == 1


def test_a_rerun_after_the_guard_gave_up_goes_on_at_the_rollbacks_rates(tmp_path):
    # The rerun that the stop message suggests (a higher max_rollbacks) resumes from a
    # checkpoint saved before the rollback; it continues the compounding (1e20 -> 5e19 ->
    # 2.5e19), not from the configured rate again.
    run = str(tmp_path / "run")
    overrides = TINY + ["train.steps=8", "train.d_optimizer.learning_rate=1e20",
                        "train.guard.max_rollbacks=1"]
    with pytest.raises(DivergenceError):
        train_lib.run(train_lib.resolve_config("dcgan", overrides=overrides), run, verbose=0)
    rerun = train_lib.resolve_config("dcgan", overrides=[*overrides[:-1],
                                                         "train.guard.max_rollbacks=2"])
    with pytest.raises(DivergenceError, match="2 rollback"):
        train_lib.run(rerun, run, verbose=0)
    rollbacks = [e for e in json.load(open(os.path.join(run, "guard.json")))["events"]
                 if e["action"] == "rollback"]
    rates = [e["learning_rates"]["d_optimizer"] for e in rollbacks]
    np.testing.assert_allclose(rates, [5e19, 2.5e19], rtol=1e-6)  # float32 variables


def test_guard_off_is_the_string_off_from_set_and_from_yaml(tmp_path):
    # YAML 1.1 reads a bare `off` as false; both spellings mean the guard is off.
    config = train_lib.resolve_config("dcgan", overrides=["train.guard.mode=off"])
    assert config.train.guard.mode == "off"
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  name: dcgan\ntrain:\n  guard:\n    mode: off\n")
    assert train_lib.resolve_config(config_file=str(path)).train.guard.mode == "off"


def test_stop_mode_raises_with_the_fix(tmp_path):
    run = str(tmp_path / "run")
    config = train_lib.resolve_config("dcgan", overrides=TINY + [
        "train.steps=8", "train.d_optimizer.learning_rate=1e20", "train.guard.mode=stop"])
    with pytest.raises(DivergenceError, match="train.guard.mode=stop.*learning_rate"):
        train_lib.run(config, run, verbose=0)
    assert not os.path.exists(os.path.join(run, "model.keras"))
    assert not run_dir.list_checkpoints(os.path.join(run, "checkpoints"))


def _drive(guard, per_step, steps_per_epoch=4):
    """Feeds the guard Keras-style running means of `per_step` dicts; returns the trip step."""
    model = types.SimpleNamespace(stop_training=False, g_optimizer=types.SimpleNamespace(
        iterations=types.SimpleNamespace(numpy=lambda: model.step)), step=0)
    guard.set_model(model)
    sums = {}
    for i, values in enumerate(per_step):
        batch = i % steps_per_epoch
        if batch == 0:
            guard.on_epoch_begin(i // steps_per_epoch)
            sums = {}
        model.step = i + 1
        sums = {k: sums.get(k, 0.0) + v for k, v in values.items()}
        guard.on_train_batch_end(batch, {k: v / (batch + 1) for k, v in sums.items()})
        if guard.tripped:
            return guard.tripped["step"]
    return None


def test_collapse_needs_m_consecutive_steps_of_a_won_discriminator():
    healthy = {"d_real": 0.7, "d_fake": 0.3, "d_loss": 1.0}
    won = {"d_real": 0.999, "d_fake": 0.001, "d_loss": 0.002}
    config = GuardConfig(mode="stop", collapse_steps=3)
    # Per-step values are recovered from the running means: an interrupted streak resets.
    steps = [healthy] * 3 + [won, won, healthy] + [won] * 3
    assert _drive(DivergenceGuard(config), steps) == 9
    assert _drive(DivergenceGuard(config), [healthy] * 9) is None
    # Off for losses whose D output is not a probability, and with collapse_steps=0.
    assert _drive(DivergenceGuard(config, loss="wasserstein"), [won] * 9) is None
    assert _drive(DivergenceGuard(GuardConfig()), [won] * 9) is None
    assert _drive(DivergenceGuard(GuardConfig(mode="off")), [{"d_loss": float("nan")}]) is None
    guard = DivergenceGuard(GuardConfig())
    assert _drive(guard, [healthy, {"d_loss": float("inf")}]) == 2
    assert not guard.healthy and "d_loss=inf" in guard.tripped["reason"]


def test_checkpoints_during_a_collapse_streak_are_not_rollback_targets(tmp_path):
    from gan_test_utils import build_tiny, compile_tiny

    gan = compile_tiny(build_tiny("dcgan")[0])
    guard = DivergenceGuard(GuardConfig(collapse_steps=5))
    guard.streak = 2  # in the middle of a suspected collapse
    callback = run_dir.Checkpoint(str(tmp_path), every=1, keep=5, guard=guard)
    callback.set_model(gan)
    callback._save(3, {"d_loss": 0.1})
    assert run_dir.read_index(str(tmp_path / "checkpoints"))["checkpoints"][
        "ckpt-00000003.keras"]["healthy"] is False
    assert run_dir.healthy_checkpoints(str(tmp_path / "checkpoints")) == []
