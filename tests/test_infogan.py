"""InfoGAN: code formats and errors, the mutual-information term, Q heads, export, visuals."""

import math
import os

import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import build_tiny, compile_tiny

from ganzoo import export
from ganzoo.config import ConfigError
from ganzoo.models.infogan import InfoGAN, Traversals

K, C, LATENT = 10, 2, 8
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@pytest.fixture(scope="module")
def gan():
    return compile_tiny(build_tiny("infogan")[0])


def test_networks_have_code_inputs_and_q_heads(gan):
    assert gan.generator.input_shape == (None, LATENT + K + C)
    assert gan.code_dim == K + C
    out = gan.discriminator.output
    assert out["q_categorical"].shape == (None, K)
    assert out["q_continuous_mean"].shape == (None, C)
    assert "q_continuous_log_std" not in out
    # Q shares D's body: its hidden layer reads D's features.
    assert gan.discriminator.get_layer("q_hidden").input.shape == out["features"].shape


def test_code_formats_pack_to_the_same_vector(gan):
    cat = np.array([3, 0, 9])
    cont = np.array([[0.5, -1.0], [0.0, 0.25], [1.0, 1.0]], np.float32)
    packed = gan.pack_codes({"categorical": cat, "continuous": cont}, 3)
    assert packed.shape == (3, K + C) and packed.dtype == np.float32
    np.testing.assert_array_equal(packed[:, :K], np.eye(K)[cat])
    np.testing.assert_array_equal(packed[:, K:], cont)
    np.testing.assert_array_equal(gan.pack_codes(packed, 3), packed)  # one-hot form
    index_form = np.concatenate([cat[:, None], cont], axis=1).astype(np.float32)
    np.testing.assert_array_equal(gan.pack_codes(index_form, 3), packed)


def test_default_codes_cycle_categories_and_draw_continuous_from_the_seed(gan):
    packed = gan.pack_codes(None, 12, seed=1)
    np.testing.assert_array_equal(np.argmax(packed[:, :K], 1), np.arange(12) % K)
    assert np.all(np.abs(packed[:, K:]) <= 1)
    np.testing.assert_array_equal(packed, gan.pack_codes(None, 12, seed=1))
    assert not np.array_equal(packed[:, K:], gan.pack_codes(None, 12, seed=2)[:, K:])
    a = gan.generate(4, seed=0, codes={"categorical": [1] * 4})
    b = gan.generate(4, seed=0, codes={"categorical": [2] * 4})
    assert a.shape == (4, 16, 16, 1) and not np.allclose(a, b)


@pytest.mark.parametrize("codes, match", [
    (np.zeros((3, 5), np.float32), r"must be \[3, 12\] .* or a dict; got shape \[3, 5\]"),
    (np.zeros((2, 12), np.float32), r"got shape \[2, 12\]"),
    (np.full((3, 12), 0.5, np.float32), "one-hot rows"),
    ({"categorical": [0, 1, 10]}, r"in \[0, 10\); got \[10\]"),
    ({"categorical": [0, 1]}, r"shape \[3\]"),
    ({"continuous": np.zeros((3, 3))}, r"'continuous' must be \[3, 2\]"),
    ({"style": [0, 1, 2]}, "unknown key"),
    ({"continuous": np.full((3, 2), np.nan)}, "NaN"),
])
def test_bad_codes_give_clear_errors(gan, codes, match):
    with pytest.raises(ValueError, match=match):
        gan.generate(3, codes=codes)


def test_labels_are_rejected(gan):
    with pytest.raises(ValueError, match="unsupervised: it takes no `labels`"):
        gan.generate(2, labels=[0, 1])


def test_mutual_information_term_golden():
    # K = 2, one continuous code, lambda_cont = 0.5:
    # -log softmax([0, 0])[0] + 0.5 * (0.5 * (1 - 0.5)^2 + 0.5 log 2 pi).
    small, _ = build_tiny("infogan", num_categories=2, num_continuous=1, continuous_weight=0.5)
    fake_out = {"q_categorical": tf.constant([[0.0, 0.0]]),
                "q_continuous_mean": tf.constant([[0.5]])}
    codes = {"categorical": tf.constant([0]), "continuous": tf.constant([[1.0]])}
    expected = math.log(2) + 0.5 * (0.125 + HALF_LOG_2PI)
    np.testing.assert_allclose(small.mutual_information_term(fake_out, codes), [expected],
                               rtol=1e-6)


def test_mutual_information_terms_through_the_training_code_path(gan):
    inputs, codes = gan._sample_generator_inputs(6, None, draw=0)
    np.testing.assert_array_equal(inputs[:, LATENT:LATENT + K], tf.one_hot(codes["categorical"], K))
    np.testing.assert_array_equal(inputs[:, LATENT + K:], codes["continuous"])
    assert np.all(np.abs(codes["continuous"]) <= 1)
    batch = {"real": tf.zeros([6, 16, 16, 1]), "labels": tf.zeros([6], tf.int32), "extras": codes}
    batch["fake"] = gan.generator(inputs, training=False)
    fake_out = gan._discriminate(batch["fake"], batch, training=False)
    real_out = gan._discriminate(batch["real"], batch, training=False)
    logits = fake_out["q_categorical"].numpy().astype(np.float64)
    cat = codes["categorical"].numpy()
    ce = np.log(np.exp(logits).sum(1)) - logits[np.arange(6), cat]
    diff = codes["continuous"].numpy() - fake_out["q_continuous_mean"].numpy()
    nll = np.sum(0.5 * diff**2 + HALF_LOG_2PI, axis=1)
    expected = gan.categorical_weight * ce + gan.continuous_weight * nll
    d_terms = gan._discriminator_terms(real_out, fake_out, batch)
    g_terms = gan._generator_terms(fake_out, batch)
    np.testing.assert_allclose(d_terms["d_mutual_information"], expected, rtol=1e-5)
    np.testing.assert_allclose(g_terms["g_mutual_information"], expected, rtol=1e-5)
    assert set(d_terms) == {"adversarial", "d_mutual_information"}


def test_learned_std_head_enters_the_likelihood():
    learned, _ = build_tiny("infogan", num_categories=0, num_continuous=1,
                            learn_continuous_std=True)
    assert learned.discriminator.output["q_continuous_log_std"].shape == (None, 1)
    fake_out = {"q_continuous_mean": tf.constant([[0.0]]),
                "q_continuous_log_std": tf.constant([[math.log(2.0)]])}
    codes = {"continuous": tf.constant([[1.0]])}
    expected = 0.5 * 0.25 + math.log(2.0) + HALF_LOG_2PI
    np.testing.assert_allclose(learned.mutual_information_term(fake_out, codes), [expected],
                               rtol=1e-6)


def test_saved_model_signature_takes_latent_and_codes(gan, tmp_path):
    path = export.export_generator(gan, str(tmp_path / "1"))
    signature = tf.saved_model.load(path).signatures["serving_default"]
    specs = signature.structured_input_signature[1]
    assert specs["latent"].shape.as_list() == [None, LATENT]
    assert specs["codes"].shape.as_list() == [None, K + C] and specs["codes"].dtype == tf.float32
    codes = {"categorical": [4, 4, 7], "continuous": [[-2, 0], [2, 0], [0, 1]]}
    images = signature(latent=tf.constant(gan.sample_latent(3, seed=5)),
                       codes=tf.constant(gan.pack_codes(codes, 3)))["images"].numpy()
    np.testing.assert_allclose(images, gan.generate(3, seed=5, codes=codes), atol=1e-5)


def test_grids_and_traversal_callback(gan, tmp_path):
    assert gan.sample_grid(seed=0).shape == (K * 17 + 1, 10 * 17 + 1, 1)
    assert gan.traversal_grid(1).shape == (K * 17 + 1, 9 * 17 + 1, 1)
    with pytest.raises(ValueError, match="code_index"):
        gan.traversal_grid(2)
    callback = Traversals(str(tmp_path), every=1)
    callback.set_model(gan)
    callback.on_train_end()
    assert sorted(os.listdir(tmp_path / "samples")) == [
        "traversal_c0_step_00000000.png", "traversal_c1_step_00000000.png"]


def test_network_and_option_errors():
    with pytest.raises(ConfigError, match="needs codes"):
        build_tiny("infogan", num_categories=0, num_continuous=0)
    dcgan, _ = build_tiny("dcgan")
    with pytest.raises(ValueError, match="generator takes 8 inputs"):
        InfoGAN(dcgan.generator, dcgan.discriminator, latent_dim=8)
