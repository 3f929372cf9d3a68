"""Parzen-window log-likelihood on data with a known density."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from ganzoo.metrics import parzen_log_densities, parzen_log_likelihood


def test_densities_match_scipy_mixture():
    rng = np.random.default_rng(0)
    centres, points = rng.normal(size=(20, 3)), rng.normal(size=(7, 3))
    sigma = 0.7
    expected = logsumexp(
        [multivariate_normal(c, sigma**2 * np.eye(3)).logpdf(points) for c in centres], axis=0
    ) - np.log(20)
    got = parzen_log_densities(centres, points, [0.3, sigma], batch_size=3)[:, 1]
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_gaussian_data_estimate_is_close_and_sigma_in_grid():
    rng = np.random.default_rng(1)
    dim = 2
    samples, valid, test = (rng.normal(size=(n, dim)) for n in (2000, 300, 300))
    grid = np.logspace(-2, 1, 31)
    result = parzen_log_likelihood(samples, test, valid, sigmas=grid)
    true_ll = -0.5 * dim * (1 + np.log(2 * np.pi))
    assert np.isfinite(result.mean) and result.std_error > 0
    assert grid[0] < result.sigma < grid[-1]
    assert abs(result.mean - true_ll) < 4 * result.std_error + 0.1


def test_shifted_test_set_scores_lower():
    rng = np.random.default_rng(2)
    samples = rng.normal(size=(500, 8, 8))  # images are flattened
    valid, test = rng.normal(size=(100, 8, 8)), rng.normal(size=(100, 8, 8))
    near = parzen_log_likelihood(samples, test, valid)
    far = parzen_log_likelihood(samples, test + 2.0, valid)
    assert far.sigma == near.sigma
    assert near.mean > far.mean + 10 * near.std_error


def test_sigma_at_grid_edge_warns():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(50, 2))
    with pytest.warns(UserWarning, match="edge of the grid"):
        parzen_log_likelihood(data, data, data, sigmas=[5.0, 10.0])
