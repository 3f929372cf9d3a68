"""2-D Gaussian mixtures: the standard mode-collapse benchmarks.

`ring8`: 8 isotropic Gaussians with means equally spaced on a circle of radius
2 and standard deviation 0.02, the setup of Metz et al. 2017, "Unrolled
Generative Adversarial Networks", https://arxiv.org/abs/1611.02163 (the
values used by its widely copied reimplementations, e.g. `sample_mog(...,
std=0.02, radius=2.0)` in locuslab/gradient_regularized_gan). VEEGAN
(Srivastava et al. 2017, https://arxiv.org/abs/1705.07761) and PacGAN
(Lin et al. 2018, https://arxiv.org/abs/1712.04086; `2DRing` config in
fjxmlzn/PacGAN: means (cos 2*pi*i/8, sin 2*pi*i/8), variance 0.01^2) use the same
ring scaled by 1/2: radius 1, std 0.01. Std/radius is 0.01 in both, so the
3-standard-deviation metrics of `ganzoo.metrics.mode_coverage` give the same
numbers on either scale.

`grid25`: 25 isotropic Gaussians with means on the grid {-4, -2, 0, 2, 4}^2 and
standard deviation 0.05, as in VEEGAN and PacGAN (`2DGrid` config in
fjxmlzn/PacGAN: variance 0.05^2). Mode `k` has mean
`(grid[k // 5], grid[k % 5])`.

Both mixtures have uniform weights. Like PacGAN (`num_sample: 100000`), the
training split is a finite set of 100,000 points drawn once with a fixed seed;
`test` is 10,000 points from another seed. Each mode gets the same number of
points (stratified, then shuffled), so the label histogram is exactly uniform.
Labels are mode indices. Values are *not* scaled to [-1, 1]: a generator for
vector data ends in a linear layer (as in all three papers), not in `tanh`.
"""

import itertools

import numpy as np
import tensorflow as tf

from ganzoo.data.base import DataSpec, refuse_data_dir, register_dataset

SPLIT_SIZES = {"train": 100_000, "test": 10_000}
_SPLIT_SEEDS = {"train": 0, "test": 1}


def _ring(num_modes=8, radius=2.0):
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _grid(side=5, spacing=2.0):
    values = spacing * (np.arange(side) - (side - 1) / 2.0)
    return np.array(list(itertools.product(values, values)))


_MIXTURES = {
    "ring8": (_ring(8, 2.0), 0.02),
    "grid25": (_grid(5, 2.0), 0.05),
}


def mixture_params(name):
    """Means and standard deviation of a built-in mixture.

    Args:
        name: str. `"ring8"` or `"grid25"`.

    Returns:
        `(centers, std)`: float64 array `[M, 2]` of mode means and the common
        per-coordinate standard deviation (a float).

    Example:

    >>> centers, std = mixture_params("grid25")
    >>> centers.shape, std
    ((25, 2), 0.05)
    """
    if name not in _MIXTURES:
        raise ValueError(f"Unknown mixture {name!r}; choose from {sorted(_MIXTURES)}.")
    centers, std = _MIXTURES[name]
    return centers.copy(), std


def sample_mixture(name, n, seed):
    """Draws `n` points from a built-in mixture, the same points for the same seed.

    Modes are stratified: mode `k` gets `n // M` points, plus one for `k < n % M`;
    the points are then shuffled.

    Args:
        name: str. `"ring8"` or `"grid25"`.
        n: int. Number of points.
        seed: int. Seed of the numpy generator.

    Returns:
        `(points, labels)`: float32 `[n, 2]` and int32 mode indices `[n]`.
    """
    centers, std = mixture_params(name)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(centers)).astype(np.int32)
    points = centers[labels] + std * rng.standard_normal((n, 2))
    return points.astype(np.float32), labels


def _load(name, split):
    if split not in SPLIT_SIZES:
        raise ValueError(f"{name} has splits {sorted(SPLIT_SIZES)}, not {split!r}.")
    points, labels = sample_mixture(name, SPLIT_SIZES[split], _SPLIT_SEEDS[split])
    spec = DataSpec(name, (2,), num_classes=len(mixture_params(name)[0]), num_examples=len(labels))
    return tf.data.Dataset.from_tensor_slices((points, labels)), spec


@register_dataset("ring8")
def load_ring8(split="train", image_size=None, data_dir=None):
    """Loads `ring8` as `(point [2], mode index)` pairs; see the module docstring.

    `image_size` is ignored and `data_dir` refused: the data is generated, not read.
    """
    del image_size
    refuse_data_dir("ring8", data_dir)
    return _load("ring8", split)


@register_dataset("grid25")
def load_grid25(split="train", image_size=None, data_dir=None):
    """Loads `grid25` as `(point [2], mode index)` pairs; see the module docstring.

    `image_size` is ignored and `data_dir` refused: the data is generated, not read.
    """
    del image_size
    refuse_data_dir("grid25", data_dir)
    return _load("grid25", split)
