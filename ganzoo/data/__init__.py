"""Data sets: every loader returns unbatched `(image, label)` pairs in [-1, 1].

A loader is `fn(split, image_size=None, data_dir=None) -> (tf.data.Dataset, DataSpec)`
registered with `@register_dataset(name)`. Names that are not registered resolve
to `folder:PATH` (a directory of images) or to a TensorFlow Datasets builder.
"""

import dataclasses
import re

import tensorflow as tf

from ganzoo.data.base import (  # noqa: F401  (the loader API, importable from here)
    DataSpec,
    Source,
    array_source,
    register_dataset,
    registered_loader,
    registered_names,
    with_source,
)
from ganzoo.errors import ConfigError


def list_datasets():
    """Names of the built-in data sets (TFDS names and `folder:PATH` also work)."""
    _import_loaders()
    return registered_names()


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
    loader = registered_loader(name)
    if loader is not None:
        return loader(split, image_size=image_size, data_dir=data_dir)
    # `folder` and `tfds` only when asked for, like the loaders (`_import_loaders`).
    if name.startswith("folder:"):
        from ganzoo.data import folder

        return folder.load_folder(
            name[len("folder:"):], split, image_size=image_size, data_dir=data_dir
        )
    normalized = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    close = [n for n in registered_names()
             if n == normalized or n.replace("_", "") == normalized.replace("_", "")]
    if close:
        raise ConfigError(f"Unknown data set {name!r}; did you mean {close[0]!r} (built in)? "
                          f"Built-in data sets: {', '.join(registered_names())}.")
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
        # A known size lets `train_pipeline` copy small subsets into memory.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
    return dataset, dataclasses.replace(spec, num_examples=count)


def select_examples(dataset, spec, max_examples, seed=0):
    """Keeps a fixed random subset of `max_examples` examples (`data.max_examples`).

    For data-efficiency experiments, such as DiffAugment's (Zhao et al. 2020,
    https://arxiv.org/abs/2006.10738) 10% of a training split. The subset is the
    first `max_examples` positions of one seeded permutation (`example_order`), so
    it depends on the data and `max_examples` alone (not `train.seed`: every run
    of a comparison sees the same images), and a smaller subset lies inside a
    larger one. The examples keep the data set's own order.

    Args:
        dataset: `tf.data.Dataset` of `(example, label)` from `load` (or
            `select_classes`, whose selection it then subsets).
        spec: its `DataSpec`.
        max_examples: int, or None to keep everything.
        seed: int. Seed of the permutation. Defaults to 0.

    Returns:
        `(dataset, spec)` with `spec.num_examples == max_examples`.

    Raises:
        ConfigError: the data has fewer examples, or is too large for memory or of
            unknown size (no random access).
    """
    if max_examples is None:
        return dataset, spec
    source = source_of(dataset)
    if source is None:
        raise ConfigError(f"Config key 'data.max_examples' needs a data set of known size "
                          f"that fits in memory; {spec.name!r} is not one.")
    if max_examples > source.size:
        raise ConfigError(f"Config key 'data.max_examples' is {max_examples}, but "
                          f"{spec.name!r} has only {source.size} examples here.")
    index = tf.sort(example_order(tf.range(max_examples, dtype=tf.int64), source.size, seed))
    if source.batched:
        images, labels = source.fetch(index)
        subset = tf.data.Dataset.from_tensor_slices((images, labels))
        subset = with_source(subset, array_source(images, labels))
    else:
        subset = tf.data.Dataset.from_tensor_slices(index).map(source.fetch).apply(
            tf.data.experimental.assert_cardinality(max_examples))
    return subset, dataclasses.replace(spec, num_examples=int(max_examples))


def _import_loaders():
    # Imported lazily so `import ganzoo.data` stays cheap; each module registers itself.
    from ganzoo.data import digits, idx  # noqa: F401

    try:
        from ganzoo.data import toy  # noqa: F401
    except ImportError:
        pass


# The stream of examples is endless; positions are int64.
_FOREVER = 2**62
# Small data sets without their own random access are copied into memory once
# (digits, TFDS mnist/cifar10, class subsets) when they fit in this many bytes.
_MAX_IN_MEMORY_BYTES = 2 << 30


def source_of(dataset):
    """The dataset's `Source`: its loader's, or an in-memory copy when it is small.

    Returns None for data too large for memory or of unknown size; those are
    shuffled with a buffer (see `train_pipeline`).
    """
    source = getattr(dataset, "ganzoo_source", None)
    if source is not None:
        return source
    card = int(dataset.cardinality())
    if card <= 0:
        return None
    x_spec, _ = dataset.element_spec
    if not x_spec.shape.is_fully_defined():
        return None
    nbytes = card * x_spec.shape.num_elements() * x_spec.dtype.size
    if nbytes > _MAX_IN_MEMORY_BYTES:
        return None
    images, labels = dataset.batch(card).get_single_element()
    return with_source(dataset, array_source(images, labels)).ganzoo_source


def example_order(positions, size, seed):
    """Which example sits at each stream position: epoch `p // size` is a fresh
    permutation of all `size` examples, drawn from `(seed, epoch)` alone.

    Since the order is a pure function of the position, a resumed run seeks to
    its position in constant time and continues exactly where it stopped. Each
    permutation is two rounds of TF's index shuffle (`RandomIndexShuffle`), keyed
    by Philox draws from `(seed, epoch)`. One round keyed by `(seed, epoch, 0)`
    itself, as before, was far from random on 60,000 examples: each epoch's
    order had a 0.89 correlation with the previous one (the same examples met in
    the same batches every epoch) and neighbouring positions held correlated
    indices (lag-1 correlation 0.09, parity 0.17); these keys and two rounds
    measure like a random permutation (tests/test_data_pipeline.py).
    """
    positions = tf.convert_to_tensor(positions, tf.int64)
    epoch = positions // size
    epochs, which = tf.unique(tf.reshape(epoch, [-1]))
    # Two 3-word keys per epoch, full-range int64 from Philox (well mixed, unlike
    # the raw (seed, epoch) words); a batch spans one epoch or two.
    keys = tf.map_fn(
        lambda e: tf.random.stateless_uniform(
            [6], seed=tf.stack([tf.constant(seed, tf.int64), e]), minval=None, maxval=None,
            dtype=tf.int64, alg="philox"),
        epochs)
    keys = tf.reshape(tf.gather(keys, which), tf.concat([tf.shape(positions), [6]], 0))
    index = positions % size
    max_index = tf.fill(tf.shape(positions), tf.constant(size - 1, tf.int64))
    for rounds in (keys[..., :3], keys[..., 3:]):
        # The raw op takes one seed per index; the public wrapper accepts only one seed.
        index = tf.raw_ops.RandomIndexShuffle(index=index, seed=rounds, max_index=max_index)
    return index


def batched_stream(dataset, batch_size, seed, shuffle_buffer=10_000, skip_batches=0):
    """Endless batches of `dataset`, every epoch shuffled, starting at a batch.

    - Random access (`source_of`): each epoch is a complete permutation of the
      data (`example_order`), so batches are i.i.d. even when the source is
      sorted by class, and skipping `n` batches costs nothing.
    - Known size, no random access (large TFDS sets): each epoch's runs of
      `shuffle_buffer` examples are permuted from `(seed, epoch)`; skipping reads
      at most one epoch.
    - Unknown size: one buffer shuffle over the repeated data; skipping reads
      the skipped batches.

    Args:
        dataset: `tf.data.Dataset` of `(example, label)` from `load`.
        batch_size: int. Examples per batch.
        seed: int. The same seed gives the same order.
        shuffle_buffer: int. Buffer of the two paths without random access.
        skip_batches: int. Batches to skip (a resumed run's position).

    Returns:
        An infinite `tf.data.Dataset` of `(examples [B, ...], labels [B])`.
    """
    start = int(skip_batches) * batch_size
    source = source_of(dataset)
    if source is not None:
        positions = tf.data.Dataset.range(start, _FOREVER)

        def fetch(p):
            return source.fetch(example_order(p, source.size, seed))

        if source.batched:
            return positions.batch(batch_size, drop_remainder=True).map(
                fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        # The order is computed for blocks of positions (one key draw per block),
        # then each example is fetched on its own.
        order = positions.batch(4096).map(lambda p: example_order(p, source.size, seed)).unbatch()
        return order.map(source.fetch, num_parallel_calls=tf.data.AUTOTUNE,
                         deterministic=True).batch(batch_size, drop_remainder=True)
    size = int(dataset.cardinality())
    if size > 0:
        first_epoch = start // size
        epochs = tf.data.Dataset.range(first_epoch, _FOREVER)
        ds = epochs.flat_map(lambda e: _block_shuffled(dataset, shuffle_buffer, seed, e))
        ds = ds.skip(start - first_epoch * size)
        return ds.batch(batch_size, drop_remainder=True)
    ds = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return ds.repeat().batch(batch_size, drop_remainder=True).skip(int(skip_batches))


def _block_shuffled(dataset, block, seed, epoch):
    """One epoch of `dataset`, each run of `block` examples permuted from
    `(seed, epoch, block index)`: as much memory and mixing as a shuffle buffer of
    that size, but stateless. (`Dataset.shuffle` cannot take a per-epoch seed
    tensor: TF's `get_seed` compares it with 0 in Python when the global seed is 0.)"""

    def permute(index, examples):
        x, y = examples
        key = tf.random.stateless_uniform(
            tf.shape(y)[:1], seed=tf.stack([tf.constant(seed, tf.int64),
                                            epoch * 1_000_003 + index]))
        order = tf.argsort(key)
        return tf.gather(x, order), tf.gather(y, order)

    return dataset.batch(block).enumerate().map(permute).unbatch()


def train_pipeline(dataset, batch_size, seed, shuffle_buffer=10_000, skip_batches=0):
    """Shuffled, repeated, batched training pipeline with a reproducible order.

    Args:
        dataset: `tf.data.Dataset` of `(example, label)` from `load`.
        batch_size: int. Global batch size (examples per element).
        seed: int. Shuffle seed; the same seed gives the same order.
        shuffle_buffer: int. Shuffle buffer size, used only for data without
            random access (see `batched_stream`).
        skip_batches: int. Batches to skip, so a resumed run continues the data
            order where it stopped (constant time for random-access data).

    Returns:
        An infinite `tf.data.Dataset` of batched `(examples, labels)`.
    """
    return batched_stream(dataset, batch_size, seed, shuffle_buffer,
                          skip_batches).prefetch(tf.data.AUTOTUNE)
