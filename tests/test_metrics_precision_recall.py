"""Improved precision/recall against a brute-force k-NN version."""

import numpy as np
import pytest

from ganzoo.metrics import knn_radii, precision_recall


def _brute_force(real, fake, k):
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return np.array([np.sort(np.delete(row, i))[k - 1] for i, row in enumerate(d)])

    cross = np.linalg.norm(real[:, None] - fake[None], axis=-1)  # [real, fake]
    precision = np.mean([(cross[:, j] <= radii(real)).any() for j in range(len(fake))])
    recall = np.mean([(cross[i] <= radii(fake)).any() for i in range(len(real))])
    return precision, recall


@pytest.mark.parametrize("k,batch_size", [(3, 1024), (3, 7), (5, 16)])
def test_matches_brute_force(k, batch_size):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(60, 5))
    fake = 0.8 * rng.normal(size=(50, 5)) + 0.6
    result = precision_recall(real, fake, k=k, batch_size=batch_size)
    assert result == pytest.approx(_brute_force(real, fake, k), abs=1e-12)
    assert min(result) < 1.0  # not a trivial case


def test_radii_match_sorted_distances():
    x = np.random.default_rng(0).normal(size=(30, 4))
    d = np.sort(np.linalg.norm(x[:, None] - x[None], axis=-1), axis=1)
    np.testing.assert_allclose(knn_radii(x, k=3, batch_size=8), d[:, 3], rtol=1e-9)


def test_mode_collapse_lowers_recall_not_precision():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 3))
    collapsed = 0.1 * rng.normal(size=(400, 3))
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.95 and recall < 0.3
    assert precision_recall(real, real) == (1.0, 1.0)


def test_too_few_samples_for_k_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="k=3 with 10 real and 3 fake samples"):
        precision_recall(rng.normal(size=(10, 2)), rng.normal(size=(3, 2)))
    with pytest.raises(ValueError, match="1 <= k < N"):
        knn_radii(rng.normal(size=(3, 2)), k=3)
