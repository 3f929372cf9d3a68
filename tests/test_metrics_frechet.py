"""FID: golden numbers, TF-GAN's classifier_metrics and the scipy sqrtm route."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
from tfgan_oracle import load

from ganzoo.metrics import (
    RunningStatistics,
    fid_from_features,
    frechet_distance,
    mean_and_covariance,
)


def _features(seed, n=300, d=16, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mixing) * scale + shift


def _fid_scipy(a, b):
    """pytorch-fid's route: sqrtm of the non-symmetric product."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2) - 2 * np.trace(covmean.real))


def test_golden_diagonal_gaussians():
    # For diagonal covariances tr(sqrt(S1 S2)) = sum(sqrt(a * b)).
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    expected = 5.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, 1e-12)
    assert frechet_distance(mu1, np.diag(a), mu1, np.diag(a)) == pytest.approx(0.0, abs=1e-12)


def test_matches_tfgan_oracle():
    cm = load("eval.classifier_metrics")
    a, b = _features(0), _features(1, shift=0.3, scale=1.2)
    oracle = float(cm.frechet_classifier_distance_from_activations(tf.constant(a), tf.constant(b)))
    assert fid_from_features(a, b) == pytest.approx(oracle, rel=1e-9)
    # TF-GAN rescales tfp's ddof=0 covariance by N / (N - 1), i.e. it uses
    # ddof=1 like pytorch-fid; ddof=0 is measurably different at N=300.
    assert abs(fid_from_features(a, b, ddof=0) - oracle) > 1e-4 * oracle


def test_matches_scipy_sqrtm_route():
    a, b = _features(2), _features(3, shift=-0.5, scale=0.7)
    assert fid_from_features(a, b) == pytest.approx(_fid_scipy(a, b), rel=1e-10)


def test_singular_covariances_stay_finite_and_agree():
    # N < D: both covariances are rank-deficient, eigh sees tiny negative eigenvalues.
    a, b = _features(4, n=10, d=32), _features(5, n=10, d=32, shift=1.0)
    fid = fid_from_features(a, b)
    assert np.isfinite(fid)
    assert fid == pytest.approx(_fid_scipy(a, b), rel=1e-6)
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-8)


def test_float32_input_is_computed_in_float64():
    a, b = _features(6), _features(7, shift=0.1)
    assert fid_from_features(a.astype(np.float32), b.astype(np.float32)) == pytest.approx(
        fid_from_features(a.astype(np.float32).astype(np.float64),
                          b.astype(np.float32).astype(np.float64)), rel=1e-12)


def test_running_statistics_match_batch_moments_with_large_offset():
    x = _features(8, n=257, d=6, shift=1e6)
    stats = RunningStatistics()
    for chunk in np.array_split(x, 7):
        stats.update(chunk)
    mu, sigma = mean_and_covariance(x)
    np.testing.assert_allclose(stats.mean, mu, rtol=1e-12)
    np.testing.assert_allclose(stats.covariance(), sigma, rtol=1e-9)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-9)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="dims differ"):
        fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="Shapes do not match"):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
