"""Spectral normalisation of the critic (`model.discriminator.spectral_norm: true`)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import IMAGE_SPEC, all_weights, fit_steps

from ganzoo import finetune, train_lib
from ganzoo.config import ModelConfig
from ganzoo.data import DataSpec
from ganzoo.models import networks
from ganzoo.models.spectral_norm import SpectralNormalization
from ganzoo.registry import get_model


def _sigma(kernel):
    kernel = np.asarray(kernel)
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


@pytest.mark.parametrize("make_layer, shape", [
    (lambda: keras.layers.Dense(12), (5, 20)),
    (lambda: keras.layers.Conv2D(6, 3), (2, 8, 8, 4)),
])
def test_the_layer_computes_with_unit_spectral_norm_after_power_iterations(make_layer, shape):
    # Built after seeding (not at collection), so the result does not depend on test order.
    keras.utils.set_random_seed(0)
    layer = make_layer()
    wrapped = networks.maybe_spectral_norm(layer, True)
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    wrapped(x)
    layer.kernel.assign(3.0 * layer.kernel.numpy() / _sigma(layer.kernel))
    stored = layer.kernel.numpy()
    for _ in range(50):  # one power iteration per training call
        wrapped(x, training=True)
    assert _sigma(wrapped.normalized_kernel()) == pytest.approx(1.0, abs=0.01)
    np.testing.assert_array_equal(stored, layer.kernel.numpy())  # W itself is never rescaled
    # The layer's output is the wrapped layer's with W / sigma: the same numbers as the
    # layer given the normalised kernel.
    expected = _with_kernel(layer, wrapped.normalized_kernel(), x)
    np.testing.assert_allclose(wrapped(x), expected, rtol=1e-5, atol=1e-5)
    u = wrapped.vector_u.numpy()
    wrapped(x, training=False)  # inference moves neither the weights nor u
    np.testing.assert_array_equal(u, wrapped.vector_u.numpy())
    np.testing.assert_array_equal(stored, layer.kernel.numpy())


def test_a_frozen_layer_still_computes_with_the_normalised_kernel():
    # Frozen (FreezeD, or D frozen in a Keras GAN), the kernel is a non-trainable variable:
    # it is replaced there too, and D's first blocks are the wrappers (finetune).
    keras.utils.set_random_seed(4)
    x = np.random.default_rng(4).normal(size=(3, 6)).astype(np.float32)
    dense = keras.layers.Dense(4)
    wrapped = networks.maybe_spectral_norm(dense, True)
    wrapped(x)
    dense.kernel.assign(5.0 * dense.kernel.numpy())
    wrapped.trainable = False
    np.testing.assert_allclose(wrapped(x), _with_kernel(dense, wrapped.normalized_kernel(), x),
                               rtol=1e-5, atol=1e-5)
    d = networks.dcgan_discriminator((16, 16, 1), width=8, norm="none", spectral_norm=True)
    blocks = finetune.discriminator_blocks(d)
    assert len(blocks) >= 3 and all(isinstance(b[0], SpectralNormalization) for b in blocks)


def _with_kernel(layer, kernel, x):
    saved = layer.kernel.numpy()
    layer.kernel.assign(kernel)
    try:
        return layer(x).numpy()
    finally:
        layer.kernel.assign(saved)


def test_the_gradient_flows_through_the_division_as_in_the_paper():
    """Miyato et al. eq. (12): once u has converged, dL/dW of the wrapped layer is the
    gradient of L(W / sigma_max(W)) with the exact largest singular value (TF's SVD,
    differentiated by TF), including the term -(1/sigma) <dL/dW_SN, W_SN> u v^T.
    `keras.layers.SpectralNormalization` (a projection: kernel overwritten by W / sigma,
    then a plain call) lacks that term, so its gradient differs."""
    keras.utils.set_random_seed(1)
    x = np.random.default_rng(1).normal(size=(3, 7)).astype(np.float32)
    dense = keras.layers.Dense(5)
    wrapped = networks.maybe_spectral_norm(dense, True)
    wrapped(x)
    for _ in range(200):
        wrapped(x, training=True)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.sin(wrapped(x)))
    ours = tape.gradient(loss, dense.kernel)
    kernel = tf.convert_to_tensor(dense.kernel)
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        sigma = tf.linalg.svd(kernel, compute_uv=False)[0]
        exact = tf.reduce_sum(tf.sin(x @ (kernel / sigma) + dense.bias))
    paper = tape.gradient(exact, kernel)
    np.testing.assert_allclose(ours, paper, atol=2e-6)
    projection = keras.layers.Dense(5)
    projection.build(x.shape)
    projection.set_weights([(kernel / sigma).numpy(), dense.bias.numpy()])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.sin(projection(x)))
    assert np.abs(tape.gradient(loss, projection.kernel) - paper).max() > 1e-2


def test_it_computes_in_the_layers_mixed_precision_and_trains_mirrored(mirrored_strategy):
    keras.utils.set_random_seed(2)
    x = np.random.default_rng(2).normal(size=(4, 8, 8, 3)).astype(np.float32)
    conv = keras.layers.Conv2D(4, 3, dtype="mixed_bfloat16")
    wrapped = networks.maybe_spectral_norm(conv, True, dtype="mixed_bfloat16")
    out = wrapped(x, training=True)
    assert out.dtype == "bfloat16" and conv.kernel.dtype == "float32"
    strategy = mirrored_strategy
    with strategy.scope():
        keras.utils.set_random_seed(3)
        mirrored = networks.maybe_spectral_norm(keras.layers.Dense(3), True)
        mirrored(x[:, 0, 0])

    @tf.function
    def step(batch):
        def replica(b):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(mirrored(b, training=True))
            return tape.gradient(loss, mirrored.layer.kernel)
        return strategy.run(replica, (batch,))

    grads = step(tf.constant(x[:, 0, 0]))
    assert all(np.all(np.isfinite(g)) for g in strategy.experimental_local_results(grads))
    u = [v.numpy() for v in strategy.experimental_local_results(mirrored.vector_u.value)]
    np.testing.assert_array_equal(u[0], u[1])  # one u for every replica


def test_switch_is_off_by_default():
    d = networks.dcgan_discriminator((16, 16, 1), width=8)
    assert not any(isinstance(x, SpectralNormalization) for x in d.layers)


@pytest.mark.parametrize("architecture", ["dcgan", "resnet"])
def test_every_critic_kernel_is_wrapped(architecture):
    arch = networks.get_architecture(architecture)
    d = arch.discriminator((16, 16, 1), width=8, heads={"logits": 1, "aux": 3},
                           norm="none", spectral_norm=True)
    wrapped = {id(x.layer) for x in d.layers if isinstance(x, SpectralNormalization)}
    kernels = [x for x in d.layers if isinstance(x, (keras.layers.Conv2D, keras.layers.Dense))]
    assert not kernels, "an unwrapped Conv2D/Dense"
    assert len(wrapped) >= 3
    out = d(np.zeros((2, 16, 16, 1), np.float32))
    assert out["logits"].shape == (2, 1) and out["aux"].shape == (2, 3)


def test_config_switch_trains_saves_and_reloads(tmp_path):
    config = train_lib.resolve_config(
        "wgan_gp", overrides=["model.discriminator.spectral_norm=true", "model.width=8",
                              "model.latent_dim=8", "train.d_steps=1"])
    gan = train_lib.build_model(config, DataSpec("tiny", (16, 16, 1), 10))
    sn = [x for x in gan.discriminator.layers if isinstance(x, SpectralNormalization)]
    assert len(sn) == 3  # two convolutions and the logits head
    gan.compile(loss="hinge", run_eagerly=True)  # eager: no tracing cost on 2 CPU cores
    logs = fit_steps(gan, IMAGE_SPEC, steps=2)
    assert all(np.isfinite(v) for v in logs.values())
    for layer in sn:  # the kernel each layer computes with, after 8 power iterations
        # from a random u: the estimate is a lower bound of sigma, so >= 1 (1.053 measured)
        assert 1.0 - 1e-6 <= _sigma(layer.normalized_kernel()) <= 1.07
    path = str(tmp_path / "sn.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)
    assert type(reloaded) is get_model("wgan_gp")
    for a, b in zip(gan.variables, reloaded.variables):  # power-iteration vectors included
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    np.testing.assert_array_equal(gan.generate(3, seed=1), reloaded.generate(3, seed=1))
    for model in (gan, reloaded):
        model.run_eagerly = True
        fit_steps(model, IMAGE_SPEC, steps=1, seed=1)
    for a, b in zip(all_weights(gan), all_weights(reloaded)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_model_config_key_reaches_the_builder():
    config = ModelConfig(name="dcgan", width=8, latent_dim=8, discriminator={"spectral_norm": True})
    gan = get_model("dcgan").from_data_spec(IMAGE_SPEC, config)
    assert any(isinstance(x, SpectralNormalization) for x in gan.discriminator.layers)
