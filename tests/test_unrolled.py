"""Unrolled GAN (Metz et al. 2017): look-ahead D copies, gradients through them."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import build_tiny, compile_tiny, fit_steps, tiny_batch

from ganzoo.config import ModelConfig
from ganzoo.data import DataSpec, toy
from ganzoo.models import unrolled
from ganzoo.models.vanilla import VanillaGAN

SPEC = DataSpec("ring8", (2,), num_classes=8)


def smooth_gan(optimizer, steps, seed=0):
    # tanh units and no dropout: D is smooth and deterministic, so finite
    # differences of G's unrolled loss are meaningful.
    config = ModelConfig(name="vanilla", architecture="mlp", width=6, latent_dim=3,
                         generator={"hidden_layers": 1, "activation": "tanh"},
                         discriminator={"hidden_layers": 1, "activation": "tanh",
                                        "dropout": 0.0, "input_dropout": 0.0},
                         options={"unrolled_steps": steps})
    gan = VanillaGAN.from_data_spec(SPEC, config, seed=seed)
    gan.compile(d_optimizer=optimizer, g_optimizer=keras.optimizers.SGD(0.1))
    return gan


def batch_for(gan, seed=0, real=None):
    labels = np.arange(8, dtype=np.int32) % 8
    if real is None:
        real, labels = toy.sample_mixture("ring8", 8, seed)
    batch = {"real": tf.constant(real), "labels": tf.constant(labels)}
    inputs, batch["extras"] = gan._sample_generator_inputs(8, batch["labels"], draw=1)
    return batch, inputs


def generator_loss_and_grads(gan, steps, real=None):
    """G's loss after `steps` look-ahead D updates, and its gradient w.r.t. G."""
    gan.unrolled_steps = steps
    batch, inputs = batch_for(gan, real=real)
    with tf.GradientTape() as tape:
        batch["fake"] = gan.generator(inputs, training=True)
        with gan._unrolled_discriminator(batch):
            out = gan._discriminate(batch["fake"], batch, training=True)
            loss = tf.reduce_mean(gan._generator_terms(out, batch)["adversarial"])
    return float(loss), tape.gradient(loss, gan.generator.trainable_variables)


def d_state(gan):
    return [v.numpy().copy() for v in gan.discriminator.variables + gan.d_optimizer.variables]


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum"])
def test_unrolling_leaves_d_unchanged_and_changes_g_gradient(optimizer):
    opt = (keras.optimizers.Adam(0.05, beta_1=0.5) if optimizer == "adam"
           else keras.optimizers.SGD(0.5, momentum=0.9))
    gan = smooth_gan(opt, steps=3)
    # Non-zero optimizer slots, so the look-ahead starts from a real state.
    fit_steps(gan, SPEC, steps=2)
    before = d_state(gan)
    _, plain = generator_loss_and_grads(gan, 0)
    _, looked_ahead = generator_loss_and_grads(gan, 3)
    for a, b in zip(before, d_state(gan)):
        np.testing.assert_array_equal(a, b)
    plain = np.concatenate([g.numpy().ravel() for g in plain])
    looked_ahead = np.concatenate([g.numpy().ravel() for g in looked_ahead])
    assert np.all(np.isfinite(looked_ahead))
    assert np.abs(plain - looked_ahead).max() > 1e-3 * np.abs(plain).max()


def test_gradient_flows_through_the_unrolled_updates():
    # Autodiff of f(theta_G) = L_G(G, D after k SGD steps that depend on G) must
    # match central finite differences of f; with the D updates treated as
    # constants (no backprop through unrolling) it would not.
    gan = smooth_gan(keras.optimizers.SGD(1.0), steps=2)
    kernel = gan.generator.get_layer("output").kernel
    _, grads = generator_loss_and_grads(gan, 2)
    position = [v is kernel for v in gan.generator.trainable_variables].index(True)
    analytic = grads[position].numpy()
    eps = 1e-2
    for index in [(0, 0), (3, 1)]:
        original = kernel.numpy()
        values = []
        for sign in (1, -1):
            shifted = original.copy()
            shifted[index] += sign * eps
            kernel.assign(shifted)
            values.append(generator_loss_and_grads(gan, 2)[0])
        kernel.assign(original)
        numeric = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(analytic[index], numeric, rtol=0.05, atol=1e-4)


def test_unrolled_training_step():
    gan = smooth_gan(keras.optimizers.Adam(1e-3, beta_1=0.5), steps=2)
    d_before = [v.numpy() for v in gan.discriminator.trainable_variables]
    logs = fit_steps(gan, SPEC, steps=2)
    assert all(np.isfinite(v) for v in logs.values())
    assert int(gan.d_optimizer.iterations) == 2  # only the real D steps count
    assert any(not np.array_equal(a, b.numpy()) for a, b in
               zip(d_before, gan.discriminator.trainable_variables))


def test_any_family_accepts_the_option():
    # DCGAN: batch norm in D, whose moving statistics the look-ahead must not touch.
    gan, spec = build_tiny("dcgan", unrolled_steps=2)
    assert gan.get_config()["unrolled_steps"] == 2
    compile_tiny(gan)
    real = tiny_batch(spec)[0]
    _, plain = generator_loss_and_grads(gan, 0, real=real)  # updates D's BN statistics
    before = d_state(gan)
    _, looked_ahead = generator_loss_and_grads(gan, 2, real=real)
    for a, b in zip(before, d_state(gan)):
        np.testing.assert_array_equal(a, b)
    assert all(np.all(np.isfinite(g.numpy())) for g in looked_ahead)
    assert any(not np.allclose(a.numpy(), b.numpy()) for a, b in zip(plain, looked_ahead))


def test_unsupported_optimizer_is_named():
    with pytest.raises(ValueError, match="Adam .* and SGD"):
        unrolled.update_rule(keras.optimizers.RMSprop(), [])
    with pytest.raises(ValueError, match="unrolled_steps must be >= 0"):
        smooth_gan(keras.optimizers.SGD(0.1), steps=-1)
