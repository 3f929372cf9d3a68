"""A directory of images (`--dataset=folder:PATH`), streamed: decoded as it is read.

Layout rules, checked in this order:

- Splits: if `PATH/train/` exists, `split` picks `PATH/<split>/`. Otherwise the
  whole folder is `train`, and asking for `test` is an error that says how to
  make one.
- Classes: if the split's folder holds no images directly and at least two
  sub-folders contain images, each sub-folder is a class; labels are indices
  into the sorted sub-folder names (the union over all splits, so `train` and
  `test` agree even when a split lacks a class). Otherwise every label is 0 and
  `num_classes` is 0.
- Files: `.png .jpg .jpeg .bmp .gif .webp` (any case), searched recursively and
  read in sorted order; hidden files and folders are ignored, other extensions
  are skipped silently. A GIF gives its first frame.
- Unreadable files are skipped and reported in one warning. Loading reads only
  each file's header; a file whose header is fine but whose data is not (a
  truncated download) shows up when it is decoded: the training stream then
  replaces it by another image of the same batch, the plain dataset skips it,
  and both count it in a warning (`FolderReader.failed_files`). A file is
  readable when Pillow reads it: one that TensorFlow's decoder refuses is
  retried with Pillow before it counts as failed.
- Channels: each image has a natural count (1 for greyscale, 4 with alpha or
  palette transparency, 3 otherwise). The most common count wins (ties go to
  more channels, so no colour is lost) and every image is converted to it:
  grey becomes RGB by copying, RGB becomes grey by ITU-R 601-2 luma,
  alpha is dropped or set opaque.
- Size: without `image_size` every image must have the same size. With it,
  each image is resized (Pillow's antialiased bilinear) to a square, ignoring
  its aspect ratio; crop beforehand if that matters.

Pixels are Pillow's, bit for bit: PNG and JPEG files in the common modes
decode with TensorFlow ops whose output equals Pillow's (tested mode by mode);
the rest (WebP, BMP, GIF, 16-bit grey, colour-key transparency, CMYK, photos
rotated by EXIF) and every resize go through Pillow itself. Files are decoded
when a batch asks for them, in parallel, so memory does not grow with the
folder; `cache` keeps each decoded image (uint8) from its first read on.

The folder is only read, never written.
"""

import collections
import os
import threading

import numpy as np
import tensorflow as tf
from absl import logging

from ganzoo.data import headers as headers_lib
from ganzoo.data.base import DataSpec, Source, refuse_data_dir, with_source

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_MAX_NAMES_IN_WARNING = 5
# `cache="auto"` keeps decoded images when they take at most this many bytes.
CACHE_BUDGET_BYTES = 1 << 30
# Files per decode call of the plain dataset.
_READ_BATCH = 64


def load_folder(path, split="train", image_size=None, data_dir=None, cache="auto"):
    """Loads a directory of images as `(image, label)` pairs in [-1, 1].

    Args:
        path: str. The image directory (`~` is expanded). See the module
            docstring for split, class, channel and size rules.
        split: str. `"train"` or `"test"` (any `PATH/<split>/` when `PATH/train/`
            exists). Defaults to `"train"`.
        image_size: int or None. Square size to resize every image to; None
            requires all images to share one size. Defaults to None.
        data_dir: str or None. Unused: the folder path says where the data is.
        cache: bool or `"auto"`. Keep each decoded image (uint8) in memory from
            its first read on; `"auto"` does when they take at most
            `CACHE_BUDGET_BYTES`. Batches are the same either way. Defaults to
            `"auto"`.

    Returns:
        `(dataset, spec)`: an unbatched `tf.data.Dataset` of `(float32 image
        [H, W, C], int32 label)` in file order, with a random-access
        `ganzoo.data.Source` attached (so `train_pipeline` shuffles the file
        order completely every epoch), and its `DataSpec` named `folder:PATH`.

    Raises:
        FileNotFoundError: `path`, or the requested split's folder, does not exist.
        ValueError: `path` is a file, holds no readable images, has no `test`
            split, or holds images of different sizes with no `image_size`.

    Example:

    >>> ds, spec = load_folder("~/faces", image_size=64)  # doctest: +SKIP
    >>> spec.shape  # doctest: +SKIP
    (64, 64, 3)
    """
    refuse_data_dir("folder:" + path, data_dir)  # the folder path is the whole address
    root = _check_root(path)
    split_dir = _split_dir(root, path, split)
    classes = _class_names(root, split_dir)
    files, labels = _list_images(split_dir, classes)
    if not files:
        raise ValueError(
            f"Image folder {path!r} (split {split!r}) contains no image files "
            f"({', '.join(IMAGE_EXTENSIONS)}). Put images in it, or pass a different "
            "--dataset=folder:PATH."
        )
    headers = headers_lib.read_headers(split_dir, files)
    kept = [i for i, h in enumerate(headers) if h is not None]
    _warn_skipped(path, files, [files[i] for i, h in enumerate(headers) if h is None])
    if not kept:
        raise ValueError(
            f"Image folder {path!r}: none of its {len(files)} image files could be decoded "
            f"(e.g. {files[0]}). Check that they are valid PNG/JPEG files."
        )
    names = [files[i] for i in kept]
    headers = [headers[i] for i in kept]
    if not image_size:
        _check_same_size(names, headers, path)
    counts = collections.Counter(h.channels for h in headers)
    channels = max(counts, key=lambda c: (counts[c], c))
    width, height = (image_size, image_size) if image_size else headers[0].size
    reader = FolderReader(path, split_dir, names, np.asarray(labels, np.int32)[kept],
                          [h.decoder for h in headers], (height, width, channels),
                          image_size, cache)
    reader.check_first_files()
    dataset = tf.data.Dataset.range(len(names)).batch(_READ_BATCH).map(
        lambda i: reader.read(i, fill=False), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True).unbatch()
    dataset.ganzoo_folder_reader = reader
    spec = DataSpec(f"folder:{path}", (height, width, channels), num_classes=len(classes),
                    num_examples=len(names))
    return with_source(dataset, Source(len(names), lambda i: reader.read(i), batched=True)), spec


class FolderReader:
    """Decodes files of one split by index, in batches; counts files that fail.

    `read(indices)` returns `(images float32 [B, H, W, C] in [-1, 1], labels
    int32 [B])`. A file that fails to decode (with TensorFlow, then with
    Pillow) is counted and warned about once (`failed_files`), and its row is
    filled, deterministically, by repeating the batch's decodable images
    (`fill=True`) or dropped (`fill=False`). A batch that nothing decodes in
    raises.

    One decode call per batch, not per file, so the error handling (a small
    `ignore_errors` dataset per batch) costs little per image.

    Args:
        name: str. The folder as the user named it (for messages).
        split_dir: str. The folder holding `files`.
        files: list of str. Image paths relative to `split_dir`.
        labels: int32 array `[N]`.
        decoders: list of int. `headers.PNG`, `headers.JPEG` or `headers.PILLOW` per file.
        shape: tuple. `(H, W, C)` every image is converted to.
        image_size: int or None. Resize to this square (Pillow's bilinear).
        cache: bool or `"auto"`. See `load_folder`.
    """

    def __init__(self, name, split_dir, files, labels, decoders, shape, image_size, cache):
        self.name, self.files, self.shape, self.image_size = name, files, shape, image_size
        prefix = os.path.join(split_dir, "")
        self._paths = tf.constant([prefix + f for f in files])
        self._labels = tf.constant(labels, tf.int32)
        self._decoders = tf.constant(decoders, tf.int32)
        self._failed, self._lock = set(), threading.Lock()
        nbytes = len(files) * int(np.prod(shape))
        if cache == "auto":
            # Variables made under a distribution strategy would be mirrored.
            cache = nbytes <= CACHE_BUDGET_BYTES and not tf.distribute.has_strategy()
        elif cache and tf.distribute.has_strategy():
            raise ValueError(f"Image folder {name!r}: cache=True needs the folder loaded "
                             "outside a distribution strategy's scope.")
        self.cached = bool(cache)
        if self.cached:
            with tf.device("/CPU:0"):
                self._store = tf.Variable(tf.zeros([len(files), *shape], tf.uint8),
                                          trainable=False, name="folder_cache")
                self._filled = tf.Variable(tf.zeros([len(files)], tf.bool), trainable=False,
                                           name="folder_cache_filled")

    def failed_files(self):
        """Sorted names (relative to the split's folder) of files that failed to decode."""
        with self._lock:
            return sorted(self.files[i] for i in self._failed)

    def check_first_files(self, limit=_READ_BATCH):
        """Raises unless one of the first `limit` files decodes (a folder of truncated files)."""
        paths = self._paths[:limit].numpy()
        if not any(_open(p.decode(), None) is not None for p in paths):
            raise ValueError(
                f"Image folder {self.name!r}: none of its first {len(paths)} image files could "
                f"be decoded (e.g. {self.files[0]}). Check that they are valid PNG/JPEG files."
            )

    def read(self, indices, fill=True):
        """`(images, labels)` of the files at `indices` (int64 `[B]`); see the class."""
        indices = tf.cast(indices, tf.int64)
        if self.cached:
            images, labels, got = self._read_cached(indices)
        else:
            images, labels, got = self._decode(indices)
        n, m = tf.size(indices), tf.size(got)
        noted = tf.cond(m < n, lambda: tf.numpy_function(
            self._note_failures, [indices, got, fill], tf.int64, stateful=True),
            lambda: tf.constant(0, tf.int64))
        with tf.control_dependencies([noted]):
            if fill:  # Rows of failed files repeat the batch's decoded images, in order.
                rows = tf.range(n) % tf.maximum(m, 1)
                images, labels = tf.gather(images, rows), tf.gather(labels, rows)
            images, labels = tf.cast(images, tf.float32) / 127.5 - 1.0, tf.identity(labels)
        images.set_shape([indices.shape[0] if fill else None, *self.shape])
        return images, labels

    def _read_cached(self, indices):
        missing = tf.boolean_mask(indices, ~tf.gather(self._filled, indices))
        decoded, _, new = tf.cond(
            tf.size(missing) > 0, lambda: self._decode(missing),
            lambda: (tf.zeros([0, *self.shape], tf.uint8), tf.zeros([0], tf.int32), missing))
        updates = [self._store.scatter_update(tf.IndexedSlices(decoded, new)),
                   self._filled.scatter_update(tf.IndexedSlices(tf.ones_like(new, tf.bool), new))]
        with tf.control_dependencies(updates):
            got = tf.boolean_mask(indices, tf.gather(self._filled, indices))
            return tf.gather(self._store, got), tf.gather(self._labels, got), got

    def _decode(self, indices):
        """uint8 images, labels and indices of the files at `indices` that decode, in order."""
        n = tf.size(indices, tf.int64)
        images, labels, rows = self._decode_rows(indices, pillow=False)

        def retry():  # TF rejects some files Pillow reads (a PNG cut after its pixels).
            failed = tf.where(tf.scatter_nd(rows[:, None], tf.ones_like(rows), [n]) == 0)[:, 0]
            more_images, more_labels, more_rows = self._decode_rows(
                tf.gather(indices, failed), pillow=True)
            order = tf.argsort(tf.concat([rows, tf.gather(failed, more_rows)], 0))
            return (tf.gather(tf.concat([images, more_images], 0), order),
                    tf.gather(tf.concat([labels, more_labels], 0), order),
                    tf.gather(tf.concat([rows, tf.gather(failed, more_rows)], 0), order))

        images, labels, rows = tf.cond(tf.size(rows, tf.int64) < n, retry,
                                       lambda: (images, labels, rows))
        return images, labels, tf.gather(indices, rows)

    def _decode_rows(self, indices, pillow):
        """Like `_decode`, but returns the rows (positions in `indices`) that decoded."""
        end = tf.data.Dataset.from_tensors(
            (tf.zeros(self.shape, tf.uint8), tf.constant(0, tf.int32), tf.constant(-1, tf.int64)))
        rows = tf.range(tf.size(indices, tf.int64))
        files = tf.data.Dataset.from_tensor_slices((indices, rows)).map(
            lambda i, row: (*self._decode_one(i, pillow), row))
        # The sentinel keeps the batch non-empty when no file decodes.
        images, labels, got = files.ignore_errors().concatenate(end).batch(
            tf.size(indices, tf.int64) + 1).get_single_element()
        keep = got >= 0
        return (tf.boolean_mask(images, keep), tf.boolean_mask(labels, keep),
                tf.boolean_mask(got, keep))

    def _decode_one(self, index, pillow):
        path, decoder = self._paths[index], self._decoders[index]
        if pillow:
            image = self._pillow(path)
        else:
            image = tf.cond(decoder == headers_lib.PILLOW, lambda: self._pillow(path),
                            lambda: self._tensorflow(path, decoder))
        return tf.ensure_shape(image, self.shape), self._labels[index]

    def _tensorflow(self, path, decoder):
        contents = tf.io.read_file(path)
        # INTEGER_ACCURATE is libjpeg's default, the one Pillow uses.
        image = tf.cond(decoder == headers_lib.JPEG, lambda: tf.io.decode_jpeg(
            contents, dct_method="INTEGER_ACCURATE"), lambda: tf.io.decode_png(contents))
        image = _natural_mode(image)
        if self.image_size:
            # By Pillow itself, in the natural mode as `_open` does: its resampling
            # order differs between versions (Pillow PR #9549).
            size = self.image_size
            image = tf.cond(tf.reduce_all(tf.shape(image)[:2] == size), lambda: image,
                            lambda: tf.numpy_function(_pillow_resize, [image, size], tf.uint8))
        return _convert(image, self.shape[2])

    def _pillow(self, path):
        image = tf.numpy_function(self._pillow_decode, [path], tf.uint8, stateful=False)
        return tf.reshape(image, self.shape)

    def _pillow_decode(self, path):
        image = _open(path.decode(), self.image_size)
        if image is None:
            raise ValueError(f"cannot decode {path.decode()}")
        pixels = np.asarray(image.convert(_MODES[self.shape[2]]))
        if pixels.shape[:2] != self.shape[:2]:
            raise ValueError(f"{path.decode()} is {pixels.shape[1]}x{pixels.shape[0]}")
        return pixels.reshape(self.shape)

    def _note_failures(self, wanted, got, fill):
        with self._lock:
            new = set(wanted.tolist()) - set(got.tolist()) - self._failed
            self._failed |= new
            total = len(self._failed)
        if new and total & (total - 1) == 0:  # Warn at 1, 2, 4, 8 ... failed files.
            names = ", ".join(self.failed_files()[:_MAX_NAMES_IN_WARNING])
            logging.warning(
                "Image folder %s: %d of %d files failed to decode while reading (truncated "
                "or damaged data); each is replaced by another image of its batch in "
                "training and skipped elsewhere: %s%s", self.name, total, len(self.files),
                names, ", ..." if total > _MAX_NAMES_IN_WARNING else "")
        if fill and got.size == 0:
            raise ValueError(
                f"Image folder {self.name!r}: none of the {wanted.size} files of a batch could "
                f"be decoded (e.g. {self.files[int(wanted[0])]}); the folder looks damaged.")
        return np.int64(len(new))


def _natural_mode(image):
    """uint8 `[H, W, 1-4]` in mode L, RGB or RGBA, as `_open` converts it (LA -> RGBA)."""
    channels = tf.shape(image)[2]
    return tf.cond(channels == 2, lambda: tf.concat(
        [image[..., :1], image[..., :1], image[..., :1], image[..., 1:]], axis=2), lambda: image)


def _convert(image, channels):
    """Pillow's `convert` from L, RGB or RGBA (`_natural_mode`) to `channels` channels."""
    have = tf.shape(image)[2]
    opaque = tf.fill(tf.concat([tf.shape(image)[:2], [1]], 0), tf.constant(255, tf.uint8))
    if channels == 1:  # ITU-R 601-2 luma in Pillow's fixed point.
        def luma():
            rgb = tf.cast(image[..., :3], tf.int32)
            return tf.cast(tf.bitwise.right_shift(
                rgb[..., :1] * 19595 + rgb[..., 1:2] * 38470 + rgb[..., 2:3] * 7471 + 0x8000,
                16), tf.uint8)
        return tf.cond(have == 1, lambda: image, luma)
    grey = tf.cond(have == 1, lambda: tf.concat([image, image, image], axis=2),
                   lambda: image[..., :3])
    if channels == 3:
        return grey
    return tf.cond(have == 4, lambda: image, lambda: tf.concat([grey, opaque], axis=2))


def _pillow_resize(pixels, size):
    from PIL import Image

    channels = pixels.shape[2]
    image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, _MODES[channels])
    image = image.resize((int(size), int(size)), Image.Resampling.BILINEAR)
    return np.asarray(image).reshape(int(size), int(size), channels)


def _warn_skipped(path, files, skipped):
    if skipped:
        names = ", ".join(skipped[:_MAX_NAMES_IN_WARNING])
        more = ", ..." if len(skipped) > _MAX_NAMES_IN_WARNING else ""
        logging.warning(
            "Image folder %s: skipped %d of %d files that could not be decoded: %s%s",
            path,
            len(skipped),
            len(files),
            names,
            more,
        )


def _check_root(path):
    root = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(root):
        raise FileNotFoundError(
            f"Image folder {path!r} does not exist (resolved to {root}). Pass an existing "
            "directory of PNG/JPEG files as --dataset=folder:PATH."
        )
    if not os.path.isdir(root):
        raise ValueError(
            f"{path!r} is a file, not a folder. --dataset=folder:PATH needs a directory of "
            "images; put this file in a folder and pass that folder."
        )
    return root


def _split_dir(root, path, split):
    """The directory holding `split`'s images."""
    if os.path.isdir(os.path.join(root, "train")):
        split_dir = os.path.join(root, split)
        if not os.path.isdir(split_dir):
            have = ", ".join(_subdirs(root))
            raise FileNotFoundError(
                f"Image folder {path!r} has split sub-folders ({have}) but no {split!r}. "
                f"Create {os.path.join(root, split)}/ with that split's images."
            )
        return split_dir
    if split == "train":
        return root
    raise ValueError(
        f"Image folder {path!r} has no {split!r} split: all of its images are the 'train' "
        f"split. To hold some out, move them into {os.path.join(root, split)}/ and the rest "
        f"into {os.path.join(root, 'train')}/ (keeping any class sub-folders inside each)."
    )


def _class_names(root, split_dir):
    """Sorted class names, or [] when the split's folder is unlabelled.

    With split sub-folders the classes are the union over every split, so a
    label means the same class in `train` and `test` even when one lacks a class.
    """
    if _has_loose_images(split_dir):
        return []
    dirs = [root] if split_dir == root else [os.path.join(root, s) for s in _subdirs(root)]
    names = set()
    for directory in dirs:
        if not _has_loose_images(directory):
            names.update(d for d in _subdirs(directory) if _has_image(os.path.join(directory, d)))
    # A single sub-folder (e.g. `celeba/img_align_celeba/`) is a container, not a label.
    return sorted(names) if len(names) >= 2 else []


def _has_loose_images(directory):
    return any(_is_image(name) for name in _visible(os.listdir(directory)))


def _list_images(split_dir, classes):
    """Image paths relative to `split_dir`, sorted, and their labels."""
    files, labels = [], []
    index = {name: i for i, name in enumerate(classes)}
    for dirpath, dirnames, filenames in os.walk(split_dir):
        dirnames[:] = sorted(_visible(dirnames))
        rel_dir = os.path.relpath(dirpath, split_dir)
        label = index.get(rel_dir.split(os.sep)[0], 0)
        prefix = "" if rel_dir == os.curdir else rel_dir + os.sep  # Joined by hand: 200k files.
        for name in sorted(_visible(filenames)):
            if _is_image(name):
                files.append(prefix + name)
                labels.append(label)
    return files, labels


def _open(file_path, image_size):
    """A decoded `PIL.Image` in mode L, RGB or RGBA, resized if asked; None if unreadable."""
    from PIL import Image, ImageOps

    try:
        with Image.open(file_path) as image:
            image.load()  # Truncated or corrupt data only shows up here.
            image = ImageOps.exif_transpose(image)  # Phone photos store rotation in EXIF.
            image = _to_8bit(image)
            # A real colour mode also makes resizing bilinear: Pillow uses nearest
            # neighbour for palette images.
            image = image.convert(_MODES[_natural_channels(image)])
    except Exception:
        # Bad files raise OSError, SyntaxError, EOFError, struct.error, ... depending on
        # the decoder; any of them means "skip this file".
        return None
    if image_size:
        image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
    return image


def _to_8bit(image):
    from PIL import Image

    if image.mode.startswith("I") or image.mode == "F":
        # 16-bit greyscale PNGs open as "I;16"/"I"; Pillow's convert("L") would clip
        # them at 255 instead of scaling.
        pixels = np.asarray(image, np.float64)
        scale = 257.0 if pixels.max() > 255 else 1.0
        return Image.fromarray(np.clip(pixels / scale, 0, 255).round().astype(np.uint8), "L")
    return image


def _natural_channels(image):
    return headers_lib.mode_channels(image.mode, "transparency" in image.info)


def _check_same_size(names, headers, path):
    first_name, first = names[0], headers[0].size
    for name, header in zip(names[1:], headers[1:]):
        if header.size != first:
            raise ValueError(
                f"Image folder {path!r} has images of different sizes: {first_name} is "
                f"{first[0]}x{first[1]} but {name} is {header.size[0]}x{header.size[1]} "
                "(width x height). Pass an image size to resize them all to a square, e.g. "
                "--set data.image_size=64."
            )


def _has_image(directory):
    for _, dirnames, filenames in os.walk(directory):
        dirnames[:] = _visible(dirnames)
        if any(_is_image(name) for name in _visible(filenames)):
            return True
    return False


def _subdirs(directory):
    return sorted(
        d for d in _visible(os.listdir(directory)) if os.path.isdir(os.path.join(directory, d))
    )


def _visible(names):
    # Skips .DS_Store, .ipynb_checkpoints and other tool droppings.
    return [n for n in names if not n.startswith(".")]


def _is_image(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)
