"""MNIST-format data sets from their original IDX files (`fashion_mnist`, `mnist`).

Every MNIST-family download (MNIST, Fashion-MNIST, KMNIST) is four files:
`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
`t10k-labels-idx1-ubyte`, each optionally gzipped (`.gz`; MNIST's site also
spells them `train-images.idx3-ubyte`). An IDX file is a big-endian header
(two zero bytes, a type code, the number of dimensions, one uint32 per
dimension) followed by the values; here the type must be unsigned bytes.

Where the files are looked for, in order:

1. `--data_dir` (`data.data_dir`), when given: the four files in that folder. A
   folder holding a prepared TFDS copy (`DIR/fashion_mnist/3.0.1/...`) is read
   through TFDS instead.
2. The Debian/Ubuntu package's folder (`apt-get install dataset-fashion-mnist`
   puts Fashion-MNIST in `/usr/share/datasets/fashion-mnist/`).
3. A prepared TFDS copy in TFDS's default folder (`~/tensorflow_datasets`).

Nothing is downloaded. When no copy is found, loading stops at once with a
`DataNotAvailableError` naming each way to provide the files. Files are only
read, never written.
"""

import functools
import gzip
import io
import os

import numpy as np
import tensorflow as tf

from ganzoo.data import tfds
from ganzoo.data.base import DataSpec, array_source, register_dataset, with_source

# name -> (Debian folder, number of classes, class names)
DATASETS = {
    "fashion_mnist": ("/usr/share/datasets/fashion-mnist", (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
        "Sneaker", "Bag", "Ankle boot")),
    "mnist": ("/usr/share/datasets/mnist", tuple(str(d) for d in range(10))),
}
_PREFIX = {"train": "train", "test": "t10k"}
_IMAGES_MAGIC, _LABELS_MAGIC = 0x0803, 0x0801


class IDXFormatError(ValueError):
    """An IDX file is corrupt, truncated or of the wrong kind."""


def read_idx(path, expected_dims=None):
    """Reads one IDX file of unsigned bytes (gzipped or not) into a numpy array.

    Args:
        path: str. The file.
        expected_dims: int or None. Number of dimensions the file must have
            (3 for images, 1 for labels).

    Returns:
        `np.ndarray` of uint8 with the header's shape.

    Raises:
        IDXFormatError: bad magic number, wrong type or rank, a truncated or
            over-long body, or a damaged gzip stream. The message names the file.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            # GzipFile, unlike gzip.decompress, raises on a truncated stream.
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
                raw = stream.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise IDXFormatError(f"{path}: cannot read ({e}). The file is damaged; download or "
                             "reinstall it.") from e
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise IDXFormatError(f"{path}: not an IDX file (bad magic number).")
    if raw[2] != 0x08:
        raise IDXFormatError(f"{path}: IDX type 0x{raw[2]:02x}; ganzoo reads only unsigned "
                             "bytes (0x08), as every MNIST-family file is.")
    ndim = raw[3]
    if expected_dims is not None and ndim != expected_dims:
        raise IDXFormatError(f"{path}: {ndim} dimensions, expected {expected_dims} "
                             f"({'images' if expected_dims == 3 else 'labels'}).")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXFormatError(f"{path}: truncated header.")
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], ">u4"))
    size = int(np.prod(shape))
    body = len(raw) - header
    if body != size:
        problem = "truncated" if body < size else "too long"
        raise IDXFormatError(
            f"{path}: the header says {shape} = {size:,} bytes but the body has {body:,}; "
            f"the file is {problem}. Download or reinstall it.")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def find_idx_files(folder, split):
    """The `(images, labels)` paths of `split` in `folder`, or None if absent."""
    prefix = _PREFIX[split]
    found = []
    for kind, rank in (("images", 3), ("labels", 1)):
        names = [f"{prefix}-{kind}-idx{rank}-ubyte", f"{prefix}-{kind}.idx{rank}-ubyte"]
        paths = [os.path.join(folder, n + ext) for n in names for ext in ("", ".gz")]
        path = next((p for p in paths if os.path.isfile(p)), None)
        if path is None:
            return None
        found.append(path)
    return tuple(found)


@functools.lru_cache(maxsize=8)
def _read_split(images_path, labels_path, _mtimes):
    images = read_idx(images_path, expected_dims=3)
    labels = read_idx(labels_path, expected_dims=1)
    if len(images) != len(labels):
        raise IDXFormatError(
            f"{images_path} holds {len(images):,} images but {labels_path} holds "
            f"{len(labels):,} labels; they must be the same split's pair of files.")
    return images, labels


def idx_arrays(name, split="train", data_dir=None):
    """`(images [N, 28, 28] uint8, labels [N] uint8)` of an MNIST-format data set.

    Args:
        name: str. `fashion_mnist` or `mnist`.
        split: str. `"train"` or `"test"`.
        data_dir: str or None. A folder with the four IDX files; None looks in
            the Debian package's folder.

    Returns:
        The arrays, or None when there is no IDX copy (the caller may then try TFDS).

    Raises:
        IDXFormatError: a file is damaged, or images and labels disagree.
    """
    folder = os.path.expanduser(data_dir) if data_dir else DATASETS[name][0]
    paths = find_idx_files(folder, split)
    if paths is None:
        return None
    images, labels = _read_split(*paths, tuple(os.path.getmtime(p) for p in paths))
    num_classes = len(DATASETS[name][1])
    if labels.size and labels.max() >= num_classes:
        raise IDXFormatError(f"{paths[1]}: label {int(labels.max())} outside [0, "
                             f"{num_classes - 1}] of {name}.")
    return images, labels


def _not_available(name, split, data_dir, tfds_message):
    debian, _ = DATASETS[name]
    where = f"--data_dir={data_dir}" if data_dir else debian
    if data_dir and not tf.io.gfile.exists(data_dir):
        where += " (that folder does not exist)"
    prefix = _PREFIX[split]
    ways = []
    if name == "fashion_mnist":
        ways.append("on Debian/Ubuntu, `apt-get install dataset-fashion-mnist` "
                    f"(files in {debian})")
    ways.append(f"put the IDX files ({prefix}-images-idx3-ubyte and {prefix}-labels-idx1-ubyte, "
                "gzipped or not, with the other split's pair) in a folder and pass "
                "--data_dir=FOLDER")
    return tfds.DataNotAvailableError(
        f"No IDX files of {name} {split!r} in {where}. Ways to provide them: "
        + "; ".join(ways) + f". Or use a prepared TFDS copy: {tfds_message}")


def load_idx_dataset(name, split="train", image_size=None, data_dir=None):
    """Loads an MNIST-format data set as `(image [S, S, 1], label)` pairs in [-1, 1].

    Reads the IDX files (see the module docstring for where), else a prepared
    TFDS copy. The dataset has random access (`ganzoo.data.Source`), so training
    pipelines shuffle all of it every epoch.

    Args:
        name: str. `fashion_mnist` or `mnist`.
        split: str. `"train"` (60,000 examples) or `"test"` (10,000).
        image_size: int or None. Square size (antialiased bilinear resize, e.g.
            32 as in the keras.io WGAN-GP example); None keeps 28.
        data_dir: str or None. A folder with the IDX files or a TFDS data dir.

    Returns:
        `(dataset, spec)` with 10 classes.

    Raises:
        DataNotAvailableError: no copy found; the message lists the ways to add one.
        IDXFormatError: a damaged file or mismatched images and labels.
        ValueError: an unknown split.

    Example:

    >>> ds, spec = load_idx_dataset("fashion_mnist", "test")  # doctest: +SKIP
    >>> spec.shape, spec.num_examples  # doctest: +SKIP
    ((28, 28, 1), 10000)
    """
    if split not in _PREFIX:
        raise ValueError(f"{name} has splits 'train' and 'test', not {split!r}.")
    arrays = idx_arrays(name, split, data_dir)
    if arrays is None:
        return _from_tfds(name, split, image_size, data_dir)
    images, labels = arrays
    size = image_size or images.shape[1]

    def to_float(x):
        x = tf.cast(x[..., None], tf.float32) / 127.5 - 1.0
        if size != x.shape[-2]:
            x = tf.clip_by_value(tf.image.resize(x, (size, size), "bilinear", antialias=True),
                                 -1.0, 1.0)
        return x

    source = array_source(images, labels.astype(np.int32), to_float)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    dataset = dataset.batch(1024).map(lambda x, y: (to_float(x), y)).unbatch()
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(labels)))
    spec = DataSpec(name, (size, size, 1), num_classes=len(DATASETS[name][1]),
                    num_examples=len(labels))
    return with_source(dataset, source), spec


def _from_tfds(name, split, image_size, data_dir):
    try:
        return tfds.load_tfds(name, split, image_size=image_size, data_dir=data_dir)
    except tfds.DataNotAvailableError as e:
        raise _not_available(name, split, data_dir, str(e)) from None


def class_names(name):
    """The class names of an MNIST-format data set, index = label."""
    return DATASETS[name][1]


for _name in DATASETS:
    register_dataset(_name)(functools.partial(load_idx_dataset, _name))
