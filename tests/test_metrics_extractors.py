"""Extractors and streaming: error paths, shapes, equivalence of input kinds."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganzoo.metrics import (
    InceptionV3Extractor,
    KerasModelExtractor,
    compute_features,
    compute_statistics,
    mean_and_covariance,
)
from ganzoo.metrics.extractors import INCEPTION_WEIGHTS_ENV


def _tiny_extractor():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(name="pool"),
        keras.layers.Dense(3, name="head"),
    ])
    return KerasModelExtractor(model, feature_layer="pool", logits_layer="head")


def test_inception_without_weights_fails_fast_and_says_how(monkeypatch):
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    with pytest.raises(FileNotFoundError,
                       match="(?s)cannot be downloaded.*save_weights.*--inception_weights=FILE"):
        InceptionV3Extractor()
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, "/nonexistent/inception.weights.h5")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        InceptionV3Extractor()


def test_inception_shapes_and_weights_file_round_trip(tmp_path, monkeypatch):
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    random = InceptionV3Extractor(allow_random_weights=True)
    assert random.weights_checksum is None and random.input_size == (299, 299)
    grey = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32)
    out = random(grey)  # grey -> RGB and 16 -> 299 px
    assert out["features"].shape == (2, 2048) and out["logits"].shape == (2, 1000)
    assert np.all(out["features"] >= 0)  # pool3 averages ReLU outputs

    path = tmp_path / "inception.weights.h5"
    random.model.save_weights(path)
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(path))
    loaded = InceptionV3Extractor()
    assert len(loaded.weights_checksum) == 64
    np.testing.assert_allclose(loaded(grey)["logits"], out["logits"], rtol=1e-5, atol=1e-5)


def test_keras_model_extractor_resizes_and_converts_channels():
    extractor = _tiny_extractor()
    assert extractor.input_size == (8, 8) and extractor.channels == 3
    out = extractor(np.zeros((5, 32, 32, 1), np.float32))
    assert out["features"].shape == (5, 4) and out["logits"].shape == (5, 3)
    with pytest.warns(UserWarning, match="expect \\[-1, 1\\]"):
        extractor(np.full((1, 8, 8, 3), 255.0))


def test_features_agree_across_input_kinds():
    extractor = _tiny_extractor()
    images = np.random.default_rng(1).uniform(-1, 1, (23, 8, 8, 3)).astype(np.float32)
    reference = extractor(images)
    labels = np.arange(23)
    kinds = {
        "array": images,
        "dataset": tf.data.Dataset.from_tensor_slices(images),
        "labelled": tf.data.Dataset.from_tensor_slices((images, labels)).batch(4),
    }
    for name, source in kinds.items():
        out = compute_features(extractor, source, batch_size=5)
        np.testing.assert_allclose(out["logits"], reference["logits"], atol=1e-6, err_msg=name)

    calls = []

    def generate(n):
        calls.append(n)
        return images[sum(calls) - n:sum(calls)]

    out = compute_features(extractor, generate, batch_size=10, num_samples=23)
    assert calls == [10, 10, 3]
    np.testing.assert_allclose(out["features"], reference["features"], atol=1e-6)
    with pytest.raises(ValueError, match="num_samples"):
        compute_features(extractor, generate)
    assert compute_features(extractor, images, num_samples=7)["features"].shape == (7, 4)


def test_streaming_statistics_match_full_features():
    extractor = _tiny_extractor()
    images = np.random.default_rng(2).uniform(-1, 1, (40, 8, 8, 3)).astype(np.float32)
    mu, sigma = compute_statistics(extractor, images, batch_size=6)
    full_mu, full_sigma = mean_and_covariance(extractor(images)["features"])
    np.testing.assert_allclose(mu, full_mu, atol=1e-6)
    np.testing.assert_allclose(sigma, full_sigma, atol=1e-6)
