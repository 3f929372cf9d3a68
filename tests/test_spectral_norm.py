"""Spectral normalisation of the critic (`model.discriminator.spectral_norm: true`)."""

import keras
import numpy as np
import pytest
from gan_test_utils import IMAGE_SPEC, all_weights, fit_steps

from ganzoo import train_lib
from ganzoo.config import ModelConfig
from ganzoo.data import DataSpec
from ganzoo.models import networks
from ganzoo.registry import get_model


def _sigma(kernel):
    kernel = np.asarray(kernel)
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


@pytest.mark.parametrize("make_layer, shape", [
    (lambda: keras.layers.Dense(12), (5, 20)),
    (lambda: keras.layers.Conv2D(6, 3), (2, 8, 8, 4)),
])
def test_kernel_has_unit_spectral_norm_after_power_iterations(make_layer, shape):
    # Built after seeding (not at collection), so the result does not depend on test order.
    keras.utils.set_random_seed(0)
    layer = make_layer()
    wrapped = networks.maybe_spectral_norm(layer, True)
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    wrapped(x)
    layer.kernel.assign(3.0 * layer.kernel.numpy() / _sigma(layer.kernel))
    assert _sigma(layer.kernel) == pytest.approx(3.0)
    for _ in range(50):  # one power iteration per training call
        wrapped(x, training=True)
    assert _sigma(layer.kernel) == pytest.approx(1.0, abs=0.01)
    before = layer.kernel.numpy()
    wrapped(x, training=False)  # inference leaves the weights alone
    np.testing.assert_array_equal(before, layer.kernel.numpy())


def test_switch_is_off_by_default():
    d = networks.dcgan_discriminator((16, 16, 1), width=8)
    assert not any(isinstance(x, keras.layers.SpectralNormalization) for x in d.layers)


@pytest.mark.parametrize("architecture", ["dcgan", "resnet"])
def test_every_critic_kernel_is_wrapped(architecture):
    arch = networks.get_architecture(architecture)
    d = arch.discriminator((16, 16, 1), width=8, heads={"logits": 1, "aux": 3},
                           norm="none", spectral_norm=True)
    wrapped = {id(x.layer) for x in d.layers if isinstance(x, keras.layers.SpectralNormalization)}
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
    sn = [x for x in gan.discriminator.layers if isinstance(x, keras.layers.SpectralNormalization)]
    assert len(sn) == 3  # two convolutions and the logits head
    gan.compile(loss="hinge", run_eagerly=True)  # eager: no tracing cost on 2 CPU cores
    logs = fit_steps(gan, IMAGE_SPEC, steps=2)
    assert all(np.isfinite(v) for v in logs.values())
    for layer in sn:  # normalised in the last step, then moved by one small Adam update
        assert _sigma(layer.layer.kernel) == pytest.approx(1.0, abs=0.05)
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
    assert any(isinstance(x, keras.layers.SpectralNormalization) for x in gan.discriminator.layers)
