"""cGAN (concat / projection) and AC-GAN: inputs, sampling errors, loss terms, export."""

import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import IMAGE_SPEC, build_tiny, compile_tiny

from ganzoo import export
from ganzoo.config import ConfigError, ModelConfig
from ganzoo.data import DataSpec
from ganzoo.models.conditional import ACGAN, ConditionalGAN

K = IMAGE_SPEC.num_classes


@pytest.fixture(scope="module")
def cgan():
    return compile_tiny(build_tiny("cgan")[0])


@pytest.fixture(scope="module")
def projection():
    return compile_tiny(build_tiny("cgan", conditioning="projection")[0])


@pytest.fixture(scope="module")
def acgan():
    return compile_tiny(build_tiny("acgan")[0])


def test_networks_take_the_promised_inputs(cgan, projection, acgan):
    for gan in (cgan, projection, acgan):
        latent, labels = gan.generator.inputs
        assert latent.shape == (None, 8) and latent.dtype == "float32"
        assert labels.shape == (None,) and labels.dtype == "int32"
        assert gan.num_classes == K
    for gan in (cgan, projection):
        images, labels = gan.discriminator.inputs
        assert images.shape == (None, 16, 16, 1) and labels.shape == (None,)
    assert acgan.discriminator.output["class_logits"].shape == (None, K)
    # concat: the body sees K one-hot label maps as extra channels.
    assert cgan.discriminator.get_layer("discriminator_body").input.shape == (None, 16, 16, 1 + K)


def test_generate_follows_labels_and_defaults_to_cycling(cgan):
    latent = cgan.sample_latent(12, seed=0)
    _, labels = cgan.generator_inputs(latent)
    np.testing.assert_array_equal(labels.numpy(), np.arange(12) % K)
    _, labels = cgan.generator_inputs(latent[:3], labels=7)  # a scalar is broadcast
    np.testing.assert_array_equal(labels.numpy(), [7, 7, 7])
    sevens, ones = cgan.generate(4, seed=0, labels=7), cgan.generate(4, seed=0, labels=1)
    assert sevens.shape == (4, 16, 16, 1)
    assert not np.allclose(sevens, ones), "the label does not reach the generator"


@pytest.mark.parametrize("labels, match", [
    ([0, 1, 10], r"in \[0, 10\); got \[10\]"),
    ([-1, 0, 1], r"in \[0, 10\); got \[-1\]"),
    ([0, 1], r"shape \[3\]"),
    ([[0], [1], [2]], r"shape \[3\]"),
    ([0.5, 1, 2], "integer class ids"),
])
def test_bad_labels_give_clear_errors(cgan, labels, match):
    with pytest.raises(ValueError, match=match):
        cgan.generate(3, labels=labels)


def test_codes_and_wrong_latent_are_rejected(acgan):
    with pytest.raises(ValueError, match="InfoGAN's structured codes"):
        acgan.generate(2, codes=np.zeros((2, 12), np.float32))
    with pytest.raises(ValueError, match="`labels` only; it takes no style"):
        acgan.generate(2, labels=[0, 1], style=3)
    with pytest.raises(ValueError, match=r"expected \[batch, 8\]"):
        acgan.generator_inputs(np.zeros((2, 5), np.float32), labels=[0, 1])


def test_projection_logit_is_psi_plus_inner_product(projection):
    d = projection.discriminator
    x = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype(np.float32)
    y = np.array([0, 3, 3, 9], np.int32)
    out = d([x, y], training=False)
    phi = out["features"].numpy()
    embed = d.get_layer("label_embedding").embeddings.numpy()
    psi = d.get_layer("logits")
    expected = phi @ psi.kernel.numpy() + psi.bias.numpy() + np.sum(embed[y] * phi, -1)[:, None]
    np.testing.assert_allclose(out["logits"].numpy(), expected, rtol=1e-5, atol=1e-5)
    other = d([x, np.array([1, 3, 4, 9], np.int32)], training=False)["logits"].numpy()
    assert not np.allclose(other[[0, 2]], expected[[0, 2]])
    np.testing.assert_allclose(other[[1, 3]], expected[[1, 3]], rtol=1e-6)


def test_cgan_trains_g_on_the_real_labels(cgan):
    labels = tf.constant([4, 2, 2, 9])
    (noise, fake_labels), extras = cgan._sample_generator_inputs(4, labels, draw=1)
    assert noise.shape == (4, 8)
    np.testing.assert_array_equal(fake_labels.numpy(), labels.numpy())
    np.testing.assert_array_equal(extras["labels"].numpy(), labels.numpy())


def test_acgan_samples_labels_and_adds_class_terms(acgan):
    real_labels = tf.constant([0, 1, 2, 3, 4, 5, 6, 7])
    (_, fake_labels), extras = acgan._sample_generator_inputs(8, real_labels, draw=0)
    again = acgan._sample_generator_inputs(8, real_labels, draw=0)[1]["labels"]
    other = acgan._sample_generator_inputs(8, real_labels, draw=1)[1]["labels"]
    np.testing.assert_array_equal(fake_labels.numpy(), again.numpy())  # stateless
    assert not np.array_equal(fake_labels.numpy(), other.numpy())
    assert fake_labels.dtype == tf.int32 and np.all((fake_labels >= 0) & (fake_labels < K))
    # Class terms are the cross-entropies by hand, real and fake rows for D, fake for G.
    rng = np.random.default_rng(1)
    real, fake = ({"logits": tf.zeros([8]),
                   "class_logits": tf.constant(rng.normal(size=(8, K)), tf.float32)}
                  for _ in range(2))
    batch = {"labels": real_labels, "extras": extras}

    def ce(logits, labels):
        logits = logits.numpy().astype(np.float64)
        log_z = np.log(np.exp(logits).sum(-1))
        return log_z - logits[np.arange(len(labels)), np.asarray(labels)]

    d_terms = acgan._discriminator_terms(real, fake, batch)
    assert set(d_terms) == {"adversarial", "d_class_real", "d_class_fake"}
    np.testing.assert_allclose(d_terms["d_class_real"], ce(real["class_logits"], real_labels),
                               rtol=1e-5)
    np.testing.assert_allclose(d_terms["d_class_fake"], ce(fake["class_logits"], fake_labels),
                               rtol=1e-5)
    g_terms = acgan._generator_terms(fake, batch)
    np.testing.assert_allclose(g_terms["g_class"], ce(fake["class_logits"], fake_labels),
                               rtol=1e-5)
    np.testing.assert_allclose(g_terms["adversarial"], np.log1p(np.exp(-0.0)) * np.ones(8),
                               rtol=1e-6)


def test_sample_grid_has_one_row_per_class(cgan):
    grid = cgan.sample_grid(seed=0)
    assert grid.shape == (K * 17 + 1, 10 * 17 + 1, 1) and grid.dtype == np.uint8


@pytest.mark.parametrize("fixture", ["cgan"])
def test_saved_model_signature_takes_latent_and_labels(fixture, request, tmp_path):
    gan = request.getfixturevalue(fixture)
    path = export.export_generator(gan, str(tmp_path / "1"))
    signature = tf.saved_model.load(path).signatures["serving_default"]
    specs = signature.structured_input_signature[1]
    assert specs["latent"].shape.as_list() == [None, 8] and specs["latent"].dtype == tf.float32
    assert specs["labels"].shape.as_list() == [None] and specs["labels"].dtype == tf.int32
    labels = np.array([3, 1, 4, 1, 5], np.int32)
    images = signature(latent=tf.constant(gan.sample_latent(5, seed=2)),
                       labels=tf.constant(labels))["images"].numpy()
    np.testing.assert_allclose(images, gan.generate(5, seed=2, labels=labels), atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be < 10"):
        signature(latent=tf.constant(gan.sample_latent(1)), labels=tf.constant([10]))


def test_vector_data_concatenates_the_label_to_the_input():
    spec = DataSpec("toy", (2,), num_classes=8)
    config = ModelConfig(name="cgan", architecture="mlp", width=8, latent_dim=4)
    gan = compile_tiny(ConditionalGAN.from_data_spec(spec, config))
    assert gan.discriminator.get_layer("discriminator_body").input.shape == (None, 2 + 8)
    x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    gan.fit(tf.data.Dataset.from_tensors((x, np.arange(8) % 8)).repeat(), steps_per_epoch=1,
            verbose=0)
    assert gan.generate(3, labels=[0, 5, 7]).shape == (3, 2)
    assert gan.sample_grid().ndim == 3


def test_config_errors_name_the_key():
    spec = IMAGE_SPEC
    with pytest.raises(ConfigError, match="conditioning"):
        ConditionalGAN.from_data_spec(
            spec, ModelConfig(name="cgan", width=8, latent_dim=8,
                              options={"conditioning": "multiply"}))
    unlabeled = DataSpec("folder:x", (16, 16, 1), num_classes=0)
    with pytest.raises(ConfigError, match="needs class labels"):
        ACGAN.from_data_spec(unlabeled, ModelConfig(name="acgan", width=8, latent_dim=8))
