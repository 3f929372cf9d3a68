"""Tests for `ganzoo.data.folder`: tiny generated PNGs in `tmp_path`."""

import os
from unittest import mock

import numpy as np
import pytest
from PIL import Image

from ganzoo import data
from ganzoo.data import folder


def _png(path, size=(8, 8), mode="RGB", value=128):
    """Writes a flat-coloured image; `value` is one int for every channel."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = len(Image.new(mode, (1, 1)).getbands())
    pixel = value if channels == 1 else (value,) * channels
    Image.new(mode, size, pixel).save(path)
    return path


def _load(path, split="train", image_size=None):
    ds, spec = folder.load_folder(str(path), split, image_size=image_size)
    pairs = [(x.numpy(), int(y.numpy())) for x, y in ds]
    return pairs, spec


def _snapshot(root):
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
    )


def test_flat_folder_skips_corrupt_file_with_one_warning(tmp_path):
    _png(tmp_path / "a.png", value=0)
    _png(tmp_path / "b.jpg", value=255)
    _png(tmp_path / "nested" / "c.png")
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    (tmp_path / "notes.txt").write_text("ignored: not an image extension")
    before = _snapshot(tmp_path)

    with mock.patch.object(folder.logging, "warning") as warning:
        pairs, spec = _load(tmp_path)

    assert spec == data.DataSpec(f"folder:{tmp_path}", (8, 8, 3), 0, 3)
    assert [y for _, y in pairs] == [0, 0, 0]
    images = np.stack([x for x, _ in pairs])
    assert images.dtype == np.float32 and images.shape == (3, 8, 8, 3)
    # Sorted order: a.png (black), b.jpg (white, lossy), nested/c.png (grey).
    np.testing.assert_allclose(images[0], -1.0)
    np.testing.assert_allclose(images[1], 1.0, atol=0.02)
    assert images.min() >= -1.0 and images.max() <= 1.0
    warning.assert_called_once()
    message = warning.call_args.args[0] % warning.call_args.args[1:]
    assert "skipped 1 of 4 files" in message and "bad.png" in message
    assert _snapshot(tmp_path) == before  # The user's folder is never touched.


def test_class_subfolders_give_sorted_labels(tmp_path):
    for name in ["b1.png", "b2.png"]:
        _png(tmp_path / "dog" / name)
    _png(tmp_path / "cat" / "c1.png")
    _png(tmp_path / "cat" / "deeper" / "c2.png")
    (tmp_path / ".hidden").mkdir()
    _png(tmp_path / ".hidden" / "x.png")

    pairs, spec = _load(tmp_path)

    assert spec.num_classes == 2 and spec.num_examples == 4
    assert [y for _, y in pairs] == [0, 0, 1, 1]  # cat=0, dog=1


def test_single_subfolder_is_unlabelled(tmp_path):
    _png(tmp_path / "img_align" / "a.png")
    _png(tmp_path / "img_align" / "b.png")
    _, spec = _load(tmp_path)
    assert spec.num_classes == 0


def test_train_test_split_keeps_class_indices_consistent(tmp_path):
    for cls in ["ant", "bee", "cow"]:
        _png(tmp_path / "train" / cls / "1.png")
    _png(tmp_path / "test" / "cow" / "1.png")  # Test lacks ant and bee.

    train, train_spec = _load(tmp_path, "train")
    test, test_spec = _load(tmp_path, "test")

    assert [y for _, y in train] == [0, 1, 2]
    assert [y for _, y in test] == [2]
    assert train_spec.num_classes == test_spec.num_classes == 3


def test_missing_test_split_says_how_to_make_one(tmp_path):
    _png(tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"no 'test' split.*train.*test"):
        _load(tmp_path, "test")
    _png(tmp_path / "split" / "train" / "a.png")
    with pytest.raises(FileNotFoundError, match="no 'test'"):
        _load(tmp_path / "split", "test")


def test_mixed_sizes_need_image_size(tmp_path):
    _png(tmp_path / "a.png", size=(8, 8))
    _png(tmp_path / "b.png", size=(10, 6))
    with pytest.raises(ValueError, match=r"a\.png is 8x8 but b\.png is 10x6.*image_size=64"):
        _load(tmp_path)

    pairs, spec = _load(tmp_path, image_size=4)
    assert spec.shape == (4, 4, 3)
    assert all(x.shape == (4, 4, 3) for x, _ in pairs)
    # Antialiased resize of a flat image stays flat: 128 -> 128/127.5 - 1.
    np.testing.assert_allclose(pairs[0][0], 128 / 127.5 - 1, atol=1e-6)


@pytest.mark.parametrize(
    "modes, channels",
    [(["RGB", "RGB", "L"], 3), (["L", "L", "RGBA"], 1), (["RGBA", "L"], 4), (["P", "L"], 3)],
)
def test_channels_follow_the_majority(tmp_path, modes, channels):
    for i, mode in enumerate(modes):
        _png(tmp_path / f"{i}.png", mode=mode, value=200)
    pairs, spec = _load(tmp_path)
    assert spec.shape == (8, 8, channels)
    assert all(x.shape == (8, 8, channels) for x, _ in pairs)


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    pixels = np.full((8, 8), 32768, np.uint16)  # Mid-grey in 16 bits.
    Image.fromarray(pixels).save(tmp_path / "deep.png")
    pairs, _ = _load(tmp_path)
    np.testing.assert_allclose(pairs[0][0], round(32768 / 257) / 127.5 - 1, atol=1e-6)


def test_bad_paths_raise_with_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _load(tmp_path / "missing")
    _png(tmp_path / "file.png")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        _load(tmp_path / "file.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="contains no image files"):
        _load(tmp_path / "empty")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.jpg").write_bytes(b"\xff\xd8 truncated")
    with mock.patch.object(folder.logging, "warning"):
        with pytest.raises(ValueError, match="none of its 1 image files could be decoded"):
            _load(tmp_path / "junk")


def test_data_load_dispatches_folder_names(tmp_path):
    _png(tmp_path / "a.png", mode="L")
    ds, spec = data.load(f"folder:{tmp_path}", image_size=16)
    assert spec.shape == (16, 16, 1) and spec.name == f"folder:{tmp_path}"
    assert os.path.isdir(tmp_path)
    image, label = next(iter(ds))
    assert image.shape == (16, 16, 1) and label.dtype.name == "int32"
