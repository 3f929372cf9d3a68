"""KID: brute force, TF-GAN's block estimator, subset semantics."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from tfgan_oracle import load

from ganzoo.metrics import kid_from_features, polynomial_mmd2


def _sets(n1=40, n2=30, d=5, shift=0.5):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n1, d)), rng.normal(size=(n2, d)) + shift


def _mmd2_brute_force(x, y):
    k = lambda a, b: (a @ b / len(a) + 1.0) ** 3  # noqa: E731
    xx = np.mean([k(x[i], x[j]) for i, j in itertools.permutations(range(len(x)), 2)])
    yy = np.mean([k(y[i], y[j]) for i, j in itertools.permutations(range(len(y)), 2)])
    xy = np.mean([k(a, b) for a in x for b in y])
    return xx + yy - 2 * xy


def test_mmd2_matches_brute_force():
    x, y = _sets()
    assert polynomial_mmd2(x, y) == pytest.approx(_mmd2_brute_force(x, y), rel=1e-10)


def test_full_set_matches_tfgan_single_block():
    cm = load("eval.classifier_metrics")
    x, y = _sets()
    oracle, _ = cm.kernel_classifier_distance_and_std_from_activations(
        tf.constant(x), tf.constant(y), max_block_size=1024)
    assert polynomial_mmd2(x, y) == pytest.approx(float(oracle), rel=1e-10)
    # Subsets capped at 30 rows of 30-row sets all hold every row: zero spread.
    mean, std = kid_from_features(x[:30], y, num_subsets=3, subset_size=1000)
    oracle30, _ = cm.kernel_classifier_distance_and_std_from_activations(
        tf.constant(x[:30]), tf.constant(y), max_block_size=1024)
    assert mean == pytest.approx(float(oracle30), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_tfgan_blocks_are_the_mean_of_our_mmd_on_the_same_blocks():
    cm = load("eval.classifier_metrics")
    x, y = _sets(n1=40, n2=40)
    oracle, oracle_se = cm.kernel_classifier_distance_and_std_from_activations(
        tf.constant(x), tf.constant(y), max_block_size=10)
    blocks = [polynomial_mmd2(x[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)]
    assert np.mean(blocks) == pytest.approx(float(oracle), rel=1e-10)
    # TF-GAN's second output is a standard error, not a std across blocks.
    assert np.std(blocks, ddof=1) / 2.0 == pytest.approx(float(oracle_se), rel=1e-8)


def test_seeded_and_separates_distributions():
    x, y = _sets(n1=200, n2=200, shift=0.0)
    _, z = _sets(n1=200, n2=200, shift=1.0)
    same = kid_from_features(x, y, num_subsets=10, subset_size=50, seed=3)
    assert same == kid_from_features(x, y, num_subsets=10, subset_size=50, seed=3)
    assert same != kid_from_features(x, y, num_subsets=10, subset_size=50, seed=4)
    different = kid_from_features(x, z, num_subsets=10, subset_size=50, seed=3)
    assert different[0] > same[0] + 3 * different[1]
