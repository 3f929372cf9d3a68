"""Measured control: does a conditional generator make what it is asked for?

Two measures, both judged by a classifier trained on the *real* training data
only, so it is independent of the GAN being measured:

- Class accuracy (cGAN, AC-GAN): generate images for requested labels and
  count how often the classifier recognises the requested class.
- Matched categorical-code accuracy (InfoGAN): the categorical code is learned
  without labels, so its values are a permutation (at best) of the classes.
  Generate images for every code value, build the confusion matrix code value x
  predicted class, and score the best one-to-one matching of code values to
  classes (Hungarian algorithm, `scipy.optimize.linear_sum_assignment`). Chen
  et al. (2016, sec. 6) report about 95% (5% error) on MNIST for the same
  matching idea, applied there to Q's code predictions on real digits.

The reference classifier (`reference_classifier`): for `digits` the shipped CNN
`ganzoo.metrics.DigitsClassifierExtractor` (98.9% on the digits test split,
trained by `tools/train_digits_classifier.py`); for `fashion_mnist` the shipped
`ganzoo.metrics.FashionMNISTClassifierExtractor` (`tools/train_fmnist_classifier.py`,
test accuracy in its JSON); for other labelled data sets a
scikit-learn logistic regression on the pixels of the training split.
"""

import dataclasses

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclasses.dataclass
class ReferenceClassifier:
    """A classifier of real data used to judge generated images.

    Args:
        name: str. What it is, for reports.
        predict_fn: callable. Images `[N, ...]` in [-1, 1] -> int class `[N]`.
        num_classes: int. Number of classes it predicts.
    """

    name: str
    predict_fn: callable
    num_classes: int

    def predict(self, images):
        """Predicted classes `[N]` (int64) of images in [-1, 1]."""
        images = np.asarray(images, np.float32)
        if len(images) == 0:
            return np.zeros((0,), np.int64)
        return np.asarray(self.predict_fn(images), np.int64)


def digits_cnn_classifier():
    """The shipped digits CNN (`ganzoo.metrics.DigitsClassifierExtractor`)."""
    from ganzoo.metrics.digits_classifier import DigitsClassifierExtractor

    return _extractor_classifier(DigitsClassifierExtractor(), "digits_cnn")


def fmnist_cnn_classifier():
    """The shipped Fashion-MNIST CNN (`ganzoo.metrics.FashionMNISTClassifierExtractor`)."""
    from ganzoo.metrics.fmnist_classifier import FashionMNISTClassifierExtractor

    return _extractor_classifier(FashionMNISTClassifierExtractor(), "fmnist_cnn")


def _extractor_classifier(extractor, name):
    from ganzoo.metrics.streaming import compute_features

    def predict(images):
        return np.argmax(compute_features(extractor, images)["logits"], axis=-1)

    return ReferenceClassifier(f"{name} (ganzoo.metrics.{type(extractor).__name__})",
                               predict, 10)


def pixel_logistic_regression(images, labels, max_examples=10_000, seed=0):
    """A scikit-learn logistic regression on raw pixels of real training data.

    Args:
        images: array `[N, ...]` in [-1, 1]. Real training images.
        labels: int array `[N]`.
        max_examples: int. Subsample to at most this many (training time).
        seed: int. Seed of the subsample.

    Returns:
        A `ReferenceClassifier`.
    """
    from sklearn.linear_model import LogisticRegression

    images, labels = np.asarray(images, np.float32), np.asarray(labels)
    if len(labels) > max_examples:
        keep = np.random.default_rng(seed).choice(len(labels), max_examples, replace=False)
        images, labels = images[keep], labels[keep]
    model = LogisticRegression(max_iter=2000).fit(images.reshape(len(images), -1), labels)
    num_classes = int(labels.max()) + 1

    def predict(x):
        return model.predict(x.reshape(len(x), -1))

    return ReferenceClassifier("pixel_logistic_regression (sklearn, training split)",
                               predict, num_classes)


def reference_classifier(dataset="digits", image_size=None, data_dir=None):
    """The independent classifier for a data set (see the module docstring).

    Args:
        dataset: str. A `ganzoo.data` name.
        image_size: int or None. Image size of the run (digits: any size works).
        data_dir: str or None. Data directory for TFDS data sets.

    Returns:
        A `ReferenceClassifier`.

    Raises:
        ValueError: the data set has no labels.

    Example:

    >>> classifier = reference_classifier("digits")
    >>> images, labels = ganzoo.data.digits.digits_arrays("test")
    >>> class_accuracy(classifier.predict(images), labels) > 0.95
    True
    """
    if dataset == "digits":
        return digits_cnn_classifier()
    if dataset == "fashion_mnist":
        return fmnist_cnn_classifier()
    from ganzoo import data

    ds, spec = data.load(dataset, "train", image_size, data_dir)
    if not spec.num_classes:
        raise ValueError(f"Data set {dataset!r} has no labels: no classifier to judge control.")
    images, labels = ds.take(10_000).batch(10_000).get_single_element()
    return pixel_logistic_regression(images.numpy(), labels.numpy())


def class_accuracy(predicted, requested):
    """Fraction of generated images classified as the class they were asked for.

    Args:
        predicted: int array `[N]`. The reference classifier's classes.
        requested: int array `[N]`. The labels given to the generator.

    Returns:
        float in [0, 1].
    """
    predicted, requested = np.asarray(predicted), np.asarray(requested)
    if predicted.shape != requested.shape or predicted.ndim != 1:
        raise ValueError(f"`predicted` {predicted.shape} and `requested` {requested.shape} "
                         "must both be [N].")
    if len(predicted) == 0:
        raise ValueError("No predictions to score.")
    return float(np.mean(predicted == requested))


def confusion_matrix(codes, predicted, num_codes, num_classes):
    """Counts `[num_codes, num_classes]`: entry (i, j) = images of code i seen as class j."""
    codes, predicted = np.asarray(codes, np.int64), np.asarray(predicted, np.int64)
    if codes.shape != predicted.shape or codes.ndim != 1:
        raise ValueError(f"`codes` {codes.shape} and `predicted` {predicted.shape} must "
                         "both be [N].")
    matrix = np.zeros((num_codes, num_classes), np.int64)
    np.add.at(matrix, (codes, predicted), 1)
    return matrix


def matched_accuracy(codes, predicted, num_codes, num_classes):
    """Accuracy of a categorical code after the best one-to-one code -> class matching.

    The matching maximises the number of images whose code value maps to their
    predicted class (Hungarian algorithm on the confusion matrix). With more
    code values than classes the extra values match nothing and count as errors.

    Args:
        codes: int array `[N]`. Code values given to the generator.
        predicted: int array `[N]`. Classes the reference classifier predicts.
        num_codes: int. Number of code values.
        num_classes: int. Number of classes.

    Returns:
        `(accuracy, mapping, confusion)`: float, dict code value -> class, and
        the int confusion matrix `[num_codes, num_classes]`.

    Example:

    >>> matched_accuracy([0, 0, 1, 1], [1, 1, 0, 1], 2, 2)[0]
    0.75
    """
    confusion = confusion_matrix(codes, predicted, num_codes, num_classes)
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    accuracy = float(confusion[rows, cols].sum() / max(1, confusion.sum()))
    return accuracy, {int(r): int(c) for r, c in zip(rows, cols)}, confusion


def conditional_class_accuracy(gan, classifier, per_class=100, seed=0):
    """Class accuracy of a label-conditioned generator (`cgan`, `acgan`).

    Args:
        gan: a ganzoo GAN whose `generate` takes `labels`.
        classifier: `ReferenceClassifier`.
        per_class: int. Images generated per class.
        seed: int. Noise seed.

    Returns:
        dict: `class_accuracy`, `per_class_accuracy` (list), `num_samples`.
    """
    num_classes = gan.num_classes
    requested = np.repeat(np.arange(num_classes), per_class)
    predicted = classifier.predict(gan.generate(len(requested), seed=seed, labels=requested))
    per = [float(np.mean(predicted[requested == k] == k)) for k in range(num_classes)]
    return {"class_accuracy": class_accuracy(predicted, requested),
            "per_class_accuracy": per, "num_samples": int(len(requested))}


def categorical_code_accuracy(gan, classifier, per_value=100, seed=0):
    """Matched accuracy of InfoGAN's categorical code on generated images.

    Continuous codes are drawn uniformly on [-1, 1] (their training prior).

    Args:
        gan: an `InfoGAN`.
        classifier: `ReferenceClassifier`.
        per_value: int. Images generated per code value.
        seed: int. Noise and continuous-code seed.

    Returns:
        dict: `code_accuracy`, `code_to_class` (dict), `confusion` (nested list),
        `num_samples`.
    """
    values = np.repeat(np.arange(gan.num_categories), per_value)
    rng = np.random.default_rng(seed)
    continuous = rng.uniform(-1, 1, (len(values), gan.num_continuous)).astype(np.float32)
    images = gan.generate(len(values), seed=seed,
                          codes={"categorical": values, "continuous": continuous})
    accuracy, mapping, confusion = matched_accuracy(
        values, classifier.predict(images), gan.num_categories, classifier.num_classes)
    return {"code_accuracy": accuracy, "code_to_class": mapping,
            "confusion": confusion.tolist(), "num_samples": int(len(values))}
