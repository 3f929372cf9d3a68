"""Tests for `ganzoo.data.tfds`: mocked TFDS, a tiny real prepared set, offline errors."""

import socket
import time
from unittest import mock

import numpy as np
import pytest
import tensorflow_datasets as tfds

from ganzoo import compat, data
from ganzoo.data import tfds as gtfds


def _pairs(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


@pytest.mark.parametrize(
    "name, image_size, shape",
    [("mnist", None, (28, 28, 1)), ("cifar10", None, (32, 32, 3)), ("cifar10", 16, (16, 16, 3))],
)
def test_mocked_labelled_sets(name, image_size, shape):
    # mock_data patches `as_dataset` but not `is_prepared()`: this passes only
    # because the loader lets `as_dataset` decide whether data is there.
    with tfds.testing.mock_data(num_examples=6):
        ds, spec = gtfds.load_tfds(name, "train", image_size=image_size)
        pairs = _pairs(ds)

    assert spec == data.DataSpec(name, shape, num_classes=10, num_examples=6)
    assert len(pairs) == 6
    for image, label in pairs:
        assert image.dtype == np.float32 and image.shape == shape
        assert -1.0 <= image.min() and image.max() <= 1.0
        assert label.dtype == np.int32 and label.shape == () and 0 <= label < 10
    if image_size is None:  # Random uint8 pixels span [0, 255], so [-1, 1] is used.
        assert min(x.min() for x, _ in pairs) < -0.9 and max(x.max() for x, _ in pairs) > 0.9


def test_mocked_celeb_a_has_no_labels():
    with tfds.testing.mock_data(num_examples=2):
        ds, spec = data.load("celeb_a", "test", image_size=8)
        pairs = _pairs(ds)
    assert spec == data.DataSpec("celeb_a", (8, 8, 3), num_classes=0, num_examples=2)
    assert [int(y) for _, y in pairs] == [0, 0]


class TinyColour(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Six 6x6 RGB images in three classes; a train split and no test split."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        features = tfds.features.FeaturesDict(
            {
                "image": tfds.features.Image(shape=(6, 6, 3)),
                "label": tfds.features.ClassLabel(num_classes=3),
            }
        )
        return tfds.core.DatasetInfo(builder=self, features=features)

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(6), "validation": self._generate_examples(2)}

    def _generate_examples(self, n):
        for i in range(n):
            yield i, {"image": np.full((6, 6, 3), i * 51, np.uint8), "label": i % 3}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    config = tfds.download.DownloadConfig(try_download_gcs=False)
    with compat.tfds_temp_dirs_removed():  # an unprepared builder: TFDS's temp dir leak
        builder = TinyColour(data_dir=data_dir)
    builder.download_and_prepare(download_config=config)
    return data_dir


def test_prepared_files_load_with_exact_values(tiny_dir):
    ds, spec = gtfds.load_tfds("tiny_colour", "train", data_dir=tiny_dir)
    assert spec == data.DataSpec("tiny_colour", (6, 6, 3), num_classes=3, num_examples=6)
    # Flat images of value 51*i with label i % 3, in the order TFDS wrote them.
    for image, label in _pairs(ds):
        i = round((image[0, 0, 0] + 1.0) * 127.5 / 51)
        np.testing.assert_allclose(image, i * 51 / 127.5 - 1.0, atol=1e-6)
        assert label == i % 3


def test_prepared_set_without_test_split_lists_its_splits(tiny_dir):
    with pytest.raises(ValueError, match=r"no 'test' split; it has: train, validation"):
        gtfds.load_tfds("tiny_colour", "test", data_dir=tiny_dir)
    _, spec = gtfds.load_tfds("tiny_colour", "train[:4]+validation", data_dir=tiny_dir)
    assert spec.num_examples == 6


def test_resolve_split():
    assert gtfds.resolve_split("x", "test", []) == "test"  # Unknown splits pass through.
    assert gtfds.resolve_split("x", "train[:90%]", ["train", "test"]) == "train[:90%]"
    with pytest.raises(ValueError, match="no 'valid' split"):
        gtfds.resolve_split("x", "train+valid", ["train", "test"])


def _no_network(*args, **kwargs):
    raise AssertionError(f"network access attempted: {args!r}")


def test_unprepared_set_fails_fast_offline_with_instructions(tmp_path):
    start = time.monotonic()
    with (
        mock.patch.object(socket.socket, "connect", _no_network),
        mock.patch.object(socket, "create_connection", _no_network),
        mock.patch.object(socket, "getaddrinfo", _no_network),
        pytest.raises(gtfds.DataNotAvailableError) as info,
    ):
        data.load("mnist", "train", data_dir=str(tmp_path))
    assert time.monotonic() - start < 10

    message = str(info.value)
    for needle in [
        "not prepared in " + str(tmp_path),
        "tfds build mnist",
        "tfds.load('mnist')",
        f"copy ~/tensorflow_datasets/mnist to {tmp_path}/mnist",
        "manual_dir",
        "download_config",
        "--dataset=digits",
    ]:
        assert needle in message
    assert isinstance(info.value, RuntimeError)
    assert list(tmp_path.iterdir()) == []  # Nothing was downloaded or written.


def test_half_written_copy_is_not_available(tmp_path):
    (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)
    with pytest.raises(gtfds.DataNotAvailableError, match="tfds build mnist"):
        gtfds.load_tfds("mnist", "train", data_dir=str(tmp_path))


def test_unknown_name_lists_builtin_names():
    with pytest.raises(gtfds.UnknownDatasetError) as info:
        data.load("no_such_dataset_xyz")
    message = str(info.value)
    assert "'no_such_dataset_xyz'" in message
    for needle in data.list_datasets() + ["folder:PATH", "mnist"]:
        assert needle in message
