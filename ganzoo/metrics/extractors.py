"""Feature extractors: images in [-1, 1] -> `{"features": ..., "logits": ...}`.

Every metric on images (FID, KID, IS, precision/recall) is a pure function of
the arrays an extractor returns, so extractors are pluggable: Inception-v3 for
numbers comparable across papers, the shipped digits classifier for fast
in-domain numbers, or any `keras.Model`. An extractor states what it is
(`name`, `weights_checksum`, `resize_method`, `input_size`), so a reported
number can say which network, which weights and which resizing made it.
"""

import os
import pathlib
import warnings

import keras
import numpy as np
import tensorflow as tf

from ganzoo.files import sha256_of_file  # noqa: F401 (re-exported by ganzoo.metrics)

INCEPTION_WEIGHTS_ENV = "GANZOO_INCEPTION_WEIGHTS"

# name -> (tf.image.resize method, antialias). Antialiasing only changes
# down-sampling, where it avoids the aliasing that skews FID (Parmar et al. 2022,
# "On Aliased Resizing and Surprising Subtleties in GAN Evaluation").
_RESIZE_METHODS = {
    "bilinear": ("bilinear", False),
    "bilinear_antialias": ("bilinear", True),
    "bicubic_antialias": ("bicubic", True),
    "nearest": ("nearest", False),
}


class Extractor:
    """Base class: resizes and converts images, then runs a network.

    Subclasses set the attributes below and implement `_forward`. Any object
    with a `__call__(images) -> dict` works with `compute_features`.

    Attributes:
        name: str. Identifies the network, e.g. `"inception_v3"`.
        weights_checksum: str or None. sha256 of the weights file; None for
            random or in-memory weights.
        resize_method: str. One of `bilinear`, `bilinear_antialias`,
            `bicubic_antialias`, `nearest`.
        input_size: tuple `(H, W)` or None. Images are resized to it; None
            passes them through unchanged.
        channels: int or None. 1 averages RGB to grey, 3 repeats grey to RGB;
            None keeps the channels as given.
    """

    name = "extractor"
    weights_checksum = None
    resize_method = "bilinear_antialias"
    input_size = None
    channels = None

    def preprocess(self, images):
        """Converts a batch `[N, H, W, C]` in [-1, 1] to the network's input tensor."""
        x = tf.convert_to_tensor(images, dtype=tf.float32)
        if x.shape.rank == 3:
            x = x[..., None]
        if x.shape.rank != 4:
            raise ValueError(f"Images must be [N, H, W, C] or [N, H, W], got shape {x.shape}.")
        lo, hi = float(tf.reduce_min(x)), float(tf.reduce_max(x))
        if lo < -1.5 or hi > 1.5:
            warnings.warn(
                f"{self.name}: images span [{lo:.3g}, {hi:.3g}]; extractors expect [-1, 1].",
                stacklevel=3,
            )
        if self.channels == 3 and x.shape[-1] == 1:
            x = tf.repeat(x, 3, axis=-1)
        elif self.channels == 1 and x.shape[-1] == 3:
            x = tf.reduce_mean(x, axis=-1, keepdims=True)
        if self.input_size is not None and tuple(x.shape[1:3]) != tuple(self.input_size):
            method, antialias = _RESIZE_METHODS[self.resize_method]
            x = tf.image.resize(x, self.input_size, method=method, antialias=antialias)
        return x

    def _forward(self, x):
        raise NotImplementedError

    def __call__(self, images):
        """Runs the extractor on one batch.

        Args:
            images: array or tensor `[N, H, W, C]` with values in [-1, 1].

        Returns:
            dict of float32 numpy arrays: `features` `[N, D]` and, when the
            network has a classifier head, `logits` `[N, num_classes]`.
        """
        outputs = self._forward(self.preprocess(images))
        return {key: np.asarray(value, dtype=np.float32) for key, value in outputs.items()}

    def __repr__(self):
        checksum = (self.weights_checksum or "none")[:12]
        return (f"{type(self).__name__}(name={self.name!r}, weights_sha256={checksum}, "
                f"resize={self.resize_method}, input_size={self.input_size})")


class KerasModelExtractor(Extractor):
    """Wraps any `keras.Model` as an extractor.

    Args:
        model: `keras.Model`. Must take images in [-1, 1] (put any other
            normalisation inside the model).
        feature_layer: str or None. Name of the layer whose output is
            `features` (flattened to `[N, D]`); None uses the model's output.
        logits_layer: str or None. Name of the layer whose output is `logits`;
            None returns no logits.
        name: str or None. Defaults to the model's name.
        weights_checksum: str or None. sha256 of the weights the model was
            loaded from, if known.
        resize_method: str. See `Extractor`. Defaults to `"bilinear_antialias"`.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(4, name="feat"),
    ...                           keras.layers.Dense(3, name="head")])
    >>> out = KerasModelExtractor(model, "feat", "head")(np.zeros((2, 16, 16, 1)))
    >>> out["features"].shape, out["logits"].shape
    ((2, 4), (2, 3))
    """

    def __init__(self, model, feature_layer=None, logits_layer=None, name=None,
                 weights_checksum=None, resize_method="bilinear_antialias"):
        if resize_method not in _RESIZE_METHODS:
            raise ValueError(
                f"Unknown resize_method {resize_method!r}; choose from {sorted(_RESIZE_METHODS)}."
            )
        features = model.get_layer(feature_layer).output if feature_layer else model.outputs[0]
        outputs = {"features": features}
        if logits_layer:
            outputs["logits"] = model.get_layer(logits_layer).output
        self.model = keras.Model(model.inputs, outputs)
        self.name = name or model.name
        self.weights_checksum = weights_checksum
        self.resize_method = resize_method
        shape = model.inputs[0].shape
        self.input_size = tuple(shape[1:3]) if None not in shape[1:3] else None
        self.channels = shape[-1]

    def _forward(self, x):
        outputs = self.model.predict_on_batch(x)
        features = np.asarray(outputs["features"])
        outputs["features"] = features.reshape(features.shape[0], -1)
        return outputs


class InceptionV3Extractor(KerasModelExtractor):
    """Inception-v3 pool3 features (2048-d) and ImageNet logits (1000-way).

    Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer
    Vision", https://arxiv.org/abs/1512.00567; its pool3 features define FID
    (Heusel et al. 2017) and its logits the Inception Score (Salimans et al.
    2016). This is `keras.applications.InceptionV3` built with
    `classifier_activation=None`, so the head returns logits directly (the
    softmax layer has no weights; weights saved from the default model load
    unchanged). Keras' ImageNet weights are not the 2015 TF graph with a
    1008-way head used by TF-GAN and pytorch-fid: numbers are consistent
    within ganzoo but differ slightly from published FID/IS.

    Weights cannot be downloaded here. Make a file on a machine with internet:

        keras.applications.InceptionV3(weights="imagenet").save_weights(
            "inception_v3.weights.h5")

    (Keras' own `inception_v3_weights_tf_dim_ordering_tf_kernels.h5` also
    works), then pass its path or set `GANZOO_INCEPTION_WEIGHTS`.

    Args:
        weights_path: str or None. Weights file; None reads the
            `GANZOO_INCEPTION_WEIGHTS` environment variable.
        allow_random_weights: bool. Testing hook: build with random weights
            when no file is given, instead of raising. Defaults to False.

    Raises:
        FileNotFoundError: no weights file was given or it does not exist
            (raised before the network is built).
    """

    def __init__(self, weights_path=None, allow_random_weights=False):
        path = weights_path or os.environ.get(INCEPTION_WEIGHTS_ENV)
        if path is None and not allow_random_weights:
            raise FileNotFoundError(
                "InceptionV3Extractor needs a local weights file: ImageNet weights cannot be "
                "downloaded at run time here. On a machine with internet run\n"
                "    keras.applications.InceptionV3(weights='imagenet')"
                ".save_weights('inception_v3.weights.h5')\n"
                "copy the file here, and pass it: `--inception_weights=FILE` (ganzoo.evaluate), "
                f"`weights_path=FILE` (Python) or {INCEPTION_WEIGHTS_ENV}=FILE."
            )
        if path is not None and not pathlib.Path(path).is_file():
            raise FileNotFoundError(f"Inception-v3 weights file {str(path)!r} does not exist.")
        model = keras.applications.InceptionV3(
            include_top=True, weights=None, classifier_activation=None
        )
        checksum = None
        if path is not None:
            model.load_weights(path)
            checksum = sha256_of_file(path)
        super().__init__(model, feature_layer="avg_pool", logits_layer="predictions",
                         name="inception_v3", weights_checksum=checksum,
                         resize_method="bilinear_antialias")


def classifier_head(inputs, x, feature_dim, dropout, num_classes, name):
    """The shipped classifiers' top: a ReLU `features` layer (the FID features),
    dropout (training only) and a `logits` layer; returns the `keras.Model`."""
    features = keras.layers.Dense(feature_dim, activation="relu", name="features")(x)
    x = keras.layers.Dropout(dropout)(features)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


class ShippedClassifierExtractor(KerasModelExtractor):
    """A domain classifier shipped in `ganzoo/metrics/weights/` with a JSON record.

    Subclasses set `build` (a function returning the unweighted model with
    `features` and `logits` layers), `weights_path`, `metadata_path`,
    `extractor_name` and `training_tool` (the script that re-creates the weights).

    Args:
        weights_path: str or None. Weights file; None uses the shipped file, whose
            sha256 is checked against its JSON.

    Raises:
        ValueError: the shipped weights do not match their recorded sha256.
    """

    build = None
    weights_path = None
    metadata_path = None
    extractor_name = None
    training_tool = None

    def __init__(self, weights_path=None):
        import json

        path = pathlib.Path(weights_path) if weights_path else pathlib.Path(self.weights_path)
        checksum = sha256_of_file(path)
        if weights_path is None:
            record = pathlib.Path(self.metadata_path)
            expected = json.loads(record.read_text())["sha256"]
            if checksum != expected:
                raise ValueError(
                    f"{path} has sha256 {checksum}, but {record.name} records "
                    f"{expected}; re-run {self.training_tool}.")
        model = type(self).build()
        model.load_weights(path)
        super().__init__(model, feature_layer="features", logits_layer="logits",
                         name=self.extractor_name, weights_checksum=checksum,
                         resize_method="bilinear_antialias")
