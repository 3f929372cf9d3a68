"""Every registered model x every loss: builds, trains a step, saves and reloads.

A new model registered with `@register_model` is covered here with no new code.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import (
    UPDATE_RTOL,
    all_weights,
    build_tiny,
    compile_tiny,
    fit_steps,
    relative_update_error,
)

import ganzoo
from ganzoo import losses
from ganzoo.models.base import GAN

MODELS = ganzoo.list_models()


@pytest.mark.parametrize("loss", losses.list_losses())
@pytest.mark.parametrize("name", MODELS)
def test_one_step_every_model_and_loss(name, loss):
    gan, spec = build_tiny(name)
    compile_tiny(gan, loss=loss)
    # Eager but for one case: tracing is two thirds of a one-step test; every
    # family's graph-mode step is run by test_keras_round_trip_... and
    # test_distribute, and every loss's graph form by test_losses.
    gan.run_eagerly = (name, loss) != ("dcgan", "non_saturating")
    before = all_weights(gan)
    logs = fit_steps(gan, spec, steps=1)
    assert logs, "train_step returned no metrics"
    for key, value in logs.items():
        assert np.isfinite(value), f"{name}/{loss}: {key} = {value}"
    changed = [not np.array_equal(a, b) for a, b in zip(before, all_weights(gan))]
    assert any(changed), "no weight changed after a training step"
    assert int(gan.g_optimizer.iterations) == 1
    assert int(gan.d_optimizer.iterations) == gan.d_steps


@pytest.mark.parametrize("name", MODELS)
def test_keras_round_trip_restores_weights_and_optimizers(name, tmp_path):
    gan, spec = build_tiny(name)
    compile_tiny(gan)
    fit_steps(gan, spec, steps=2)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    reloaded = _load(path)
    assert type(reloaded) is type(gan)
    for a, b in zip(gan.variables, reloaded.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for opt in ("d_optimizer", "g_optimizer"):
        ours, theirs = getattr(gan, opt), getattr(reloaded, opt)
        assert len(ours.variables) == len(theirs.variables) > 1
        for a, b in zip(ours.variables, theirs.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{opt} {a.path}")
    ours, theirs = gan.get_config(), reloaded.get_config()
    for key in set(ours) - {"generator", "discriminator"}:
        assert ours[key] == theirs[key], key
    for net in ("generator", "discriminator"):
        layers = [type(layer).__name__ for layer in getattr(gan, net).layers]
        assert layers == [type(layer).__name__ for layer in getattr(reloaded, net).layers]
    np.testing.assert_array_equal(gan.generate(4, seed=7), reloaded.generate(4, seed=7))
    # Training continues from the restored step with the restored optimizer state.
    fit_steps(gan, spec, steps=1, seed=1)
    fit_steps(reloaded, spec, steps=1, seed=1)
    assert int(reloaded.g_optimizer.iterations) == 3
    for a, b in zip(all_weights(gan), all_weights(reloaded)):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_generate_is_seeded(name):
    gan, _ = build_tiny(name)
    a = gan.generate(5, seed=1)
    np.testing.assert_array_equal(a, gan.generate(5, seed=1))
    assert not np.array_equal(a, gan.generate(5, seed=2))
    assert np.all(np.abs(a) <= 1.0 + 1e-6) or a.ndim == 2


def test_jit_compiled_step_matches_graph_mode(monkeypatch):
    """Two XLA-compiled steps update G and D as graph mode does (`UPDATE_RTOL`).

    XLA's stateless Philox draws another (still deterministic) noise stream than
    the TF kernel for runtime seeds, so both runs take their noise from one table
    indexed by (step, draw); everything else is the real `train_step`. Plain SGD,
    so an update is proportional to the gradient (see tests/test_distribute.py).
    """
    steps, latent_dim = 2, 8
    table = np.random.default_rng(0).normal(size=(steps, 2, 8, latent_dim)).astype("float32")

    def table_noise(self, batch_size, draw, dim=None):
        step = tf.cast(self.g_optimizer.iterations, tf.int32)
        return tf.constant(table)[step, draw, :batch_size, :dim or self.latent_dim]

    monkeypatch.setattr(GAN, "_noise", table_noise)
    before, after = None, []
    for jit in (False, True):
        gan, spec = build_tiny("dcgan", seed=3)
        assert gan.latent_dim == latent_dim and gan.d_steps == 1
        gan.compile(d_optimizer=keras.optimizers.SGD(0.01),
                    g_optimizer=keras.optimizers.SGD(0.01), jit_compile=jit)
        assert gan.jit_compile == jit
        initial = all_weights(gan)
        if before is not None:
            for a, b in zip(before, initial, strict=True):
                np.testing.assert_array_equal(a, b)
        before = initial
        logs = fit_steps(gan, spec, steps=steps)
        assert all(np.isfinite(v) for v in logs.values()), logs
        after.append(all_weights(gan))
    n = len(gan.generator.weights)
    for part in (slice(0, n), slice(n, None)):  # G, then D
        error = relative_update_error(before[part], after[0][part], after[1][part])
        assert error <= UPDATE_RTOL, (part, error)


def test_unconditional_model_rejects_labels():
    gan, _ = build_tiny("dcgan")
    with pytest.raises(ValueError, match="unconditional"):
        gan.generate(2, labels=[0, 1])


def test_conditions_are_declared_by_the_family():
    gan, _ = build_tiny("dcgan")
    assert gan.generate(2, seed=1, labels=None).shape[0] == 2  # None: not given
    with pytest.raises(ValueError, match=r"takes no conditions \(got codes, style\)"):
        gan.generate(2, style=1, codes=[[0.0]])


def _load(path):
    import keras

    return keras.models.load_model(path)
