"""Mixed precision (`train.mixed_precision`, `ganzoo.precision`): same updates, safe fp16.

Tolerance of the update comparison. A bf16 or fp16 step rounds the float32
weights and data to 16 bits where a layer reads them, and then every layer's
output. The first part alone is measured in the test: the float32 step from
weights and data rounded to the 16-bit format (`rounded`). Tiny networks at
their N(0, 0.02) initialisation are ill-conditioned (batch norm's backward pass
over a small batch cancels most of a nearly constant gradient): rounding the
inputs alone moves dcgan's G update by 9% in bf16 and 5% in fp16 (unit roundoff
u = 2^-8 and 2^-11), and the mixed-precision updates land at 0.4-1.2x that
rounding error for both networks of both models. Rounding each of the ~8 layer
outputs on the longest path (D forward and backward, then G) adds at most ~2u
each, products being accumulated in float32 (measured: 0.4u for a bf16 conv or
matmul), so the test asserts

    error <= 3 * rounded_error + 16 * u,

which the updates met with 2.9x to 11x margin (dcgan's fp16 G: 0.050 against
0.146; Intel Xeon with AMX, oneDNN on). It stays below 0.5, so it still tells
rounding from a skipped step (error 1), a doubled gradient (error 1) or a loss
scale that was not divided out (error ~ scale).
"""

import json
import os
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml
from absl import logging
from gan_test_utils import build_tiny, tiny_batch

import ganzoo
from ganzoo import hardware, precision, tasks, train_lib
from ganzoo import train as train_cli
from ganzoo.config import ConfigError

UNIT_ROUNDOFF = {"bf16": 2.0**-8, "fp16": 2.0**-11}
FORMATS = {"bf16": tf.bfloat16, "fp16": tf.float16}
LEARNING_RATE = 0.01
BATCH = 32  # a larger batch than the other tests' 8: batch norm's backward cancels less
# wgan_gp's first fp16 step overflows at Keras' default initial scale 2^15 (that
# step is skipped, as `test_fp16_overflow_skips_the_step_and_recovers` checks);
# a skipped step has no update to compare.
COMPARISON_SCALE = 2.0**10
TINY = ["model.width=8", "model.latent_dim=8", "train.batch_size=16", "train.steps_per_epoch=2",
        "train.sample_every=2", "train.checkpoint_every=2", "train.jit_compile=false"]


def _build(name, mode, optimizer=None):
    with precision.policy_scope(mode):
        gan, spec = build_tiny(name, seed=3)
    loss = type(gan).default_overrides.get("train.loss", "non_saturating")
    optimizer = optimizer or (lambda: keras.optimizers.SGD(LEARNING_RATE))
    gan.compile(d_optimizer=optimizer(), g_optimizer=optimizer(), loss=loss, jit_compile=False)
    return gan, spec


def _scaled_sgd():
    return keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(LEARNING_RATE),
                                               initial_scale=COMPARISON_SCALE)


def _fit(gan, x, y, steps=1, callbacks=()):
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    history = gan.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=list(callbacks))
    return {k: v[-1] for k, v in history.history.items()}


def _weights(gan):
    return {"generator": [v.numpy() for v in gan.generator.trainable_weights],
            "discriminator": [v.numpy() for v in gan.discriminator.trainable_weights]}


def _update(before, after):
    return np.concatenate([(a - b).ravel() for a, b in zip(after, before, strict=True)])


def _error(update, reference):
    return float(np.linalg.norm(update - reference) / np.linalg.norm(reference))


def _step_update(gan, x, y, start):
    """One step's update from weights `start`, starting again at step 0."""
    for network in ("generator", "discriminator"):
        for variable, value in zip(getattr(gan, network).trainable_weights, start[network]):
            variable.assign(value)
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        optimizer.iterations.assign(0)  # the training noise is keyed on it
    _fit(gan, x, y)
    after = _weights(gan)
    return {k: _update(start[k], after[k]) for k in start}


def _rounded(values, fmt):
    return tf.cast(tf.cast(values, fmt), tf.float32).numpy()


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_mixed_precision_step_matches_float32_within_rounding(name):
    """bf16 and fp16 updates equal the float32 one to within the rounding bound above."""
    reference, spec = _build(name, "off")
    x, y = tiny_batch(spec, BATCH * reference.d_steps, seed=3)
    start = _weights(reference)
    exact = _step_update(reference, x, y, start)
    for mode, fmt in FORMATS.items():
        rounded_start = {k: [_rounded(w, fmt) for w in ws] for k, ws in start.items()}
        rounded = _step_update(reference, _rounded(x, fmt), y, rounded_start)
        gan, _ = _build(name, mode, optimizer=_scaled_sgd if mode == "fp16" else None)
        assert keras.config.dtype_policy().name == "float32"  # the scope did not leak
        assert fmt.name in {layer.compute_dtype for layer in gan.discriminator.layers}
        for k in start:  # the policy changes compute, not the float32 initial weights
            for a, b in zip(start[k], _weights(gan)[k], strict=True):
                np.testing.assert_array_equal(a, b)
        _fit(gan, x, y)
        assert int(gan.g_optimizer.iterations.numpy()) == 1  # not skipped
        mixed = {k: _update(start[k], w) for k, w in _weights(gan).items()}
        for k in start:
            bound = 3 * _error(rounded[k], exact[k]) + 16 * UNIT_ROUNDOFF[mode]
            error = _error(mixed[k], exact[k])
            assert 0 < error <= min(bound, 0.5), (mode, k, error, bound)


@pytest.mark.parametrize("mode", ["bf16", "fp16"])
def test_every_family_ends_in_float32(mode):
    """Images and every D head but the hidden layers (`features`, ssgan's
    `hidden_i`, cast where matched) leave the networks in float32, so losses,
    penalties, `generate()` and exports see float32."""
    for name in ganzoo.list_models():
        with precision.policy_scope(mode):
            gan, _ = build_tiny(name)
        assert precision.mode_of(gan.generator, gan.discriminator) == mode, name
        assert [t.dtype for t in gan.generator.outputs] == ["float32"], name
        outputs = gan.discriminator.output
        heads = outputs if isinstance(outputs, dict) else {"logits": outputs}
        for head, tensor in heads.items():
            hidden = head == "features" or head.startswith("hidden_")
            assert hidden or tensor.dtype == "float32", (name, head, tensor.dtype)


def test_fp16_overflow_skips_the_step_and_recovers(tmp_path):
    """A loss scale that overflows float16 skips the step (weights untouched, scale
    halved) until the scale fits; then training continues with finite weights.
    The loss-scale state survives a `.keras` save and load."""
    gan, spec = _build("dcgan", "fp16", optimizer=lambda: keras.optimizers.Adam(2e-4, 0.5))
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)  # added by compile
        optimizer.dynamic_scale.assign(2.0**24)  # 2^8-2^10 x what float16 (max 65504) holds
    x, y = tiny_batch(spec, 8)
    seen = []

    def flat_weights():
        return np.concatenate([w.ravel() for ws in _weights(gan).values() for w in ws])

    def record(batch, logs):
        optimizers = (gan.d_optimizer, gan.g_optimizer)
        seen.append({"scales": [float(o.dynamic_scale.numpy()) for o in optimizers],
                     "steps": [int(o.iterations.numpy()) for o in optimizers],
                     "weights": flat_weights()})

    start = {"scales": [2.0**24] * 2, "steps": [0, 0], "weights": flat_weights()}
    logs = _fit(gan, x, y, steps=20, callbacks=[keras.callbacks.LambdaCallback(
        on_train_batch_end=record)])
    assert seen[0]["scales"] == [2.0**23] * 2 and seen[0]["steps"] == [0, 0]
    np.testing.assert_array_equal(seen[0]["weights"], start["weights"])
    for previous, now in zip([start, *seen], seen):
        for i in range(2):  # D, G: a step is either skipped (scale halved) or applied
            skipped = now["steps"][i] == previous["steps"][i]
            factor = 0.5 if skipped else 1.0
            assert now["scales"][i] == factor * previous["scales"][i], seen.index(now)
        if now["steps"] == previous["steps"]:  # both skipped: no weight moved
            np.testing.assert_array_equal(now["weights"], previous["weights"])
        assert np.isfinite(now["weights"]).all()
    assert seen[-1]["steps"][1] >= 8, [s["scales"] for s in seen]  # recovered
    assert not np.array_equal(seen[-1]["weights"], start["weights"])
    assert all(np.isfinite(v) for v in logs.values()), logs
    # Saved and loaded, the model keeps its float16 layers and its loss scales.
    path = str(tmp_path / "fp16.keras")
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.g_optimizer, keras.optimizers.LossScaleOptimizer)
    for name in ("d_optimizer", "g_optimizer"):
        a, b = getattr(gan, name), getattr(loaded, name)
        assert float(b.dynamic_scale.numpy()) == float(a.dynamic_scale.numpy())
        assert int(b.iterations.numpy()) == int(a.iterations.numpy())
    assert precision.computes_in_float16(loaded.generator)
    images = loaded.generate(4, seed=1)
    assert images.dtype == np.float32
    np.testing.assert_array_equal(images, gan.generate(4, seed=1))


def test_one_replica_overflow_skips_the_step_on_every_replica(mirrored_strategy):
    """Under MirroredStrategy an fp16 overflow on replica 1's share alone skips D's
    step on both replicas (`precision.agree_on_finiteness`); G's clean step runs."""
    with mirrored_strategy.scope():
        gan, spec = _build("vanilla", "fp16")  # an MLP D: no batch statistics to share
    x, y = tiny_batch(spec, 16)
    x[8:] = 1e6  # replica 1's real examples: finite in float32, inf in float16
    before = _weights(gan)
    _fit(gan, x, y)
    after = _weights(gan)
    for a, b in zip(before["discriminator"], after["discriminator"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(gan.d_optimizer.dynamic_scale.numpy()) == 2.0**14
    assert int(gan.d_optimizer.iterations.numpy()) == 0
    assert int(gan.g_optimizer.iterations.numpy()) == 1
    update = _update(before["generator"], after["generator"])
    assert np.isfinite(update).all() and np.abs(update).max() > 0


def test_upstream_loss_scale_optimizer_checks_replica_0_only(mirrored_strategy):
    """Keras' LossScaleOptimizer alone applies an overflow that only replica 1 has.

    The reason for `precision.agree_on_finiteness`; when this test fails, Keras
    tests the all-reduced gradients and the workaround can go.
    """
    with mirrored_strategy.scope():
        variable = keras.Variable(np.ones(3, np.float32))
        optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1))
        optimizer.build([variable])

    @tf.function
    def step():
        def replica_fn():
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            grad = tf.where(tf.equal(replica, 1), tf.fill([3], np.inf), tf.ones([3]))
            optimizer.apply_gradients([(grad, variable)])

        mirrored_strategy.run(replica_fn)

    step()
    assert not np.isfinite(variable.numpy()).any()


def test_policy_scope_restores_the_policy_after_an_error():
    keras.config.set_dtype_policy("float32")
    with pytest.raises(RuntimeError), precision.policy_scope("bf16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"


def test_bad_value_is_refused_with_the_allowed_values(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"train\.mixed_precision.*off, bf16, fp16"):
        train_lib.resolve_config("dcgan", **{"train.mixed_precision": "fp8"})
    # YAML reads a bare `off` as false: both mean float32.
    config = train_lib.resolve_config("dcgan", overrides=["train.mixed_precision=off"])
    assert config.train.mixed_precision == "off"
    # The flag, in process (a subprocess would spend its time importing TensorFlow).
    argv = ["ganzoo.train", "--mixed_precision=fp8", f"--model_dir={tmp_path / 'run'}"]
    verbosity = logging.get_verbosity()
    train_cli.FLAGS(argv)
    try:
        with pytest.raises(SystemExit) as exited:
            train_cli.main(argv[:1])
    finally:
        train_cli.FLAGS.unparse_flags()
        logging.set_verbosity(verbosity)
    stderr = capsys.readouterr().err
    assert exited.value.code == 2
    assert "train.mixed_precision" in stderr and "off, bf16, fp16" in stderr
    assert not (tmp_path / "run").exists()


def test_bf16_run_records_the_policy_checkpoints_and_resumes(tmp_path):
    run_dir = str(tmp_path / "run")
    overrides = TINY + ["train.mixed_precision=bf16"]
    config = train_lib.resolve_config("dcgan", overrides=overrides + ["train.steps=2"])
    train_lib.run(config, run_dir, verbose=0)
    assert keras.config.dtype_policy().name == "float32"  # restored after the run
    with open(os.path.join(run_dir, "config.yaml")) as f:
        assert yaml.safe_load(f)["train"]["mixed_precision"] == "bf16"
    checkpoint = keras.models.load_model(os.path.join(run_dir, "checkpoints",
                                                      "ckpt-00000002.keras"))
    assert precision.mode_of(checkpoint.generator, checkpoint.discriminator) == "bf16"
    served = tf.saved_model.load(os.path.join(run_dir, "saved_model", "1"))
    out = served.signatures["serving_default"](latent=tf.zeros([2, 8]))["images"]
    assert out.dtype == tf.float32
    with pytest.raises(ConfigError, match="train.mixed_precision: 'bf16' -> 'fp16'"):
        train_lib.run(train_lib.resolve_config(
            "dcgan", overrides=TINY + ["train.steps=4", "train.mixed_precision=fp16"]), run_dir)
    result = train_lib.run(train_lib.resolve_config(
        "dcgan", overrides=overrides + ["train.steps=4"]), run_dir, verbose=0)
    assert result["steps"] == 4
    assert precision.mode_of(result["model"].discriminator) == "bf16"
    assert result["model"].generate(3).dtype == np.float32
    assert ganzoo.load_gan(run_dir).g_optimizer.iterations.numpy() == 4


def test_auto_picks_bf16_where_measured_and_a_resumed_run_keeps_its_precision(
        tmp_path, monkeypatch):
    """`auto` (the default) is bf16 only for a measured family on a CPU with bf16; a
    resumed run keeps the precision its checkpoint was built in."""
    one = tf.distribute.get_strategy()
    config = train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=2"])
    assert config.train.mixed_precision == "auto"
    dcgan = tasks.get_task("dcgan")
    for bf16, expected in ((True, "bf16"), (False, "off"), (None, "off")):
        monkeypatch.setattr(hardware, "cpu_has_bf16", lambda bf16=bf16: bf16)
        assert hardware.default_precision(one, dcgan, config)[0] == expected, bf16
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda: True)
    two = types.SimpleNamespace(num_replicas_in_sync=2)
    assert hardware.default_precision(two, dcgan, config)[0] == "off"
    # cgan shares its task with acgan, worse in bf16 (precision.md): float32, and says so.
    assert hardware.default_precision(one, tasks.get_task("cgan"),
                                       train_lib.resolve_config("cgan"))[0] == "bf16"
    acgan = train_lib.resolve_config("acgan")
    mode, reason = hardware.default_precision(one, tasks.get_task("acgan"), acgan)
    assert mode == "off" and "acgan has not been measured" in reason

    run_dir = str(tmp_path / "run")
    result = train_lib.run(config, run_dir, verbose=0)
    assert precision.mode_of(result["model"].generator, result["model"].discriminator) == "bf16"
    with open(os.path.join(run_dir, "run.json")) as f:
        speed = json.load(f)["speed"]
    assert speed["mixed_precision"] == "bf16" and "fmnist-FID" in speed["mixed_precision_reason"]
    before = {p: os.path.getmtime(os.path.join(run_dir, p)) for p in os.listdir(run_dir)}
    with pytest.raises(ConfigError, match=r"'bf16'.*--mixed_precision=bf16 or auto"):
        train_lib.run(train_lib.resolve_config(
            "dcgan", overrides=TINY + ["train.steps=3", "train.mixed_precision=off"]), run_dir)
    assert before == {p: os.path.getmtime(os.path.join(run_dir, p)) for p in os.listdir(run_dir)}

    # A run started in float32 (every run before `auto` existed) resumes in float32.
    old_dir = str(tmp_path / "old")
    train_lib.run(train_lib.resolve_config(
        "dcgan", overrides=TINY + ["train.steps=2", "train.mixed_precision=off"]), old_dir,
        verbose=0)
    result = train_lib.run(train_lib.resolve_config(
        "dcgan", overrides=TINY + ["train.steps=3"]), old_dir, verbose=0)
    assert result["steps"] == 3
    assert precision.mode_of(result["model"].generator, result["model"].discriminator) == "off"
    with open(os.path.join(old_dir, "run.json")) as f:
        speed = json.load(f)["speed"]
    assert speed["mixed_precision"] == "off"
    assert speed["mixed_precision_reason"].startswith("resumed")
