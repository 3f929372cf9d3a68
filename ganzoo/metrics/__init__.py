"""Evaluation metrics: pure functions on feature/logit arrays, and extractors.

Metrics (numpy in, float64 inside):
    fid_from_features, frechet_distance      Heusel et al. 2017
    kid_from_features, polynomial_mmd2       Bińkowski et al. 2018
    inception_score_from_logits              Salimans et al. 2016
    precision_recall                         Kynkäänniemi et al. 2019
    parzen_log_likelihood                    Goodfellow et al. 2014 / Breuleux et al. 2011

Extractors (images in [-1, 1] -> {"features", "logits"}):
    InceptionV3Extractor, DigitsClassifierExtractor, FashionMNISTClassifierExtractor,
    KerasModelExtractor

Streaming: compute_features, compute_statistics, RunningStatistics.
Mode coverage on 2-D toy data lives in `ganzoo.metrics.mode_coverage`.

Example:

>>> from ganzoo.data.digits import digits_arrays
>>> from ganzoo import metrics
>>> extractor = metrics.DigitsClassifierExtractor()
>>> test = metrics.compute_features(extractor, digits_arrays("test")[0])
>>> metrics.inception_score_from_logits(test["logits"])[0] > 8.5
True
"""

from ganzoo.metrics.digits_classifier import (
    DigitsClassifierExtractor,
    build_digits_classifier,
    digits_class_histogram,
)
from ganzoo.metrics.extractors import (
    Extractor,
    InceptionV3Extractor,
    KerasModelExtractor,
    sha256_of_file,
)
from ganzoo.metrics.fmnist_classifier import (
    FashionMNISTClassifierExtractor,
    build_fmnist_classifier,
)
from ganzoo.metrics.frechet import (
    fid_from_features,
    frechet_distance,
    mean_and_covariance,
    trace_sqrt_product,
)
from ganzoo.metrics.inception_score import inception_score_from_logits
from ganzoo.metrics.kid import kid_from_features, polynomial_mmd2
from ganzoo.metrics.parzen import ParzenResult, parzen_log_densities, parzen_log_likelihood
from ganzoo.metrics.precision_recall import knn_radii, precision_recall
from ganzoo.metrics.streaming import (
    RunningStatistics,
    compute_features,
    compute_statistics,
    iterate_batches,
)

__all__ = [
    "DigitsClassifierExtractor",
    "Extractor",
    "FashionMNISTClassifierExtractor",
    "InceptionV3Extractor",
    "KerasModelExtractor",
    "ParzenResult",
    "RunningStatistics",
    "build_digits_classifier",
    "build_fmnist_classifier",
    "compute_features",
    "compute_statistics",
    "digits_class_histogram",
    "fid_from_features",
    "frechet_distance",
    "inception_score_from_logits",
    "iterate_batches",
    "kid_from_features",
    "knn_radii",
    "mean_and_covariance",
    "parzen_log_densities",
    "parzen_log_likelihood",
    "polynomial_mmd2",
    "precision_recall",
    "sha256_of_file",
    "trace_sqrt_product",
]
