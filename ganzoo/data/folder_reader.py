"""Decoding a folder's images by index, in parallel, for `ganzoo.data.folder`.

`FolderReader` turns batches of file indices into image batches inside
tf.data: TensorFlow's PNG/JPEG ops where their pixels equal Pillow's (the
decoder `ganzoo.data.headers` picked per file), Pillow otherwise, with the
channel conversions Pillow's `convert` would make; files that fail are counted,
warned about and replaced or dropped; decoded images can be cached.
"""

import os
import threading

import numpy as np
import tensorflow as tf

from ganzoo.data import headers as headers_lib
from ganzoo.errors import warn

_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
MAX_NAMES_IN_WARNING = 5
# Files per decode call of the plain dataset.
READ_BATCH = 64


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
        cache: bool. Keep each decoded image (uint8) from its first read on.
    """

    def __init__(self, name, split_dir, files, labels, decoders, shape, image_size, cache):
        self.name, self.files, self.shape, self.image_size = name, files, shape, image_size
        prefix = os.path.join(split_dir, "")
        self._paths = tf.constant([prefix + f for f in files])
        self._labels = tf.constant(labels, tf.int32)
        self._decoders = tf.constant(decoders, tf.int32)
        self._failed, self._lock = set(), threading.Lock()
        if cache and tf.distribute.has_strategy():
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

    def check_first_files(self, limit=READ_BATCH):
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
            names = ", ".join(self.failed_files()[:MAX_NAMES_IN_WARNING])
            warn(f"image folder {self.name}: {total} of {len(self.files)} files failed to "
                 "decode while reading (truncated or damaged data); each is replaced by "
                 "another image of its batch in training and skipped elsewhere: "
                 f"{names}{', ...' if total > MAX_NAMES_IN_WARNING else ''}")
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
