"""Inception Score: golden cases and TF-GAN's classifier_score_from_logits."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import softmax
from tfgan_oracle import load

from ganzoo.metrics import inception_score_from_logits


def test_golden_extremes():
    confident_uniform = 50.0 * np.tile(np.eye(10), (3, 1))
    assert inception_score_from_logits(confident_uniform, 1)[0] == pytest.approx(10.0, 1e-9)
    one_class = np.zeros((30, 10))
    one_class[:, 3] = 50.0
    assert inception_score_from_logits(one_class, 3) == pytest.approx((1.0, 0.0), abs=1e-9)


def test_huge_logits_stay_finite():
    logits = np.full((20, 10), -1e4)
    logits[np.arange(20), np.arange(20) % 5] = 1e4  # 5 classes never predicted
    mean, _ = inception_score_from_logits(logits, 2)
    assert mean == pytest.approx(5.0, 1e-9)


def test_matches_tfgan_oracle():
    cm = load("eval.classifier_metrics")
    logits = np.random.default_rng(0).normal(scale=3.0, size=(200, 10))
    oracle = float(cm.classifier_score_from_logits(tf.constant(logits)))
    assert inception_score_from_logits(logits, num_splits=1)[0] == pytest.approx(oracle, 1e-10)


def test_splits_match_numpy_reference():
    logits = np.random.default_rng(1).normal(scale=2.0, size=(100, 7))
    scores = []
    for part in np.split(softmax(logits, axis=1), 4):
        kl = np.sum(part * (np.log(part) - np.log(part.mean(0))), axis=1)
        scores.append(np.exp(kl.mean()))
    mean, std = inception_score_from_logits(logits, num_splits=4)
    assert (mean, std) == pytest.approx((np.mean(scores), np.std(scores)), rel=1e-10)
