"""Tests for ganzoo.data.toy: the mixtures' parameters, determinism, the loader contract."""

import numpy as np
import pytest

from ganzoo import data
from ganzoo.data import toy


def test_mixture_params_match_the_papers():
    ring, ring_std = toy.mixture_params("ring8")
    assert ring.shape == (8, 2) and ring_std == 0.02
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0)
    np.testing.assert_allclose(ring[0], [2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(ring[2], [0.0, 2.0], atol=1e-12)
    grid, grid_std = toy.mixture_params("grid25")
    assert grid.shape == (25, 2) and grid_std == 0.05
    assert sorted({tuple(c) for c in grid}) == [
        (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)
    ]
    np.testing.assert_allclose(grid[7], [-2.0, 0.0])  # mode k = (grid[k // 5], grid[k % 5])
    with pytest.raises(ValueError, match="ring8"):
        toy.mixture_params("ring9")


def test_sample_mixture_is_seeded_stratified_and_near_its_modes():
    points, labels = toy.sample_mixture("grid25", 1000, seed=3)
    again, _ = toy.sample_mixture("grid25", 1000, seed=3)
    other, _ = toy.sample_mixture("grid25", 1000, seed=4)
    np.testing.assert_array_equal(points, again)
    assert not np.array_equal(points, other)
    assert points.dtype == np.float32 and labels.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(labels, minlength=25), np.full(25, 40))
    centers, std = toy.mixture_params("grid25")
    offsets = points - centers[labels]
    assert np.abs(offsets).max() < 6 * std
    assert abs(offsets.std() - std) < 0.1 * std


@pytest.mark.parametrize("name, modes", [("ring8", 8), ("grid25", 25)])
def test_loader_contract(name, modes):
    assert name in data.list_datasets()
    ds, spec = data.load(name, split="test")
    assert spec == data.DataSpec(name, (2,), num_classes=modes, num_examples=10_000)
    assert not spec.is_image
    x, y = next(iter(ds.batch(16)))
    assert x.dtype.name == "float32" and y.dtype.name == "int32"
    assert tuple(x.shape) == (16, 2)
    assert 0 <= int(y.numpy().min()) and int(y.numpy().max()) < modes
    _, train_spec = data.load(name, split="train")
    assert train_spec.num_examples == 100_000
    train_x = next(iter(data.load(name)[0].batch(16)))[0]
    assert not np.array_equal(train_x.numpy(), x.numpy())  # the splits use different seeds
    with pytest.raises(ValueError, match="splits"):
        data.load(name, split="validation")
