"""Data sets: every loader returns unbatched `(image, label)` pairs in [-1, 1].

A loader is `fn(split, image_size=None, data_dir=None) -> (tf.data.Dataset, DataSpec)`
registered with `@register_dataset(name)`. Names that are not registered resolve
to `folder:PATH` (a directory of images) or to a TensorFlow Datasets builder.
"""

import dataclasses

import tensorflow as tf

_LOADERS = {}


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about a data set.

    Args:
        name: str. The data set's name as the user gave it.
        shape: tuple. Shape of one example: `(H, W, C)` for images, `(D,)` for vectors.
        num_classes: int. Number of label classes; 0 when the data has no labels.
        num_examples: int or None. Size of the split when known.
    """

    name: str
    shape: tuple
    num_classes: int = 0
    num_examples: int | None = None

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3


def register_dataset(name):
    """Registers a loader under `name`; a duplicate name raises."""

    def decorator(fn):
        if name in _LOADERS:
            raise ValueError(f"Data set {name!r} is already registered.")
        _LOADERS[name] = fn
        return fn

    return decorator


def list_datasets():
    """Names of the built-in data sets (TFDS names and `folder:PATH` also work)."""
    _import_loaders()
    return sorted(_LOADERS)


def load(name, split="train", image_size=None, data_dir=None):
    """Loads a data set as unbatched `(image, label)` pairs scaled to [-1, 1].

    Args:
        name: str. A built-in name (`digits`, ...), `folder:PATH`, or a TFDS name
            such as `mnist`.
        split: str. `"train"` or `"test"`.
        image_size: int or None. Square size to resize images to; None keeps the
            data set's own size (16 for `digits`).
        data_dir: str or None. Where prepared TFDS data lives.

    Returns:
        `(dataset, spec)`: a `tf.data.Dataset` of `(float32 example, int32 label)`
        and its `DataSpec`.

    Example:

    >>> ds, spec = load("digits", split="test")
    >>> spec.shape
    (16, 16, 1)
    """
    _import_loaders()
    if name in _LOADERS:
        return _LOADERS[name](split, image_size=image_size, data_dir=data_dir)
    if name.startswith("folder:"):
        from ganzoo.data import folder

        return folder.load_folder(
            name[len("folder:"):], split, image_size=image_size, data_dir=data_dir
        )
    from ganzoo.data import tfds

    return tfds.load_tfds(name, split, image_size=image_size, data_dir=data_dir)


def select_classes(dataset, spec, classes):
    """Keeps only the examples whose label is in `classes` (`data.classes`).

    Fine-tuning on a subset of classes (e.g. digits 0-4) uses this. The label
    space (`spec.num_classes`) is unchanged, so a conditional model trained on
    all classes fine-tunes with the same networks.

    Args:
        dataset: `tf.data.Dataset` of `(example, label)` from `load`.
        spec: its `DataSpec`.
        classes: list of int, or None to keep everything.

    Returns:
        `(dataset, spec)` with `spec.num_examples` counted for small data sets.
    """
    if classes is None:
        return dataset, spec
    from ganzoo.config import ConfigError

    if not spec.num_classes:
        raise ConfigError(f"Config key 'data.classes' selects labels, but {spec.name!r} has "
                          "no labels; remove data.classes or use a labelled data set.")
    bad = [c for c in classes if not 0 <= c < spec.num_classes]
    if bad:
        raise ConfigError(f"Config key 'data.classes' has labels {bad} outside "
                          f"[0, {spec.num_classes - 1}] of {spec.name!r}.")
    wanted = tf.constant(sorted(classes), tf.int64)
    dataset = dataset.filter(
        lambda x, y: tf.reduce_any(tf.equal(tf.cast(y, tf.int64), wanted)))
    count = None
    if spec.num_examples and spec.num_examples <= 200_000:
        count = int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
        if count == 0:
            raise ConfigError(f"Config key 'data.classes' = {classes} selects no example "
                              f"of {spec.name!r}.")
        # A known size keeps the small-data cache in `train_pipeline`.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
    return dataset, dataclasses.replace(spec, num_examples=count)


def _import_loaders():
    # Imported lazily so `import ganzoo.data` stays cheap; each module registers itself.
    from ganzoo.data import digits  # noqa: F401

    try:
        from ganzoo.data import toy  # noqa: F401
    except ImportError:
        pass


def train_pipeline(dataset, batch_size, seed, shuffle_buffer=10_000, skip_batches=0):
    """Shuffled, repeated, batched training pipeline with a reproducible order.

    Args:
        dataset: `tf.data.Dataset` of `(example, label)` from `load`.
        batch_size: int. Global batch size (examples per element).
        seed: int. Shuffle seed; the same seed gives the same order.
        shuffle_buffer: int. Shuffle buffer size.
        skip_batches: int. Batches to skip, so a resumed run continues the data
            order where it stopped.

    Returns:
        An infinite `tf.data.Dataset` of batched `(examples, labels)`.
    """
    ds = dataset.cache() if _is_small(dataset) else dataset
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat().batch(batch_size, drop_remainder=True)
    if skip_batches:
        ds = ds.skip(skip_batches)
    return ds.prefetch(tf.data.AUTOTUNE)


def _is_small(dataset):
    card = int(dataset.cardinality())
    return 0 < card <= 200_000
