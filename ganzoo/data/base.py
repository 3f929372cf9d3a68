"""What every data loader uses: `DataSpec`, the loader registry, random-access `Source`s.

A leaf of `ganzoo.data`: the loader modules (`digits`, `idx`, `toy`, `folder`,
`tfds`) import this, not the package `__init__`, which imports them (lazily)
when a data set is loaded. `ganzoo.data` re-exports every name here.
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


def refuse_data_dir(name, data_dir):
    """Raises ValueError when `data_dir` is given to a data set that reads no files.

    A `--data_dir` that would be ignored usually means another data set was meant
    (`--data_dir=DIR` without `--dataset=fashion_mnist` trained on the digits).
    """
    if data_dir:
        raise ValueError(
            f"Data set {name!r} reads no files, so --data_dir={data_dir} (data.data_dir) would "
            "be ignored. Drop it, or name the data set that lives there: "
            "--dataset=fashion_mnist or --dataset=mnist (IDX files), a TFDS name (prepared "
            "TFDS data), or --dataset=folder:PATH (images).")


def registered_loader(name):
    """The loader registered under `name`, or None."""
    return _LOADERS.get(name)


def registered_names():
    """Names registered so far (`ganzoo.data.list_datasets` imports the built-in loaders first)."""
    return sorted(_LOADERS)


@dataclasses.dataclass(frozen=True)
class Source:
    """Random access to one split, which lets a pipeline shuffle it completely.

    Args:
        size: int. Number of examples.
        fetch: callable. int64 indices -> `(examples, labels)`; a batch of
            indices `[B]` when `batched`, else one scalar index.
        batched: bool. Whether `fetch` takes a batch of indices (in-memory
            arrays) or one (a file to decode).
    """

    size: int
    fetch: object
    batched: bool = True


def with_source(dataset, source):
    """Marks `dataset` as having random access through `source` (see `Source`).

    Transformations (`filter`, `map`) return new datasets without the mark, so a
    pipeline never uses a source that no longer describes the data.
    """
    dataset.ganzoo_source = source
    return dataset


def array_source(images, labels, transform=None):
    """A batched `Source` over in-memory arrays; `transform` maps a batch of images
    (e.g. uint8 to float in [-1, 1]) after the gather."""
    images = tf.constant(images)
    labels = tf.constant(labels, tf.int32)

    def fetch(indices):
        x = tf.gather(images, indices)
        return (transform(x) if transform else x), tf.gather(labels, indices)

    return Source(int(labels.shape[0]), fetch, batched=True)
