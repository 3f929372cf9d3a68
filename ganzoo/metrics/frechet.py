"""Fréchet distance between Gaussians fitted to features (FID).

Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a
Local Nash Equilibrium", https://arxiv.org/abs/1706.08500.

    d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2))

`tr(sqrt(S1 S2))` is computed from symmetric eigen-decompositions, as TF-GAN's
`trace_sqrt_product` does: with A = sqrt(S1), the product S1 S2 = A A S2 has the
same eigenvalues as A S2 A, which is symmetric positive semi-definite, so
`tr(sqrt(S1 S2)) = sum(sqrt(eigvalsh(A S2 A)))`. This avoids `scipy.linalg.sqrtm`
of a non-symmetric matrix (a Schur decomposition in complex arithmetic, slower,
and prone to small imaginary parts that pytorch-fid has to discard).
"""

import numpy as np


def _as_2d_float64(features, name):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"`{name}` must be 2-D [num_samples, dim], got shape {features.shape}.")
    if features.shape[0] < 2:
        raise ValueError(f"`{name}` needs at least 2 samples for a covariance, got 1.")
    return features


def mean_and_covariance(features, ddof=1):
    """Sample mean and covariance of a feature matrix, in float64.

    Args:
        features: array `[N, D]`. One feature vector per row.
        ddof: int. Delta degrees of freedom of the covariance: 1 gives the
            unbiased estimate (pytorch-fid's `np.cov`, and TF-GAN, which rescales
            `tfp.stats.covariance` by N / (N - 1)). Defaults to 1.

    Returns:
        `(mu [D], sigma [D, D])` as float64 arrays.
    """
    features = _as_2d_float64(features, "features")
    mu = features.mean(axis=0)
    centred = features - mu
    sigma = centred.T @ centred / (features.shape[0] - ddof)
    return mu, sigma


def _sqrt_psd(matrix):
    """Symmetric square root of a symmetric PSD matrix by `eigh`."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    # Round-off makes some eigenvalues of a singular covariance slightly negative.
    root = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * root) @ eigenvectors.T


def trace_sqrt_product(sigma1, sigma2):
    """`tr(sqrt(sigma1 @ sigma2))` for two symmetric PSD matrices.

    Args:
        sigma1: array `[D, D]`. Symmetric positive semi-definite.
        sigma2: array `[D, D]`. Symmetric positive semi-definite.

    Returns:
        float. The trace of the principal square root of `sigma1 @ sigma2`.
    """
    sigma1 = np.asarray(sigma1, dtype=np.float64)
    sigma2 = np.asarray(sigma2, dtype=np.float64)
    root1 = _sqrt_psd((sigma1 + sigma1.T) / 2.0)
    inner = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Heusel et al. 2017 (FID), https://arxiv.org/abs/1706.08500. Computed in
    float64 by the symmetric eigen-decomposition route (see the module doc);
    it agrees with the `scipy.linalg.sqrtm` route to about 1e-12 relative and
    is faster (`tools/benchmark_fid.py`).

    Args:
        mu1: array `[D]`. Mean of the first Gaussian (e.g. real features).
        sigma1: array `[D, D]`. Covariance of the first Gaussian.
        mu2: array `[D]`. Mean of the second Gaussian (e.g. generated features).
        sigma2: array `[D, D]`. Covariance of the second Gaussian.

    Returns:
        float. The squared Fréchet distance (what papers report as "FID"),
        clipped at 0 against round-off.

    Example:

    >>> import numpy as np
    >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
    2.0
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    dim = mu1.shape[0]
    if mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            "Shapes do not match: mu1 "
            f"{mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape}."
        )
    diff = mu1 - mu2
    covariance_term = np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return max(float(diff @ diff + covariance_term), 0.0)


def fid_from_features(features1, features2, ddof=1):
    """Fréchet distance between Gaussians fitted to two feature sets.

    Heusel et al. 2017, https://arxiv.org/abs/1706.08500. With Inception-v3
    pool3 features this is FID; with the digits classifier's features it is
    "digits-FID". FID is biased upwards for small N: compare only numbers
    computed with the same N and the same extractor.

    Args:
        features1: array `[N1, D]`. E.g. features of real images.
        features2: array `[N2, D]`. E.g. features of generated images.
        ddof: int. Covariance degrees-of-freedom correction; 1 (unbiased) matches
            both pytorch-fid and TF-GAN's `frechet_classifier_distance_from_activations`.
            Defaults to 1.

    Returns:
        float. The squared Fréchet distance.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fid = fid_from_features(rng.normal(size=(500, 8)), rng.normal(size=(500, 8)) + 1)
    >>> 7.0 < fid < 9.0
    True
    """
    features1 = _as_2d_float64(features1, "features1")
    features2 = _as_2d_float64(features2, "features2")
    if features1.shape[1] != features2.shape[1]:
        raise ValueError(
            f"Feature dims differ: {features1.shape[1]} vs {features2.shape[1]}."
        )
    return frechet_distance(
        *mean_and_covariance(features1, ddof), *mean_and_covariance(features2, ddof)
    )
