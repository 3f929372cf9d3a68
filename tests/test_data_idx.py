"""MNIST-format IDX data: the real Fashion-MNIST files, the reader, and bad files.

The real files come from Debian's `dataset-fashion-mnist` package, which `.ci/run`
installs; these tests fail (never skip) without it.
"""

import gzip
import hashlib
import os
import struct
import time

import numpy as np
import pytest
from absl import flags

from ganzoo import data, train_lib
from ganzoo import train as cli
from ganzoo.data import idx
from ganzoo.data.tfds import DataNotAvailableError

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"


def write_idx(path, array, magic=None, compress=None, body=None):
    """Writes `array` (uint8) as an IDX file; `body` overrides the values' bytes."""
    array = np.asarray(array, np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                    *array.shape)
    if magic is not None:
        header = magic + header[4:]
    raw = header + (array.tobytes() if body is None else body)
    compress = str(path).endswith(".gz") if compress is None else compress
    with open(path, "wb") as f:
        f.write(gzip.compress(raw) if compress else raw)


def write_split(folder, prefix, images, labels, gz=True):
    ext = ".gz" if gz else ""
    write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{ext}"), images)
    write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{ext}"), labels)


@pytest.fixture
def tiny_mnist(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 50), ("t10k", 20)):
        write_split(str(tmp_path), prefix, rng.integers(0, 256, (n, 28, 28)),
                    np.arange(n) % 10, gz=prefix == "train")
    return tmp_path


# --------------------------------------------------------------- the real data
def test_real_fashion_mnist_splits_labels_and_pixels():
    assert os.path.isdir(FMNIST_DIR), ("Fashion-MNIST is missing: apt-get install "
                                       "dataset-fashion-mnist (.ci/run does)")
    for split, n in (("train", 60_000), ("test", 10_000)):
        images, labels = idx.idx_arrays("fashion_mnist", split)
        assert images.shape == (n, 28, 28) and labels.shape == (n,)
        # Fashion-MNIST is balanced: 6,000 / 1,000 images per class.
        assert np.bincount(labels, minlength=10).tolist() == [n // 10] * 10
    ds, spec = data.load("fashion_mnist", "test")
    assert spec == data.DataSpec("fashion_mnist", (28, 28, 1), 10, 10_000)
    x, y = next(iter(ds.batch(10_000)))
    assert x.shape == (10_000, 28, 28, 1) and float(x.numpy().min()) == -1.0
    assert float(x.numpy().max()) == 1.0
    # The first test image of the original release is an ankle boot (label 9).
    assert int(y[0]) == 9 and idx.class_names("fashion_mnist")[9] == "Ankle boot"
    # The random-access copy and the plain dataset agree example for example.
    source = data.source_of(ds)
    sx, sy = source.fetch(np.arange(100, dtype=np.int64))
    np.testing.assert_array_equal(sx.numpy(), x.numpy()[:100])
    np.testing.assert_array_equal(sy.numpy(), y.numpy()[:100])


def test_resize_to_32():
    ds, spec = data.load("fashion_mnist", "test", image_size=32)
    x, _ = next(iter(ds.batch(4)))
    assert spec.shape == (32, 32, 1) and x.shape == (4, 32, 32, 1)
    assert -1.0 <= float(x.numpy().min()) and float(x.numpy().max()) <= 1.0


# ------------------------------------------------------------- reader, MNIST
def test_mnist_from_a_folder_of_idx_files(tiny_mnist):
    ds, spec = data.load("mnist", "train", data_dir=str(tiny_mnist))
    assert spec.num_examples == 50 and spec.shape == (28, 28, 1) and spec.num_classes == 10
    test, tspec = data.load("mnist", "test", data_dir=str(tiny_mnist))  # not gzipped
    assert tspec.num_examples == 20
    _, labels = next(iter(test.batch(20)))
    assert labels.numpy().tolist() == [i % 10 for i in range(20)]


def test_dotted_mnist_file_names(tmp_path):
    rng = np.random.default_rng(1)
    write_idx(tmp_path / "train-images.idx3-ubyte", rng.integers(0, 256, (5, 28, 28)))
    write_idx(tmp_path / "train-labels.idx1-ubyte", np.arange(5))
    _, spec = data.load("mnist", "train", data_dir=str(tmp_path))
    assert spec.num_examples == 5


@pytest.mark.parametrize("damage, message", [
    ("truncated", "truncated"),
    ("too long", "too long"),
    ("magic", "not an IDX file"),
    ("type", "IDX type 0x0d"),
    ("rank", "2 dimensions, expected 3"),
    ("gzip", "cannot read"),
])
def test_damaged_files_are_named(tmp_path, damage, message):
    images = np.zeros((10, 28, 28), np.uint8)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(10))
    path = tmp_path / "train-images-idx3-ubyte"
    if damage == "truncated":
        write_idx(path, images, body=images.tobytes()[:-100])
    elif damage == "too long":
        write_idx(path, images, body=images.tobytes() + b"\0")
    elif damage == "magic":
        write_idx(path, images, magic=b"PK\x03\x04")
    elif damage == "type":
        write_idx(path, images)
        raw = bytearray(path.read_bytes())
        raw[2] = 0x0D
        path.write_bytes(bytes(raw))
    elif damage == "rank":
        write_idx(path, np.zeros((10, 784)))
    elif damage == "gzip":
        path = tmp_path / "train-images-idx3-ubyte.gz"
        noise = np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes()
        path.write_bytes(gzip.compress(noise)[:2000])
    with pytest.raises(idx.IDXFormatError, match=message) as info:
        data.load("mnist", "train", data_dir=str(tmp_path))
    assert str(path) in str(info.value)


def test_image_label_count_mismatch(tmp_path):
    write_split(str(tmp_path), "train", np.zeros((10, 28, 28)), np.zeros(9))
    with pytest.raises(idx.IDXFormatError, match="10 images but .* 9 labels"):
        data.load("fashion_mnist", "train", data_dir=str(tmp_path))


def test_labels_out_of_range(tmp_path):
    write_split(str(tmp_path), "train", np.zeros((3, 28, 28)), [0, 1, 10])
    with pytest.raises(idx.IDXFormatError, match="label 10 outside"):
        data.load("fashion_mnist", "train", data_dir=str(tmp_path))


def test_missing_files_fail_fast_naming_both_ways(tmp_path):
    start = time.monotonic()
    with pytest.raises(DataNotAvailableError) as info:
        data.load("fashion_mnist", "train", data_dir=str(tmp_path))
    assert time.monotonic() - start < 10
    message = str(info.value)
    for needle in ["apt-get install dataset-fashion-mnist", "train-images-idx3-ubyte",
                   "--data_dir", "tfds build fashion_mnist", str(tmp_path)]:
        assert needle in message
    assert "does not exist" not in message
    with pytest.raises(DataNotAvailableError, match="nowhere \\(that folder does not exist\\)"):
        data.load("fashion_mnist", "train", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="splits 'train' and 'test'"):
        data.load("fashion_mnist", "validation")


# ---------------------------------------------------- the CLI keeps the run
def _tree(root):
    state = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            state[path] = (os.stat(path).st_mtime_ns,
                           hashlib.sha256(open(path, "rb").read()).hexdigest())
    return state


def test_cli_refuses_bad_idx_data_and_keeps_the_run(tmp_path, capsys):
    run = str(tmp_path / "run")
    tiny = ["model.width=8", "model.latent_dim=8", "train.batch_size=16",
            "train.steps_per_epoch=2", "train.jit_compile=false", "train.steps=2"]
    train_lib.run(train_lib.resolve_config("dcgan", overrides=tiny), run, verbose=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    mismatch = tmp_path / "mismatch"
    mismatch.mkdir()
    write_split(str(mismatch), "train", np.zeros((10, 28, 28)), np.zeros(9))
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    write_idx(truncated / "train-images-idx3-ubyte", np.zeros((10, 28, 28)), body=b"\0" * 99)
    write_idx(truncated / "train-labels-idx1-ubyte", np.zeros(10))
    before = _tree(run)
    for folder, needle in ((empty, "apt-get install dataset-fashion-mnist"),
                           (mismatch, "9 labels"), (truncated, "truncated")):
        flags.FLAGS.unparse_flags()
        argv = flags.FLAGS(["ganzoo.train", "--dataset=fashion_mnist",
                            f"--data_dir={folder}", f"--model_dir={run}"])
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        assert needle in capsys.readouterr().err
    assert _tree(run) == before
