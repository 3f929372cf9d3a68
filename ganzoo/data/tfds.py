"""TensorFlow Datasets image sets (`mnist`, `cifar10`, `celeb_a`, ...), offline-safe.

ganzoo never downloads data. A TFDS data set must already be prepared under
`data_dir` (by default `$TFDS_DATA_DIR` or `~/tensorflow_datasets`); when it is
not, `load_tfds` fails at once with `DataNotAvailableError`, whose message says
how to provide the files. This matters on machines without network, where
`tfds.load(..., download=True)` would sit in a retry loop for minutes.

`tensorflow_datasets` is imported inside functions because importing it costs
about a second, and most runs (`digits`, `folder:PATH`) never need it.
"""

import difflib
import os
import re

import tensorflow as tf

from ganzoo import compat
from ganzoo.data.base import DataSpec, registered_names

_DEFAULT_DATA_DIR = "~/tensorflow_datasets"


class DataNotAvailableError(RuntimeError):
    """A TFDS data set is not prepared locally, and ganzoo will not download it."""


class UnknownDatasetError(ValueError):
    """A data set name is neither built in, `folder:PATH`, nor a TFDS builder."""


def load_tfds(name, split="train", image_size=None, data_dir=None):
    """Loads a prepared TFDS image data set as `(image, label)` pairs in [-1, 1].

    Reads only files already on disk: it asks `builder.is_prepared()` and calls
    `builder.as_dataset`, never `download_and_prepare`.

    Args:
        name: str. A TFDS name, optionally with config and version, e.g. `mnist`,
            `cifar10`, `celeb_a`, `lsun/bedroom`.
        split: str. `"train"` or `"test"`; any split the builder has (e.g.
            `"validation"`) and TFDS slicing such as `"train[:90%]"` also work.
            Defaults to `"train"`.
        image_size: int or None. Square size to resize to (antialiased
            bilinear). None keeps the data set's size, which must then be fixed.
            Defaults to None.
        data_dir: str or None. Root of prepared TFDS data. None means TFDS's
            default (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`). Defaults to None.

    Returns:
        `(dataset, spec)`: an unbatched `tf.data.Dataset` of `(float32 image
        [H, W, C], int32 label)` and its `DataSpec`. Data sets without a `label`
        class feature (e.g. `celeb_a`) give label 0 and `num_classes=0`.

    Raises:
        DataNotAvailableError: the data set is not prepared under `data_dir`.
        UnknownDatasetError: `name` is not a TFDS data set.
        ValueError: the split does not exist, or the data has no image feature.

    Example:

    >>> ds, spec = load_tfds("mnist", "train", data_dir="/data/tfds")  # doctest: +SKIP
    >>> spec.shape, spec.num_classes  # doctest: +SKIP
    ((28, 28, 1), 10)
    """
    builder = _builder(name, data_dir)
    features = builder.info.features
    image_key = _image_key(name, features)
    height, width, channels = features[image_key].shape
    if channels is None:
        raise ValueError(f"TFDS data set {name!r} has images with an unknown channel count.")
    if image_size is None and (height is None or width is None):
        raise ValueError(
            f"TFDS data set {name!r} has images of varying size; pass an image size to "
            "resize them to a square, e.g. --set data.image_size=64."
        )
    label = features["label"] if "label" in features else None
    num_classes = label.num_classes if _is_class_label(label) else 0

    tfds_split = resolve_split(name, split, list(builder.info.splits.keys()))
    ds = _as_dataset(builder, name, tfds_split, data_dir)
    num_examples = int(ds.cardinality())

    size = (image_size, image_size) if image_size else (height, width)
    needs_resize = image_size is not None and (height, width) != size

    def to_pair(example):
        image = tf.cast(example[image_key], tf.float32) / 127.5 - 1.0
        if needs_resize:
            image = tf.image.resize(image, size, method="bilinear", antialias=True)
            image = tf.clip_by_value(image, -1.0, 1.0)
        image = tf.ensure_shape(image, (*size, channels))
        if num_classes:
            return image, tf.cast(example["label"], tf.int32)
        return image, tf.constant(0, tf.int32)

    ds = ds.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE)
    spec = DataSpec(
        name,
        (*size, channels),
        num_classes=num_classes,
        num_examples=num_examples if num_examples >= 0 else None,
    )
    return ds, spec


def resolve_split(name, split, available):
    """Checks `split` against the splits a builder has.

    Args:
        name: str. The data set's name, for messages.
        split: str. Requested split, e.g. `"test"`, `"train[:90%]"` or `"train+validation"`.
        available: list of str. The builder's split names; empty when unknown (the
            data is not prepared yet, or TFDS is mocked), in which case `split`
            passes through and `as_dataset` decides.

    Returns:
        `split`, unchanged, when every part of it names an available split.

    Raises:
        ValueError: a split is missing; the message lists the splits there are.
    """
    if not available:
        return split
    for part in split.split("+"):
        base = re.sub(r"\[.*\]$", "", part.strip())
        if base not in available:
            have = ", ".join(sorted(available))
            hint = ""
            if base == "test":
                hint = (
                    " Use one of those (e.g. split='validation'), or hold part of train out "
                    "with TFDS slicing: 'train[:90%]' to train and 'train[90%:]' to test."
                )
            raise ValueError(f"TFDS data set {name!r} has no {base!r} split; it has: {have}.{hint}")
    return split


def _builder(name, data_dir):
    """`tfds.builder` with ganzoo's errors; never touches the network."""
    import tensorflow_datasets as tfds

    try:
        with compat.tfds_temp_dirs_removed():
            return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        # `ganzoo.data.load`, the way here for any name, has imported the built-in loaders.
        base = name.split(":")[0].split("/")[0]
        names = [*registered_names(), *tfds.list_builders(with_community_datasets=False)]
        close = difflib.get_close_matches(base.lower(), names, n=1, cutoff=0.8)
        maybe = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownDatasetError(
            f"Unknown data set {name!r}.{maybe} ganzoo accepts a built-in name "
            f"({', '.join(registered_names())}), 'folder:PATH' for a directory of images, "
            "or a TensorFlow Datasets name such as 'mnist', 'cifar10' or 'celeb_a' "
            "(https://www.tensorflow.org/datasets/catalog)."
        ) from e
    except (ValueError, AssertionError, ImportError) as e:
        # Bad config or version ("mnist/foo", "mnist:9.9.9"), or a namespace whose
        # extra packages are missing: TFDS's own text says which.
        raise ValueError(f"Could not open TFDS data set {name!r}: {e}") from e


def _as_dataset(builder, name, split, data_dir):
    """Opens prepared files, or raises `DataNotAvailableError` in well under a second."""
    try:
        # Called even when `is_prepared()` is False: `as_dataset` never downloads and
        # fails at once without files, and `tfds.testing.mock_data` patches
        # `as_dataset` (not `is_prepared`), so this keeps mocked tests working.
        return builder.as_dataset(split=split, shuffle_files=False)
    except Exception as e:
        if builder.is_prepared():
            raise
        # Missing and half-written copies fail in several ways (AssertionError,
        # KeyError on empty splits, ...); all of them mean "not available here".
        raise DataNotAvailableError(_not_available_message(builder, name, data_dir)) from e


def _not_available_message(builder, name, data_dir):
    root = data_dir or os.environ.get("TFDS_DATA_DIR") or _DEFAULT_DATA_DIR
    base = builder.name
    lines = [
        f"TFDS data set {name!r} is not prepared in {root} (looked for {builder.data_path}), "
        "and ganzoo never downloads data (it may run without network). To provide it:",
        f"  1. On a machine with internet, run `tfds build {name}` (or "
        f"`python -c \"import tensorflow_datasets as tfds; tfds.load('{name}')\"`), then "
        f"copy ~/tensorflow_datasets/{base} to {os.path.join(root, base)} on this machine, "
        "or pass --data_dir=DIR where DIR holds the copied folder.",
        "  2. Or put the data set's original files in a directory MANUAL_DIR and build "
        f"it here: tfds.builder('{name}', data_dir='{root}').download_and_prepare("
        "download_config=tfds.download.DownloadConfig(manual_dir='MANUAL_DIR')).",
        "  3. Or train offline now: --dataset=digits (built in), or "
        "--dataset=folder:PATH for a directory of images.",
    ]
    instructions = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
    if instructions:
        lines.append(f"Manual download instructions for {base}: {instructions.strip()}")
    return "\n".join(lines)


def _image_key(name, features):
    """The `image` feature, else the first top-level image feature."""
    import tensorflow_datasets as tfds

    image_type = tfds.features.Image
    if "image" in features and isinstance(features["image"], image_type):
        return "image"
    for key, feature in features.items():
        if isinstance(feature, image_type):
            return key
    raise ValueError(
        f"TFDS data set {name!r} has no image feature (features: {', '.join(features)}); "
        "ganzoo's TFDS loader reads image data sets only."
    )


def _is_class_label(feature):
    import tensorflow_datasets as tfds

    return isinstance(feature, tfds.features.ClassLabel)
