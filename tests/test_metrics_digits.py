"""The shipped digits classifier on real data: accuracy, FID/IS sanity, coverage."""

import functools

import numpy as np
import pytest
import scipy.ndimage

from ganzoo.data.digits import digits_arrays
from ganzoo.metrics import (
    DigitsClassifierExtractor,
    digits_class_histogram,
    fid_from_features,
    inception_score_from_logits,
    sha256_of_file,
)
from ganzoo.metrics import digits_classifier as dc


@functools.lru_cache(maxsize=None)
def _extractor():
    return DigitsClassifierExtractor()


@functools.lru_cache(maxsize=None)
def _outputs(split):
    return _extractor()(digits_arrays(split)[0])


def test_shipped_weights_match_their_record():
    meta = dc.load_metadata()
    assert sha256_of_file(dc.WEIGHTS_PATH) == meta["sha256"] == _extractor().weights_checksum
    assert dc.WEIGHTS_PATH.stat().st_size < 1_000_000
    assert meta["test_accuracy"] >= 0.95


def test_test_accuracy():
    labels = digits_arrays("test")[1]
    assert np.mean(_outputs("test")["logits"].argmax(1) == labels) >= 0.95


def test_digits_fid_orders_real_blur_and_noise():
    train = _outputs("train")["features"]
    test_images = digits_arrays("test")[0]
    real = fid_from_features(train, _outputs("test")["features"])
    blurred = [
        fid_from_features(train, _extractor()(scipy.ndimage.gaussian_filter(
            test_images, sigma=(0, s, s, 0), mode="constant", cval=-1.0))["features"])
        for s in (0.5, 1.0, 2.0)
    ]
    noise = np.random.default_rng(0).uniform(-1, 1, test_images.shape).astype(np.float32)
    noisy = fid_from_features(train, _extractor()(noise)["features"])
    assert real < 3.0
    assert real < blurred[0] < blurred[1] < blurred[2]
    assert noisy > 30 * real


def test_digits_inception_score_of_real_data_is_near_ten():
    # One split: with 360 images, 10 splits of 36 under-estimate p(y) (IS ~8.2).
    mean, _ = inception_score_from_logits(_outputs("test")["logits"], num_splits=1)
    assert 8.5 < mean <= 10.0


def test_any_square_size_and_rgb_are_accepted():
    images = digits_arrays("test", image_size=32)[0][:50]
    rgb = np.repeat(images, 3, axis=-1)
    logits = _extractor()(rgb)["logits"]
    assert logits.shape == (50, 10)
    labels = digits_arrays("test")[1][:50]
    assert np.mean(logits.argmax(1) == labels) >= 0.9


def test_class_histogram_flags_mode_collapse():
    counts, kl = digits_class_histogram(_outputs("test")["logits"])
    assert counts.sum() == 360 and kl < 0.01
    collapsed = np.zeros((100, 10))
    collapsed[:, 7] = 1.0
    counts, kl = digits_class_histogram(collapsed, reference=np.ones(10))
    assert counts[7] == 100 and kl == pytest.approx(np.log(10))
