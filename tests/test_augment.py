"""DiffAugment (`ganzoo.augment`) and its one entry point, `GAN._augment_batch`."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import all_weights, build_tiny, compile_tiny, fit_steps, tiny_batch

from ganzoo import augment, losses, train_lib
from ganzoo.config import ConfigError
from ganzoo.data import DataSpec
from ganzoo.registry import get_model

SEED = tf.constant([3, 1024 * 5 + 2], tf.int64)


def _images(batch=8, size=16, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-1, 1, (batch, size, size, channels)).astype(np.float32))


# ------------------------------------------------------------------ policies
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize("policy", augment.POLICIES)
def test_policy_keeps_shape_and_dtype_and_changes_the_images(policy, dtype):
    x = tf.cast(_images(), dtype)
    out = augment.diff_augment(x, policy, SEED)
    assert out.shape == x.shape and out.dtype == x.dtype
    diff = tf.abs(tf.cast(out, tf.float32) - tf.cast(x, tf.float32))
    # Every image changes (a zero shift in both axes has probability 1/25 per image).
    changed = tf.reduce_max(diff, axis=[1, 2, 3]) > 1e-3
    assert int(tf.reduce_sum(tf.cast(changed, tf.int32))) >= 6


@pytest.mark.parametrize("policy", [*augment.POLICIES, "color,translation,cutout"])
def test_same_key_same_images_other_draw_other_images(policy):
    x = _images()
    a = augment.diff_augment(x, policy, SEED)
    np.testing.assert_array_equal(a, augment.diff_augment(x, policy, SEED))
    other = augment.diff_augment(x, policy, SEED + tf.constant([0, 1], tf.int64))
    assert not np.allclose(a, other)


@pytest.mark.parametrize("policy", augment.POLICIES)
def test_gradients_reach_the_images(policy):
    x = _images()
    weights = tf.random.stateless_normal(x.shape, seed=[1, 2])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(augment.diff_augment(x, policy, SEED) * weights)
    grad = tape.gradient(y, x)
    assert grad is not None
    assert np.all(np.isfinite(grad)) and float(tf.reduce_sum(tf.abs(grad))) > 0
    if policy != "color":  # a pixel that stays in the image passes its weight through
        assert np.count_nonzero(grad.numpy()) > grad.shape.num_elements() // 4


@pytest.mark.parametrize("policy", augment.POLICIES)
def test_xla_compiles_every_policy(policy):
    x = _images()
    fn = tf.function(lambda images: augment.diff_augment(images, policy, SEED),
                     jit_compile=True, autograph=False)
    out = fn(x)
    assert out.shape == x.shape
    # XLA's Philox is another stream: compare the transforms with fixed parameters.
    fixed = tf.function(lambda images: augment.translate(
        augment.cut_out(augment.adjust_color(images, [0.2] * 8, [1.5] * 8, [0.7] * 8),
                        [3] * 8, [9] * 8, (8, 8)), [2] * 8, [-1] * 8),
        jit_compile=True, autograph=False)
    eager = augment.translate(
        augment.cut_out(augment.adjust_color(x, [0.2] * 8, [1.5] * 8, [0.7] * 8),
                        [3] * 8, [9] * 8, (8, 8)), [2] * 8, [-1] * 8)
    np.testing.assert_allclose(fixed(x), eager, atol=1e-5)


def test_replica_slices_equal_the_global_batch():
    x = _images(batch=8)
    whole = augment.diff_augment(x, "color,translation,cutout", SEED)
    halves = [augment.diff_augment(x[4 * i:4 * i + 4], "color,translation,cutout", SEED,
                                   num_replicas=2, replica_id=i) for i in range(2)]
    np.testing.assert_array_equal(whole, tf.concat(halves, 0))


# ----------------------------------------------------- hand-made images
def test_translation_by_zero_is_the_identity_and_a_shift_pads_with_zeros():
    x = tf.reshape(tf.range(1, 17, dtype=tf.float32), [1, 4, 4, 1])
    np.testing.assert_array_equal(augment.translate(x, [0], [0]), x)
    moved = augment.translate(x, [1], [-2])[0, :, :, 0].numpy()
    expected = np.array([[0, 0, 0, 0], [3, 4, 0, 0], [7, 8, 0, 0], [11, 12, 0, 0]])
    np.testing.assert_array_equal(moved, expected)
    # The random policy shifts by at most 1/8 of the size (2 pixels of 16).
    ones = tf.ones([64, 16, 16, 1])
    out = augment.diff_augment(ones, "translation", SEED)
    rows = tf.reduce_sum(tf.reduce_max(out, axis=2), axis=[1, 2]).numpy()
    assert rows.min() >= 14 and rows.max() == 16


def test_cutout_zeroes_one_half_size_square_clipped_at_the_border():
    ones = tf.ones([2, 8, 8, 1])
    out = augment.cut_out(ones, [4, 0], [3, 7], (4, 4))[..., 0].numpy()
    first = np.ones((8, 8))
    first[2:6, 1:5] = 0
    second = np.ones((8, 8))
    second[0:2, 5:8] = 0  # rows [-2, 2) and columns [5, 9), clipped
    np.testing.assert_array_equal(out, np.stack([first, second]))
    # The random policy: one zero rectangle of at most 8x8 in a 16x16 image.
    out = augment.diff_augment(tf.ones([64, 16, 16, 1]), "cutout", SEED)[..., 0].numpy()
    for image in out:
        rows, cols = np.nonzero(image == 0)
        box = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert not box.any() and box.shape[0] <= 8 and box.shape[1] <= 8
        assert min(box.shape) >= 4  # a centre on the border still covers half the square


def test_color_matches_the_reference_formulas():
    x = _images(batch=2, size=4)
    out = augment.adjust_color(x, [0.3, -0.2], [0.5, 1.7], [1.2, 0.6]).numpy()
    ref = x.numpy() + np.array([0.3, -0.2])[:, None, None, None]
    mean = ref.mean(axis=3, keepdims=True)
    ref = (ref - mean) * np.array([0.5, 1.7])[:, None, None, None] + mean
    mean = ref.mean(axis=(1, 2, 3), keepdims=True)
    ref = (ref - mean) * np.array([1.2, 0.6])[:, None, None, None] + mean
    np.testing.assert_allclose(out, ref, atol=1e-5)


@pytest.mark.parametrize("policy", ["translation", "color,translation,cutout"])
def test_probability_applies_each_policy_to_about_that_share_of_images(policy):
    x = _images(batch=400, channels=1)
    always = augment.diff_augment(x, policy, SEED)
    half = augment.diff_augment(x, policy, SEED, probability=0.5)
    clean = np.all(half.numpy() == x.numpy(), axis=(1, 2, 3))
    same_as_always = np.all(half.numpy() == always.numpy(), axis=(1, 2, 3))
    # An image stays clean when no policy was applied, 0.5 ** n of them (a
    # translation by (0, 0), 1 in 25 at 16x16, also leaves one clean). The
    # parameters do not change with the probability: an image that drew every
    # policy equals the one augmented with probability 1.
    share = 0.5 ** len(augment.parse_policy(policy))
    assert abs(clean.mean() - share) < 0.08, clean.mean()
    assert abs(same_as_always.mean() - share) < 0.08, same_as_always.mean()
    np.testing.assert_array_equal(
        augment.diff_augment(x, policy, SEED, probability=1.0), always)


def test_probability_keeps_gradients_and_replica_slices():
    x = _images()
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(augment.diff_augment(x, "translation,cutout", SEED, probability=0.5))
    grad = tape.gradient(y, x)
    assert np.all(np.isfinite(grad)) and float(tf.reduce_sum(tf.abs(grad))) > 0
    whole = augment.diff_augment(x, "translation,cutout", SEED, probability=0.5)
    parts = [augment.diff_augment(x[i * 4:(i + 1) * 4], "translation,cutout", SEED,
                                  num_replicas=2, replica_id=i, probability=0.5)
             for i in range(2)]
    np.testing.assert_array_equal(whole, np.concatenate(parts))


@pytest.mark.parametrize("value", [0, -0.1, 1.5, "nan"])
def test_a_probability_outside_0_1_is_refused(value):
    with pytest.raises(ConfigError, match=r"train\.diffaugment_probability.*\(0, 1\]"):
        train_lib.resolve_config("dcgan", overrides=["train.diffaugment=translation",
                                                      f"train.diffaugment_probability={value}"])
    # The model takes numbers (a string is refused by the options' type check first).
    value = float(value) if value == "nan" else value
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        build_tiny("dcgan", diffaugment="translation", diffaugment_probability=value)


# --------------------------------------------------------- config and model
def test_unknown_policy_is_refused_naming_the_key_and_allowed_values():
    with pytest.raises(ConfigError, match=r"train\.diffaugment.*color, translation, cutout"):
        train_lib.resolve_config("dcgan", overrides=["train.diffaugment=translation,flip"])
    config = train_lib.resolve_config("dcgan", overrides=["train.diffaugment=translation,cutout"])
    assert config.train.diffaugment == "translation,cutout"
    with pytest.raises(ValueError, match="flip"):
        build_tiny("dcgan", diffaugment="flip")


def test_vector_data_is_refused():
    config = train_lib.resolve_config("vanilla", overrides=["data.name=ring8",
                                                            "train.diffaugment=cutout"])
    with pytest.raises(ConfigError, match="train.diffaugment.*vectors"):
        train_lib.build_model(config, DataSpec("ring8", (2,)))


def _one_step(name, diffaugment, d_steps=1):
    gan, spec = build_tiny(name, seed=1, diffaugment=diffaugment, d_steps=d_steps)
    compile_tiny(gan)
    before = all_weights(gan)
    fit_steps(gan, spec, steps=1)
    return gan, before


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_train_step_with_diffaugment_changes_the_discriminator_update(name):
    plain, before = _one_step(name, None)
    again, _ = _one_step(name, None)
    augmented, before_aug = _one_step(name, "translation,cutout")
    for a, b in zip(before, before_aug):
        np.testing.assert_array_equal(a, b)  # the same start ...
    d = len(plain.generator.weights)
    for a, b in zip(all_weights(plain)[d:], all_weights(again)[d:]):
        np.testing.assert_array_equal(a, b)  # ... a deterministic step ...
    moved = [not np.allclose(a, b) for a, b in zip(all_weights(plain)[d:],
                                                     all_weights(augmented)[d:])]
    assert any(moved)  # ... and another D update with augmentation.
    assert augmented.diffaugment == "translation,cutout"
    # Never at inference: the same weights sample the same images.
    plain_fresh, _ = build_tiny(name, seed=1)
    augmented_fresh, _ = build_tiny(name, seed=1, diffaugment="translation,cutout")
    np.testing.assert_array_equal(plain_fresh.generate(4, seed=3),
                                  augmented_fresh.generate(4, seed=3))


def test_the_supervised_only_ssgan_baseline_augments_too():
    # unsupervised_weight=0 has its own D step (no fakes): it goes through the same funnel.
    runs = []
    for policy in (None, "translation,cutout"):
        gan, spec = build_tiny("ssgan", seed=1, diffaugment=policy, unsupervised_weight=0.0)
        compile_tiny(gan)
        fit_steps(gan, spec, steps=1)
        runs.append([w.numpy() for w in gan.discriminator.weights])
    assert any(not np.allclose(a, b) for a, b in zip(*runs))


def test_gradient_penalty_interpolates_augmented_images(monkeypatch):
    seen = {}
    original = losses.gradient_penalty

    def spy(critic_fn, real, fake, alpha, **kwargs):
        seen.update(real=np.asarray(real), fake=np.asarray(fake))
        return original(critic_fn, real, fake, alpha, **kwargs)

    monkeypatch.setattr(losses, "gradient_penalty", spy)
    policy = "color,translation,cutout"
    gan, spec = build_tiny("wgan_gp", seed=1, diffaugment=policy)
    compile_tiny(gan)
    gan.run_eagerly = True
    fit_steps(gan, spec, steps=1)
    x, _ = tiny_batch(spec, 8)
    # Step 0, draw 0; the real images are augmented with draw + 300.
    seed = tf.constant([gan.seed, 300], tf.int64)
    np.testing.assert_allclose(seen["real"], augment.diff_augment(x, policy, seed), atol=1e-6)
    # The fakes went through the cutout: some whole rows of pixels are exactly 0.
    assert np.sum(seen["fake"] == 0) >= 8 * 16


def test_diffaugment_survives_a_keras_round_trip(tmp_path):
    gan, spec = build_tiny("dcgan", diffaugment="translation,cutout", diffaugment_probability=0.5)
    compile_tiny(gan)
    fit_steps(gan, spec, steps=1)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.get_config()["diffaugment"] == "translation,cutout"
    assert reloaded.diffaugment_probability == 0.5
    assert reloaded._augment_policy == ("translation", "cutout")
    fit_steps(gan, spec, steps=1, seed=1)
    fit_steps(reloaded, spec, steps=1, seed=1)
    for a, b in zip(all_weights(gan), all_weights(reloaded)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert get_model("dcgan").from_config(gan.get_config()).diffaugment == "translation,cutout"
