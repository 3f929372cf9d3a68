"""Kernel Inception Distance (KID): unbiased polynomial-kernel MMD^2.

Bińkowski et al. 2018, "Demystifying MMD GANs", https://arxiv.org/abs/1801.01401.
"""

import numpy as np


def _polynomial_kernel(x, y):
    """k(x, y) = (x.y / d + 1)^3, the kernel of Bińkowski et al. 2018.

    Cubed by two in-place multiplications: NumPy's `** 3` calls `pow` per
    element, which took two thirds of a 10,000-sample KID (100 subsets of
    1,000) on a 2-core CPU; the products agree to 1e-16 relative.
    """
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    cube = k * k
    cube *= k
    return cube


def polynomial_mmd2(features1, features2):
    """Unbiased MMD^2 estimate with the cubic polynomial kernel.

    Bińkowski et al. 2018, Eq. (2) with k(x, y) = (x.y / d + 1)^3: the
    within-set kernel means exclude the diagonal, so the estimate is unbiased
    (and can be slightly negative when the two sets share a distribution).

    Args:
        features1: array `[M, D]`, M >= 2.
        features2: array `[N, D]`, N >= 2.

    Returns:
        float. The unbiased MMD^2 estimate.
    """
    x = np.asarray(features1, dtype=np.float64)
    y = np.asarray(features2, dtype=np.float64)
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError(f"Unbiased MMD needs at least 2 samples per set, got {m} and {n}.")
    k_xx = _polynomial_kernel(x, x)
    k_yy = _polynomial_kernel(y, y)
    k_xy = _polynomial_kernel(x, y)
    return float(
        (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
        + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
        - 2.0 * k_xy.mean()
    )


def kid_from_features(features1, features2, num_subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance: mean and std of MMD^2 over random subsets.

    Bińkowski et al. 2018, https://arxiv.org/abs/1801.01401. Follows the
    authors' code (also torch-fidelity and clean-fid): each subset draws
    `subset_size` rows of each set without replacement, independently of the
    other subsets, and the std is across subsets. TF-GAN's
    `kernel_classifier_distance_and_std` instead splits the data into disjoint
    blocks and reports the standard *error*; both give the same mean when one
    subset covers all the data.

    Args:
        features1: array `[N1, D]`. E.g. features of real images.
        features2: array `[N2, D]`. E.g. features of generated images.
        num_subsets: int. Number of random subsets. Defaults to 100.
        subset_size: int. Rows per subset, capped at `min(N1, N2)`. Defaults to 1000.
        seed: int. Seed of the subset sampling. Defaults to 0.

    Returns:
        `(mean, std)` floats: KID and its standard deviation over subsets.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mean, std = kid_from_features(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)) + 1)
    >>> mean > 10 * std
    True
    """
    x = np.asarray(features1, dtype=np.float64)
    y = np.asarray(features2, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"Need two 2-D feature arrays of equal dim, got {x.shape} and {y.shape}.")
    if num_subsets < 1:
        raise ValueError(f"`num_subsets` must be >= 1, got {num_subsets}.")
    size = min(subset_size, x.shape[0], y.shape[0])
    if size == x.shape[0] == y.shape[0]:
        # Every subset is then all rows of both sets, in another order: one
        # estimate, the same for each subset (std 0).
        return polynomial_mmd2(x, y), 0.0
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets)
    for i in range(num_subsets):
        rows_x = rng.choice(x.shape[0], size, replace=False)
        rows_y = rng.choice(y.shape[0], size, replace=False)
        values[i] = polynomial_mmd2(x[rows_x], y[rows_y])
    return float(values.mean()), float(values.std())
