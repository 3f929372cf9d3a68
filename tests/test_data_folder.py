"""Tests for `ganzoo.data.folder`: tiny generated images in `tmp_path`."""

import os
import struct
import zlib
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from ganzoo import data
from ganzoo.data import folder, folder_reader
from ganzoo.data import headers as headers_lib


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

    with mock.patch.object(folder, "warn") as warning:
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
    message = warning.call_args.args[0]
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
    with mock.patch.object(folder, "warn"):
        with pytest.raises(ValueError, match="none of its 1 image files could be decoded"):
            _load(tmp_path / "junk")


def test_data_load_dispatches_folder_names(tmp_path):
    _png(tmp_path / "a.png", mode="L")
    ds, spec = data.load(f"folder:{tmp_path}", image_size=16)
    assert spec.shape == (16, 16, 1) and spec.name == f"folder:{tmp_path}"
    assert os.path.isdir(tmp_path)
    image, label = next(iter(ds))
    assert image.shape == (16, 16, 1) and label.dtype.name == "int32"


# ---------------------------------------------------------------- streaming


def _raw_png(path, pixels, color_type, bit_depth, trns=None):
    """A PNG Pillow cannot write (2/4-bit grey, 16-bit RGB), chunk by chunk."""
    height, width = pixels.shape[:2]

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = []
    for row in pixels.reshape(height, width, -1):
        if bit_depth < 8:
            bits = "".join(format(int(v), f"0{bit_depth}b") for v in row[:, 0])
            bits += "0" * (-len(bits) % 8)
            rows.append(b"\0" + int(bits, 2).to_bytes(len(bits) // 8, "big"))
        else:
            rows.append(b"\0" + row.astype(">u2" if bit_depth == 16 else np.uint8).tobytes())
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
    body += chunk(b"tRNS", trns) if trns else b""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(b"".join(rows)))
                     + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    """One 7x5 (width x height) file of every kind the loader treats differently."""
    root = tmp_path_factory.mktemp("kinds")
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    palette = Image.fromarray(rgb).convert("P")
    Image.fromarray(grey > 127).save(root / "bits1.png")
    _raw_png(root / "bits2.png", rng.integers(0, 4, (5, 7, 1)), 0, 2)
    _raw_png(root / "bits4.png", rng.integers(0, 16, (5, 7, 1)), 0, 4)
    Image.fromarray(grey).save(root / "grey.png")
    Image.fromarray(grey).save(root / "grey_key.png", transparency=int(grey[0, 0]))
    Image.fromarray((grey.astype(np.uint16) * 257)).save(root / "grey16.png")
    Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)]).save(root / "la.png")
    Image.fromarray(rgb).save(root / "rgb.png")
    Image.fromarray(rgb).save(root / "rgb_key.png", transparency=tuple(int(v) for v in rgb[0, 0]))
    _raw_png(root / "rgb16.png", rng.integers(0, 65536, (5, 7, 3)), 2, 16)
    Image.fromarray(np.dstack([rgb, alpha])).save(root / "rgba.png")
    palette.save(root / "palette.png")
    palette.save(root / "palette_alpha.png", transparency=0)
    Image.fromarray(grey).save(root / "grey.jpg", quality=90)
    Image.fromarray(rgb).save(root / "rgb.jpg", quality=90)
    Image.fromarray(rgb).save(root / "progressive.jpg", quality=90, progressive=True)
    Image.fromarray(rgb).convert("CMYK").save(root / "cmyk.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # Stored 5x7, shown 7x5 once rotated.
    Image.fromarray(np.ascontiguousarray(rgb.transpose(1, 0, 2))).save(root / "rotated.jpg",
                                                                       exif=exif)
    palette.save(root / "frame.gif")
    Image.fromarray(rgb).save(root / "rgb.bmp")
    Image.fromarray(np.dstack([rgb, alpha])).save(root / "rgba.webp", lossless=True)
    return root


def _before(path, channels, image_size=None):
    """What the in-memory loader this replaced gave for one file: Pillow end to end."""
    with Image.open(path) as image:
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.mode.startswith("I"):
            pixels = np.asarray(image, np.float64)
            scale = 257.0 if pixels.max() > 255 else 1.0
            image = Image.fromarray(np.clip(pixels / scale, 0, 255).round().astype(np.uint8))
        alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("L" if image.mode in ("1", "L") else "RGBA" if alpha else "RGB")
    if image_size:
        image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
    pixels = np.asarray(image.convert({1: "L", 3: "RGB", 4: "RGBA"}[channels]))
    return pixels.reshape(*pixels.shape[:2], channels).astype(np.float32) / 127.5 - 1.0


def _reader(root, channels, image_size=None, cache=False):
    files = sorted(p.name for p in root.iterdir())
    headers = headers_lib.read_headers(str(root), files)
    size = (image_size, image_size) if image_size else (5, 7)
    return files, headers, folder_reader.FolderReader(
        "kinds", str(root), files, np.zeros(len(files), np.int32),
        [h.decoder for h in headers], (*size, channels), image_size, cache)


def test_header_parser_agrees_with_pillow(kinds):
    for path in sorted(kinds.iterdir()):
        head = path.read_bytes()
        found = headers_lib.png_header(head) or headers_lib.jpeg_header(head)
        if found:
            with Image.open(path) as image:
                assert found == (image.format, image.mode, image.size,
                                 "transparency" in image.info), path.name
    assert headers_lib.png_header((kinds / "grey.jpg").read_bytes()) is None
    assert headers_lib.jpeg_header((kinds / "rotated.jpg").read_bytes()) is None  # EXIF: Pillow


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("image_size", [None, 4, 9])
def test_stream_equals_the_in_memory_loader_kind_by_kind(kinds, channels, image_size):
    files, headers, reader = _reader(kinds, channels, image_size)
    decoders = {f: h.decoder for f, h in zip(files, headers)}
    # Both paths are exercised: TensorFlow's PNG and JPEG ops, and Pillow.
    assert decoders["rgb.png"] == headers_lib.PNG and decoders["rgb.jpg"] == headers_lib.JPEG
    assert decoders["rotated.jpg"] == decoders["rgba.webp"] == headers_lib.PILLOW
    images, _ = reader.read(tf.range(len(files), dtype=tf.int64))
    assert reader.failed_files() == []
    for name, image in zip(files, images.numpy(), strict=True):
        np.testing.assert_array_equal(image, _before(kinds / name, channels, image_size),
                                      err_msg=name)


def test_load_equals_the_in_memory_loader_with_labels(tmp_path):
    rng = np.random.default_rng(1)
    for cls, count in [("cat", 3), ("dog", 2)]:
        for i in range(count):
            pixels = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
            (tmp_path / cls).mkdir(exist_ok=True)
            Image.fromarray(pixels).save(tmp_path / cls / f"{i}.png")
    Image.fromarray(pixels[..., 0]).save(tmp_path / "dog" / "grey.png")  # Minority: to RGB.

    pairs, spec = _load(tmp_path)

    files = sorted(tmp_path.rglob("*.png"))
    assert spec == data.DataSpec(f"folder:{tmp_path}", (6, 6, 3), 2, 6)
    assert [y for _, y in pairs] == [0, 0, 0, 1, 1, 1]
    for (image, _), path in zip(pairs, files, strict=True):
        np.testing.assert_array_equal(image, _before(path, 3))


def _class_sorted(root, classes=10, per_class=40):
    """Class `k`'s images are flat grey `20 * k`: the label can be read off the pixels."""
    for k in range(classes):
        for i in range(per_class):
            _png(root / f"class{k}" / f"{i:03d}.png", size=(2, 2), mode="L", value=20 * k)


def test_class_sorted_folder_gives_mixed_batches(tmp_path):
    _class_sorted(tmp_path)
    ds, spec = folder.load_folder(str(tmp_path), cache=False)
    assert data.source_of(ds).size == spec.num_examples == 400

    batches = list(data.train_pipeline(ds, 64, seed=0).take(30).as_numpy_iterator())

    labels = np.concatenate([y for _, y in batches])
    for x, y in batches:
        # 64 of 400 sorted files: a buffer or file-order read gives 1-2 classes per batch.
        assert len(set(y.tolist())) >= 7
        np.testing.assert_array_equal(np.round((x[:, 0, 0, 0] + 1) * 127.5 / 20), y)
    epoch = labels[:6 * 64]  # Within one epoch no file repeats.
    assert np.bincount(epoch, minlength=10).max() <= 40


def test_resume_continues_the_same_file_order(tmp_path):
    _class_sorted(tmp_path, classes=4, per_class=25)
    ds, _ = folder.load_folder(str(tmp_path), cache=False)

    def batches(skip, count):
        pipe = data.train_pipeline(ds, 16, seed=3, skip_batches=skip).take(count)
        return [x for x, _ in pipe.as_numpy_iterator()]

    full = batches(0, 14)
    for skip in (1, 6, 7, 11):  # 100 files / 16: the second epoch starts inside batch 6.
        for a, b in zip(full[skip:], batches(skip, 14 - skip), strict=True):
            np.testing.assert_array_equal(a, b)


def _truncated(path):
    """A PNG whose header reads but whose pixel data is cut short."""
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    path.write_bytes(path.read_bytes()[:-60])
    return path


def test_file_that_fails_to_decode_is_replaced_in_training_and_counted(tmp_path):
    for i in range(6):
        _png(tmp_path / f"{i}.png", value=40 * i)
    _truncated(tmp_path / "3.png")
    (tmp_path / "x.png").write_bytes(b"not an image at all")  # Header unreadable.

    with mock.patch.object(folder, "warn") as warning:
        ds, spec = folder.load_folder(str(tmp_path), cache=False)
    assert spec.num_examples == 6  # Only the header is read at load time.
    assert "skipped 1 of 7 files" in warning.call_args.args[0]

    with mock.patch.object(folder_reader, "warn") as warning:
        plain = [x[0, 0, 0] for x, _ in ds.as_numpy_iterator()]
        pipe = data.train_pipeline(ds, 6, seed=0)
        first, second = [x[:, 0, 0, 0] for x, _ in pipe.take(4).as_numpy_iterator()][:2]
    values = np.round((np.array(plain) + 1) * 127.5 / 40)
    np.testing.assert_array_equal(values, [0, 1, 2, 4, 5])  # Skipped where not training.
    assert len(first) == 6 and set(np.round((first + 1) * 127.5 / 40)) <= {0, 1, 2, 4, 5}
    again = next(iter(data.train_pipeline(ds, 6, seed=0)))[0][:, 0, 0, 0].numpy()
    np.testing.assert_array_equal(first, again)  # The replacement is deterministic.
    assert ds.ganzoo_folder_reader.failed_files() == ["3.png"]
    warning.assert_called_once()  # Counted once, however often the file comes up.
    message = warning.call_args.args[0]
    assert "1 of 6 files failed to decode" in message and "3.png" in message


def test_png_without_its_end_is_read_as_pillow_reads_it(tmp_path):
    pixels = np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    # Without IEND and the last CRC: TensorFlow's decoder refuses it, Pillow (and so
    # the loader, which then asks Pillow) reads every pixel.
    (tmp_path / "a.png").write_bytes((tmp_path / "a.png").read_bytes()[:-16])
    ds, _ = folder.load_folder(str(tmp_path), cache=False)
    image, _ = next(iter(data.train_pipeline(ds, 1, seed=0)))
    np.testing.assert_array_equal(image[0], pixels.astype(np.float32) / 127.5 - 1.0)
    assert ds.ganzoo_folder_reader.failed_files() == []


def test_folder_of_truncated_files_fails_at_load(tmp_path):
    for name in "abc":
        _truncated(tmp_path / f"{name}.png")
    with pytest.raises(ValueError, match="none of its first 3 image files could be decoded"):
        folder.load_folder(str(tmp_path))


def test_a_batch_with_no_decodable_file_stops_with_the_reason(tmp_path):
    _png(tmp_path / "a.png")
    for name in "bcd":
        _truncated(tmp_path / f"{name}.png")
    ds, _ = folder.load_folder(str(tmp_path), cache=False)
    with mock.patch.object(folder_reader, "warn"):
        # Eager calls raise the ValueError itself; a tf.data pipeline wraps it in an OpError.
        with pytest.raises(ValueError, match="none of the 3 files of a batch"):
            ds.ganzoo_folder_reader.read(tf.constant([1, 2, 3], tf.int64))


def _graph_bytes(ds):
    policy = tf.data.experimental.ExternalStatePolicy.WARN
    return len(ds._as_serialized_graph(external_state_policy=policy).numpy())


def test_streamed_dataset_holds_file_names_not_pixels(tmp_path):
    sizes = {}
    for n in (8, 128):
        for i in range(n):
            pixels = np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8)
            (tmp_path / str(n)).mkdir(exist_ok=True)
            Image.fromarray(pixels).save(tmp_path / str(n) / f"{i:03d}.png")
        ds, _ = folder.load_folder(str(tmp_path / str(n)), cache=False)
        sizes[n] = _graph_bytes(ds)
    # 120 more images add 120 file names (< 200 bytes each) and no 3 KB of pixels each.
    assert sizes[128] - sizes[8] < 120 * 200

    # Files are read when a batch asks for them, not at load time.
    ds, _ = folder.load_folder(str(tmp_path / "8"), cache=False)
    Image.new("RGB", (32, 32), (255, 0, 0)).save(tmp_path / "8" / "000.png")
    image, _ = next(iter(ds))
    np.testing.assert_array_equal(image[0, 0], [1.0, -1.0, -1.0])


def test_cache_keeps_decoded_images_and_changes_no_batch(tmp_path):
    _class_sorted(tmp_path, classes=3, per_class=10)
    streamed, _ = folder.load_folder(str(tmp_path), cache=False)
    cached, _ = folder.load_folder(str(tmp_path), cache=True)
    assert cached.ganzoo_folder_reader.cached and not streamed.ganzoo_folder_reader.cached

    def batches(ds):
        return [x for x, _ in data.train_pipeline(ds, 8, seed=1).take(8).as_numpy_iterator()]

    reference, first = batches(streamed), batches(cached)  # 64 draws: every file at least once
    for path in tmp_path.rglob("*.png"):
        path.unlink()  # From now on only the cache can answer.
    for a, b, c in zip(reference, first, batches(cached), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_cache_auto_keeps_images_that_fit_the_budget(tmp_path, monkeypatch):
    _png(tmp_path / "a.png")
    ds, _ = folder.load_folder(str(tmp_path))
    assert ds.ganzoo_folder_reader.cached  # 192 bytes
    monkeypatch.setattr(folder, "CACHE_BUDGET_BYTES", 100)
    ds, _ = folder.load_folder(str(tmp_path))
    assert not ds.ganzoo_folder_reader.cached
