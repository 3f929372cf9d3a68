"""The shipped digits classifier: in-domain FID/IS and class coverage offline.

Inception-v3 needs ImageNet weights that cannot be downloaded here, and it is
the wrong domain for 16x16 grey digits anyway. A small CNN trained on the
embedded `digits` training split (`tools/train_digits_classifier.py`) gives
"digits-FID" (its penultimate features), "digits-IS" (its logits), and a class
histogram whose KL to the data's class frequencies flags mode collapse. The
same idea as the MNIST classifier scores of TF-GAN's `mnist/util.py` and of
the "Are GANs Created Equal?" study (Lucic et al. 2018).
"""

import json
import pathlib

import keras
import numpy as np

from ganzoo.metrics.extractors import ShippedClassifierExtractor, classifier_head

NUM_CLASSES = 10
IMAGE_SIZE = 16
WEIGHTS_DIR = pathlib.Path(__file__).resolve().parent / "weights"
WEIGHTS_PATH = WEIGHTS_DIR / "digits_classifier.weights.h5"
METADATA_PATH = WEIGHTS_DIR / "digits_classifier.json"


def build_digits_classifier(feature_dim=128, dropout=0.3):
    """The digits CNN: two conv blocks, global pooling, a feature layer, logits.

    Args:
        feature_dim: int. Width of the `features` layer. Defaults to 128.
        dropout: float. Dropout rate before the logits (training only).
            Defaults to 0.3.

    Returns:
        An unweighted `keras.Model` mapping `[N, 16, 16, 1]` images in [-1, 1]
        to 10 logits; the layers named `features` and `logits` are the
        extractor's outputs.
    """
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="images")
    x = inputs
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return classifier_head(inputs, x, feature_dim, dropout, NUM_CLASSES, "digits_classifier")


def load_metadata(path=METADATA_PATH):
    """The JSON written next to the shipped weights (sha256, accuracy, settings)."""
    return json.loads(pathlib.Path(path).read_text())


class DigitsClassifierExtractor(ShippedClassifierExtractor):
    """Features (128-d) and logits (10-way) of the shipped digits classifier.

    Accepts square images of any size and 1 or 3 channels, in [-1, 1]; they are
    resized to 16x16 with antialiased bilinear filtering, the same filter that
    makes the 16x16 training images from the 8x8 originals.

    Args:
        weights_path: str or None. Weights file; None uses the file shipped in
            `ganzoo/metrics/weights/`, whose sha256 is checked against its JSON.

    Raises:
        ValueError: the shipped weights do not match their recorded sha256.

    Example:

    >>> from ganzoo.data.digits import digits_arrays
    >>> images, _ = digits_arrays("test")
    >>> out = DigitsClassifierExtractor()(images[:4])
    >>> out["features"].shape, out["logits"].shape
    ((4, 128), (4, 10))
    """

    build = staticmethod(build_digits_classifier)
    weights_path = WEIGHTS_PATH
    metadata_path = METADATA_PATH
    extractor_name = "digits_classifier"
    training_tool = "tools/train_digits_classifier.py"


def _digits_class_frequencies():
    from ganzoo.data.digits import digits_arrays

    _, labels = digits_arrays("train", image_size=8)
    return np.bincount(labels, minlength=NUM_CLASSES) / labels.shape[0]


def digits_class_histogram(logits, reference=None):
    """Class histogram of generated digits and its KL to the data's classes.

    A mode-collapse signal for image data: a generator that drops or favours
    digits moves its predicted-class histogram away from the (almost uniform)
    class frequencies of the training data. KL(generated || data) is 0 for a
    perfect match and log(10) = 2.30 nats when every sample is one digit.

    Args:
        logits: array `[N, 10]`. Digits-classifier logits of generated images;
            each image counts for its argmax class.
        reference: array `[10]` or None. Class probabilities to compare with;
            None uses the class frequencies of the digits training split.

    Returns:
        `(counts, kl)`: int64 array `[10]` of images per class, and the float
        KL divergence in nats (0 log 0 taken as 0).
    """
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] != NUM_CLASSES:
        raise ValueError(f"`logits` must be [N, {NUM_CLASSES}], got shape {logits.shape}.")
    counts = np.bincount(np.argmax(logits, axis=1), minlength=NUM_CLASSES)
    q = _digits_class_frequencies() if reference is None else np.asarray(reference, np.float64)
    q = q / q.sum()
    p = counts / counts.sum()
    seen = p > 0
    return counts, float(np.sum(p[seen] * np.log(p[seen] / q[seen])))
