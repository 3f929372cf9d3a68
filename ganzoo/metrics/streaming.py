"""Runs an extractor over arrays, data sets or generators, batch by batch.

`compute_features` keeps every feature (needed by KID, precision/recall);
`compute_statistics` keeps only a running mean and covariance in float64 (all
FID needs), so its memory does not grow with the number of images.
"""

import numpy as np
import tensorflow as tf

DEFAULT_BATCH_SIZE = 100


def iterate_batches(images, batch_size=DEFAULT_BATCH_SIZE, num_samples=None):
    """Yields numpy image batches from an array, a `tf.data.Dataset` or a generator.

    Args:
        images: one of
            - array or tensor `[N, H, W, C]`;
            - `tf.data.Dataset` of images or `(images, labels)`, batched or
              not (an element of rank 3 is taken as one unbatched image);
            - callable `generate(n)` returning `n` images, e.g.
              `lambda n: generator(keras.random.normal((n, 64)))`.
        batch_size: int. Images per batch (for a batched data set, its own
            batches are used). Defaults to 100.
        num_samples: int or None. Stop after this many images; required for a
            callable, optional otherwise (None = all).

    Yields:
        float32 numpy arrays `[b, H, W, C]`, `sum(b) == num_samples` when given
        and available.
    """
    if callable(images) and not isinstance(images, tf.data.Dataset):
        if num_samples is None:
            raise ValueError("`num_samples` is required when `images` is a callable.")
        done = 0
        while done < num_samples:
            n = min(batch_size, num_samples - done)
            batch = np.asarray(images(n), dtype=np.float32)
            if batch.shape[0] != n:
                raise ValueError(f"generate({n}) returned {batch.shape[0]} images.")
            done += n
            yield batch
        return
    if isinstance(images, tf.data.Dataset):
        if isinstance(images.element_spec, tuple):
            images = images.map(lambda *element: element[0])
        if images.element_spec.shape.rank == 3:
            images = images.batch(batch_size)
        batches = images.as_numpy_iterator()
    else:
        array = np.asarray(images, dtype=np.float32)
        batches = (array[i:i + batch_size] for i in range(0, array.shape[0], batch_size))
    remaining = np.inf if num_samples is None else num_samples
    for batch in batches:
        if remaining <= 0:
            return
        batch = np.asarray(batch[: int(min(remaining, batch.shape[0]))], dtype=np.float32)
        remaining -= batch.shape[0]
        yield batch


def compute_features(extractor, images, batch_size=DEFAULT_BATCH_SIZE, num_samples=None):
    """Runs `extractor` over all images and concatenates its outputs.

    Args:
        extractor: callable `batch -> dict of arrays`, e.g. an `Extractor`.
        images: array, `tf.data.Dataset` or callable `generate(n)`; see
            `iterate_batches`.
        batch_size: int. Images per extractor call. Defaults to 100.
        num_samples: int or None. Number of images; required for a callable.

    Returns:
        dict of numpy arrays, e.g. `{"features": [N, D], "logits": [N, K]}`.

    Example:

    >>> from ganzoo.data.digits import digits_arrays
    >>> from ganzoo.metrics import DigitsClassifierExtractor, fid_from_features
    >>> extractor = DigitsClassifierExtractor()
    >>> real = compute_features(extractor, digits_arrays("train")[0])
    >>> fake = compute_features(extractor, digits_arrays("test")[0])
    >>> fid_from_features(real["features"], fake["features"]) < 5
    True
    """
    parts = {}
    for batch in iterate_batches(images, batch_size, num_samples):
        for key, value in extractor(batch).items():
            parts.setdefault(key, []).append(np.asarray(value))
    if not parts:
        raise ValueError("No images were given.")
    return {key: np.concatenate(values) for key, values in parts.items()}


class RunningStatistics:
    """Running mean and covariance of feature rows, in float64.

    Merges per-batch moments with the pairwise update of Chan et al. 1979
    ("Updating Formulae and a Pairwise Algorithm for Computing Sample
    Variances"), the batched form of Welford's algorithm: unlike a raw sum of
    outer products, it does not cancel catastrophically when the mean is large
    relative to the spread.

    Example:

    >>> stats = RunningStatistics()
    >>> for batch in np.split(np.arange(12.0).reshape(6, 2), 3):
    ...     stats.update(batch)
    >>> stats.mean
    array([5., 6.])
    """

    def __init__(self):
        self.count = 0
        self.mean = None
        self._m2 = None

    def update(self, features):
        """Adds a batch `[b, D]` of feature rows."""
        x = np.asarray(features, dtype=np.float64)
        x = x.reshape(x.shape[0], -1)
        if x.shape[0] == 0:
            return
        batch_mean = x.mean(axis=0)
        centred = x - batch_mean
        batch_m2 = centred.T @ centred
        if self.count == 0:
            self.count, self.mean, self._m2 = x.shape[0], batch_mean, batch_m2
            return
        total = self.count + x.shape[0]
        delta = batch_mean - self.mean
        self._m2 += batch_m2 + np.outer(delta, delta) * (self.count * x.shape[0] / total)
        self.mean = self.mean + delta * (x.shape[0] / total)
        self.count = total

    def covariance(self, ddof=1):
        """Covariance `[D, D]` of everything added so far.

        Args:
            ddof: int. Delta degrees of freedom; 1 is the unbiased estimate
                used by `fid_from_features`. Defaults to 1.
        """
        if self.count <= ddof:
            raise ValueError(f"Need more than {ddof} samples, have {self.count}.")
        return self._m2 / (self.count - ddof)


def compute_statistics(extractor, images, batch_size=DEFAULT_BATCH_SIZE, num_samples=None,
                       key="features", ddof=1):
    """Mean and covariance of extractor features, without keeping the features.

    Args:
        extractor: callable `batch -> dict of arrays`, e.g. an `Extractor`.
        images: array, `tf.data.Dataset` or callable `generate(n)`; see
            `iterate_batches`.
        batch_size: int. Images per extractor call. Defaults to 100.
        num_samples: int or None. Number of images; required for a callable.
        key: str. Which extractor output to summarise. Defaults to `"features"`.
        ddof: int. Covariance correction, as in `fid_from_features`. Defaults to 1.

    Returns:
        `(mu [D], sigma [D, D])` float64 arrays, ready for `frechet_distance`.
    """
    stats = RunningStatistics()
    for batch in iterate_batches(images, batch_size, num_samples):
        stats.update(extractor(batch)[key])
    if stats.count == 0:
        raise ValueError("No images were given.")
    return stats.mean, stats.covariance(ddof)
