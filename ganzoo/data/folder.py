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

The folder is only read, never written. This module lists the files and
checks the layout; `ganzoo.data.headers` reads each file's header and
`ganzoo.data.folder_reader` decodes.
"""

import collections
import os

import numpy as np
import tensorflow as tf

from ganzoo.data import folder_reader
from ganzoo.data import headers as headers_lib
from ganzoo.data.base import DataSpec, Source, refuse_data_dir, with_source
from ganzoo.errors import warn

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# `cache="auto"` keeps decoded images when they take at most this many bytes.
CACHE_BUDGET_BYTES = 1 << 30


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
    if not kept:  # the error alone: a warning that all were skipped would repeat it
        raise ValueError(
            f"Image folder {path!r}: none of its {len(files)} image files could be decoded "
            f"(e.g. {files[0]}). Check that they are valid PNG/JPEG files."
        )
    _warn_skipped(path, files, [files[i] for i, h in enumerate(headers) if h is None])
    names = [files[i] for i in kept]
    headers = [headers[i] for i in kept]
    if not image_size:
        _check_same_size(names, headers, path)
    counts = collections.Counter(h.channels for h in headers)
    channels = max(counts, key=lambda c: (counts[c], c))
    width, height = (image_size, image_size) if image_size else headers[0].size
    if cache == "auto":
        # Variables made under a distribution strategy would be mirrored.
        cache = (len(names) * height * width * channels <= CACHE_BUDGET_BYTES
                 and not tf.distribute.has_strategy())
    reader = folder_reader.FolderReader(
        path, split_dir, names, np.asarray(labels, np.int32)[kept], [h.decoder for h in headers],
        (height, width, channels), image_size, cache)
    reader.check_first_files()
    dataset = tf.data.Dataset.range(len(names)).batch(folder_reader.READ_BATCH).map(
        lambda i: reader.read(i, fill=False), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True).unbatch()
    dataset.ganzoo_folder_reader = reader
    spec = DataSpec(f"folder:{path}", (height, width, channels), num_classes=len(classes),
                    num_examples=len(names))
    return with_source(dataset, Source(len(names), lambda i: reader.read(i), batched=True)), spec


def _warn_skipped(path, files, skipped):
    if skipped:
        names = ", ".join(skipped[:folder_reader.MAX_NAMES_IN_WARNING])
        more = ", ..." if len(skipped) > folder_reader.MAX_NAMES_IN_WARNING else ""
        warn(f"image folder {path}: skipped {len(skipped)} of {len(files)} files that "
             f"could not be decoded: {names}{more}")


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
