"""Unit tests of `ssgan` (Salimans et al. 2016) and the generic feature-matching option."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import IMAGE_SPEC, build_tiny, compile_tiny, fit_steps, tiny_batch

from ganzoo import data, export, train_lib
from ganzoo.config import ConfigError, ModelConfig
from ganzoo.data import DataSpec
from ganzoo.models.semi_supervised import SemiSupervisedGAN


def _softplus(x):
    return np.logaddexp(0.0, x)


def _lse(x):
    return np.logaddexp.reduce(x, axis=-1)


def _noise_free_ssgan(**options):
    config = ModelConfig(name="ssgan", architecture="ssgan_mlp", width=8, latent_dim=8,
                         discriminator={"input_noise": 0.0, "hidden_noise": 0.0},
                         options=options)
    gan = SemiSupervisedGAN.from_data_spec(IMAGE_SPEC, config, seed=0)
    gan.compile(jit_compile=False)
    return gan


def test_k_plus_one_logit_equals_explicit_softmax_with_zero_fake_logit():
    gan, spec = build_tiny("ssgan")
    x, _ = tiny_batch(spec)
    out = gan._discriminate(x, {}, training=False)
    # Scaled up so that both confident and unsure examples are checked.
    class_logits = 8.0 * out["class_logits"].numpy()
    real_fake_logit = tf.reduce_logsumexp(class_logits, axis=-1).numpy()
    explicit = np.concatenate([class_logits, np.zeros((len(x), 1))], axis=1)
    p = np.exp(explicit - explicit.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d_of_x = 1.0 / (1.0 + np.exp(-real_fake_logit))
    np.testing.assert_allclose(d_of_x, 1.0 - p[:, -1], rtol=1e-5)
    np.testing.assert_allclose(out["logits"].numpy(), _lse(out["class_logits"].numpy()), rtol=1e-5)
    assert out["class_logits"].shape == (len(x), spec.num_classes)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_discriminator_loss_matches_the_authors_formula(smoothing):
    gan, _ = build_tiny("ssgan")
    gan.compile(loss="non_saturating", label_smoothing=smoothing)
    rng = np.random.default_rng(0)
    real, fake = rng.normal(0, 2, (6, 10)), rng.normal(0, 2, (6, 10))
    labels = np.array([-1, 3, -1, 7, -1, 0], np.int32)
    out = lambda z: {"class_logits": tf.constant(z, tf.float32),  # noqa: E731
                     "logits": tf.constant(_lse(z), tf.float32)}
    terms = gan._discriminator_terms(out(real), out(fake), {"labels": tf.constant(labels)})
    lab, unl = labels >= 0, labels < 0
    # openai/improved-gan: loss_lab = -mean(l_lab) + mean(logsumexp(out_lab)),
    # loss_unl = -0.5 mean(l_unl) + 0.5 mean(softplus(l_unl)) + 0.5 mean(softplus(l_gen)).
    loss_lab = -real[lab, labels[lab]].mean() + _lse(real[lab]).mean()
    l_unl, l_gen = _lse(real[unl]), _lse(fake)
    real_term = (1 - smoothing) * _softplus(-l_unl) + smoothing * _softplus(l_unl)
    loss_unl = 0.5 * real_term.mean() + 0.5 * _softplus(l_gen).mean()
    np.testing.assert_allclose(np.mean(terms["supervised"]), loss_lab, rtol=1e-5)
    np.testing.assert_allclose(np.mean(terms["unsupervised"]), loss_unl, rtol=1e-5)


def test_other_losses_apply_to_unlabeled_real_rows_only():
    gan, _ = build_tiny("ssgan")
    gan.compile(loss="hinge")
    r, f = np.array([0.5, 3.0, -1.0, 2.0]), np.array([-2.0, 0.3, 1.0, -0.5])
    labels = tf.constant([-1, 1, -1, 2])
    terms = gan._discriminator_terms(
        {"logits": tf.constant(r, tf.float32), "class_logits": tf.zeros([4, 10])},
        {"logits": tf.constant(f, tf.float32)}, {"labels": labels})
    expected = 0.5 * (np.maximum(0, 1 - r[[0, 2]]).mean() + np.maximum(0, 1 + f).mean())
    np.testing.assert_allclose(np.mean(terms["unsupervised"]), expected, rtol=1e-6)


def test_supervised_baseline_has_no_unsupervised_term():
    gan, spec = build_tiny("ssgan", unsupervised_weight=0.0)
    compile_tiny(gan)
    generator = [v.numpy() for v in gan.generator.weights]
    discriminator = [v.numpy() for v in gan.discriminator.trainable_weights]
    logs = fit_steps(gan, spec, steps=2)
    assert logs["unsupervised"] == 0.0 and logs["supervised"] > 0.0
    # D learns from the labels; G is never run or trained, and the steps still count.
    assert any(not np.array_equal(a, b.numpy())
               for a, b in zip(discriminator, gan.discriminator.trainable_weights))
    for a, b in zip(generator, gan.generator.weights):
        np.testing.assert_array_equal(a, b.numpy())
    assert int(gan.g_optimizer.iterations.numpy()) == 2


def test_feature_matching_is_zero_when_real_and_fake_features_coincide():
    gan = _noise_free_ssgan()
    x, _ = tiny_batch(IMAGE_SPEC, batch_size=4, seed=1)
    y, _ = tiny_batch(IMAGE_SPEC, batch_size=4, seed=2)
    labels = tf.constant([-1, -1, 5, 6])
    # Fakes equal to the unlabeled rows: the labeled rows must not enter the real mean.
    real = np.concatenate([x[:2], y[:2]])
    fake = np.concatenate([x[:2], x[:2]])
    batch = {"real": real, "fake": fake, "labels": labels}
    term = gan._generator_terms(gan._discriminate(fake, batch, training=True), batch)
    assert float(term["feature_matching"]) == pytest.approx(0.0, abs=1e-10)
    # Different fakes: || mean f(unlabeled) - mean f(fake) ||^2.
    batch["fake"] = y
    term = gan._generator_terms(gan._discriminate(y, batch, training=True), batch)
    features = lambda z: gan.discriminator(z, training=False)["features"].numpy()  # noqa: E731
    expected = np.sum((features(x[:2]).mean(0) - features(y).mean(0)) ** 2)
    assert expected > 0
    np.testing.assert_allclose(float(term["feature_matching"]), expected, rtol=1e-5)


def test_feature_matching_is_a_generic_option():
    gan, spec = build_tiny("dcgan", feature_matching=True)
    compile_tiny(gan)
    x, _ = tiny_batch(spec)
    batch = {"real": x, "fake": x, "labels": tf.zeros([8], tf.int32)}
    terms = gan._generator_terms(gan._discriminate(x, batch, training=True), batch)
    assert list(terms) == ["feature_matching"]
    assert float(terms["feature_matching"]) == pytest.approx(0.0, abs=1e-10)
    logs = fit_steps(gan, spec)
    assert logs["feature_matching"] > 0
    assert logs["g_loss"] == pytest.approx(logs["feature_matching"])
    bad, _ = build_tiny("dcgan", feature_matching=True, feature_matching_layer="nope")
    compile_tiny(bad)
    with pytest.raises(ValueError, match="feature_matching_layer"):
        bad._generator_terms(bad._discriminate(x, batch, training=True), batch)


def test_historical_averaging_keeps_the_mean_of_past_parameters():
    gan, spec = build_tiny("ssgan", historical_averaging=0.5)
    compile_tiny(gan)
    nets = {"d": gan.discriminator, "g": gan.generator}
    snapshot = lambda: {k: [v.numpy() for v in n.trainable_variables]  # noqa: E731
                        for k, n in nets.items()}
    history = [snapshot()]
    for step in range(2):
        fit_steps(gan, spec, seed=step)
        history.append(snapshot())
    for key, averages in (("d", gan.d_averages), ("g", gan.g_averages)):
        assert len(averages) == len(history[0][key]) > 0
        for i, average in enumerate(averages):
            np.testing.assert_allclose(
                average.numpy(), np.mean([h[key][i] for h in history], axis=0), atol=1e-6)
    penalty = gan._historical_penalty(gan.discriminator, gan.d_averages).numpy()
    manual = 0.5 * sum(np.sum((w - a.numpy()) ** 2)
                       for w, a in zip(history[-1]["d"], gan.d_averages))
    np.testing.assert_allclose(penalty, manual, rtol=1e-5)
    assert penalty > 0


def test_needs_labeled_data():
    with pytest.raises(ConfigError, match="class labels"):
        SemiSupervisedGAN.discriminator_heads(ModelConfig(), DataSpec("x", (16, 16, 1), 0))


def test_classify_signature_reloaded_from_disk_matches_the_model(tmp_path):
    gan, spec = build_tiny("ssgan")
    compile_tiny(gan)
    fit_steps(gan, spec)
    path = export.export_generator(gan, str(tmp_path / "1"), max_images_per_request=5)
    loaded = tf.saved_model.load(path)
    assert {"serving_default", "classify"} <= set(loaded.signatures)
    with pytest.raises(tf.errors.InvalidArgumentError, match="images has more than 5 rows"):
        loaded.signatures["classify"](images=tf.zeros([6, *spec.shape]))
    x, _ = tiny_batch(spec, batch_size=5, seed=3)
    out = loaded.signatures["classify"](images=tf.constant(x))
    np.testing.assert_allclose(out["logits"].numpy(), gan.classify(x), atol=1e-5)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(np.argmax(out["probabilities"], 1), np.argmax(gan.classify(x), 1))
    latent = gan.sample_latent(3, seed=1)
    images = loaded.signatures["serving_default"](latent=tf.constant(latent))["images"]
    np.testing.assert_allclose(images.numpy(), gan.generator(latent, training=False), atol=1e-5)


def test_run_writes_test_error_to_report_and_tensorboard(tmp_path):
    config = train_lib.resolve_config(
        "ssgan", overrides=["model.width=8", "model.latent_dim=8"],
        **{"train.steps": 4, "train.steps_per_epoch": 2, "train.sample_every": 2,
           "train.batch_size": 8, "model.options.labels_per_class": 2})
    result = train_lib.run(config, str(tmp_path), verbose=0)
    with open(os.path.join(tmp_path, "report.json")) as f:
        report = json.load(f)
    assert report == result["report"]
    assert report["num_labels"] == 20 and report["num_test"] == 360
    # The error of the trained D on the held-out digits test split, counted here.
    test, _ = data.load("digits", "test")
    images, labels = (t.numpy() for t in test.batch(1000).get_single_element())
    assert len(labels) == 360
    logits = result["model"].discriminator(images, training=False)["class_logits"]
    wrong = int(np.sum(np.argmax(logits, -1) != labels))
    assert report["test_error"] == pytest.approx(wrong / 360, abs=1e-12)
    assert [step for step, _ in report["test_error_history"]] == [2, 4]
    assert report["test_error_history"][-1][1] == report["test_error"]  # step 4 is the end
    events = tf.compat.v1.train.summary_iterator
    logs = os.path.join(tmp_path, "logs")
    tags = {v.tag for name in os.listdir(logs) for e in events(os.path.join(logs, name))
            for v in e.summary.value}
    assert {"test_error", "report/test_error"} <= tags


@pytest.mark.parametrize("name", ["ssgan_digits", "ssgan_mnist", "ssgan_cifar10"])
def test_configs_resolve_and_build(name):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = train_lib.resolve_config(config_file=os.path.join(root, "configs", f"{name}.yaml"))
    shape = {"ssgan_digits": (16, 16, 1), "ssgan_mnist": (28, 28, 1)}.get(name, (32, 32, 3))
    gan = train_lib.build_model(config, DataSpec(config.data.name, shape, 10))
    assert isinstance(gan, SemiSupervisedGAN) and gan.feature_matching
    assert gan.num_classes == 10 and config.train.batch_size % 2 == 0
