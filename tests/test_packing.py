"""PacGAN packing (Lin et al. 2018): D judges packs of m examples of one source."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import IMAGE_SPEC, all_weights, build_tiny, compile_tiny, fit_steps

from ganzoo.config import ConfigError, ModelConfig
from ganzoo.data import DataSpec
from ganzoo.models.base import packed_shape
from ganzoo.models.vanilla import VanillaGAN

SPEC = DataSpec("ring8", (2,), num_classes=8)


def packed_vanilla(packing, spec=SPEC, seed=0):
    config = ModelConfig(name="vanilla", architecture="mlp", width=8, latent_dim=4,
                         discriminator={"dropout": 0.0, "input_dropout": 0.0},
                         options={"packing": packing})
    return VanillaGAN.from_data_spec(spec, config, seed=seed)


def test_packed_shape():
    assert packed_shape((2,), 1) == (2,)
    assert packed_shape((2,), 3) == (6,)
    assert packed_shape((16, 16, 1), 2) == (16, 16, 2)


def test_vectors_are_packed_end_to_end_in_row_order():
    gan = packed_vanilla(3)
    assert tuple(gan.discriminator.input.shape[1:]) == (6,)
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    packed = gan._pack(tf.constant(x)).numpy()
    np.testing.assert_array_equal(packed, [np.concatenate(x[0:3]), np.concatenate(x[3:6])])
    out = gan._discriminate(tf.constant(x), {}, training=False)
    assert out["logits"].shape == (2,)


def test_images_are_packed_along_channels():
    gan, _ = build_tiny("vanilla", packing=2)
    assert tuple(gan.discriminator.input.shape[1:]) == (16, 16, 2)
    x = np.random.default_rng(0).normal(size=(4, 16, 16, 1)).astype(np.float32)
    packed = gan._pack(tf.constant(x)).numpy()
    assert packed.shape == (2, 16, 16, 2)
    np.testing.assert_array_equal(packed[1, ..., 0], x[2, ..., 0])
    np.testing.assert_array_equal(packed[1, ..., 1], x[3, ..., 0])


def test_d_score_depends_on_the_pack_not_only_on_each_example():
    # The same example packed with different partners gets different logits:
    # what lets D see a lack of diversity.
    gan = packed_vanilla(2)
    a = tf.constant([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [-1.0, 0.5]])
    logits = gan._discriminate(a, {}, training=False)["logits"].numpy()
    assert logits.shape == (2,)
    assert abs(logits[0] - logits[1]) > 1e-6


def test_packed_gan_trains_and_round_trips(tmp_path):
    gan = packed_vanilla(2)
    gan.compile(loss="non_saturating")
    before = all_weights(gan)
    logs = fit_steps(gan, SPEC, steps=2, batch_size=8)
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert not np.array_equal(before[0], all_weights(gan)[0])
    gan.save(tmp_path / "packed.keras")
    loaded = keras.models.load_model(tmp_path / "packed.keras")
    assert isinstance(loaded, VanillaGAN) and loaded.packing == 2
    assert tuple(loaded.discriminator.input.shape[1:]) == (4,)
    for a, b in zip(all_weights(gan), all_weights(loaded), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.generate(5, seed=1), gan.generate(5, seed=1))
    x = tf.constant(np.random.default_rng(1).normal(size=(6, 2)).astype(np.float32))
    np.testing.assert_array_equal(loaded._discriminate(x, {}, training=False)["logits"],
                                  gan._discriminate(x, {}, training=False)["logits"])


def test_batch_not_a_multiple_of_packing_is_refused():
    gan = packed_vanilla(3)
    with pytest.raises(ValueError, match="multiple of 3"):
        gan._pack(tf.zeros([4, 2]))


def test_families_with_labels_or_extra_heads_refuse_packing():
    for name in ("cgan", "acgan", "infogan", "ssgan"):
        with pytest.raises(ConfigError, match="packing"):
            build_tiny(name, packing=2)


def test_a_family_declares_whether_it_supports_packing():
    class Unpackable(VanillaGAN):
        supports_packing = False

    assert VanillaGAN.supports_packing
    packed_vanilla(2)
    config = ModelConfig(name="vanilla", architecture="mlp", width=8, latent_dim=4,
                         options={"packing": 2})
    with pytest.raises(ConfigError, match="Unpackable's has more"):
        Unpackable.from_data_spec(SPEC, config)


def test_packing_one_is_the_plain_gan():
    """`packing=1` builds and trains exactly the GAN built without the option."""
    packed = compile_tiny(packed_vanilla(1, IMAGE_SPEC, seed=3))
    config = ModelConfig(name="vanilla", architecture="mlp", width=8, latent_dim=4,
                         discriminator={"dropout": 0.0, "input_dropout": 0.0})
    plain = compile_tiny(VanillaGAN.from_data_spec(IMAGE_SPEC, config, seed=3))
    assert packed.packing == plain.packing == 1
    assert packed.discriminator.input.shape == plain.discriminator.input.shape
    x = tf.zeros([4, 16, 16, 1])
    assert packed._pack(x) is x
    for gan in (packed, plain):
        fit_steps(gan, IMAGE_SPEC, steps=2)
    for a, b in zip(all_weights(packed), all_weights(plain), strict=True):
        np.testing.assert_array_equal(a, b)
