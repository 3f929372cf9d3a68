"""A directory of images (`--dataset=folder:PATH`), decoded into memory.

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
- Unreadable files are skipped and reported in one warning.
- Channels: each image has a natural count (1 for greyscale, 4 with alpha or
  palette transparency, 3 otherwise). The most common count wins (ties go to
  more channels, so no colour is lost) and every image is converted to it with
  Pillow: grey becomes RGB by copying, RGB becomes grey by ITU-R 601-2 luma,
  alpha is dropped or set opaque.
- Size: without `image_size` every image must have the same size. With it,
  each image is resized (Pillow's antialiased bilinear) to a square, ignoring
  its aspect ratio; crop beforehand if that matters.

The folder is only read, never written.
"""

import collections
import os

import numpy as np
import tensorflow as tf
from absl import logging

from ganzoo.data import DataSpec

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_MAX_NAMES_IN_WARNING = 5


def load_folder(path, split="train", image_size=None, data_dir=None):
    """Loads a directory of images as `(image, label)` pairs in [-1, 1].

    Args:
        path: str. The image directory (`~` is expanded). See the module
            docstring for split, class, channel and size rules.
        split: str. `"train"` or `"test"` (any `PATH/<split>/` when `PATH/train/`
            exists). Defaults to `"train"`.
        image_size: int or None. Square size to resize every image to; None
            requires all images to share one size. Defaults to None.
        data_dir: str or None. Unused: the folder path says where the data is.

    Returns:
        `(dataset, spec)`: an unbatched `tf.data.Dataset` of `(float32 image
        [H, W, C], int32 label)` and its `DataSpec` named `folder:PATH`.

    Raises:
        FileNotFoundError: `path`, or the requested split's folder, does not exist.
        ValueError: `path` is a file, holds no readable images, has no `test`
            split, or holds images of different sizes with no `image_size`.

    Example:

    >>> ds, spec = load_folder("~/faces", image_size=64)  # doctest: +SKIP
    >>> spec.shape  # doctest: +SKIP
    (64, 64, 3)
    """
    del data_dir  # The folder path is the whole address of the data.
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
    images, kept = _decode_all(split_dir, files, image_size, path)
    labels = np.asarray(labels, np.int32)[kept]

    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    # Kept as uint8 in memory (4x smaller than float32); scaled per element.
    ds = ds.map(
        lambda image, label: (tf.cast(image, tf.float32) / 127.5 - 1.0, label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    spec = DataSpec(
        f"folder:{path}", images.shape[1:], num_classes=len(classes), num_examples=len(labels)
    )
    return ds, spec


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
        top = rel_dir.split(os.sep)[0]
        for name in sorted(_visible(filenames)):
            if not _is_image(name):
                continue
            files.append(os.path.normpath(os.path.join(rel_dir, name)))
            labels.append(index.get(top, 0))
    return files, labels


def _decode_all(split_dir, files, image_size, path):
    """Decodes every readable file into one uint8 array `[N, H, W, C]`.

    Returns:
        `(images, kept)`: the array and the indices into `files` it holds.
    """
    opened, skipped = [], []
    for i, rel in enumerate(files):
        image = _open(os.path.join(split_dir, rel), image_size)
        if image is None:
            skipped.append(rel)
        else:
            opened.append((i, rel, image))
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
    if not opened:
        raise ValueError(
            f"Image folder {path!r}: none of its {len(files)} image files could be decoded "
            f"(e.g. {skipped[0]}). Check that they are valid PNG/JPEG files."
        )
    _check_same_size(opened, path)

    counts = collections.Counter(_natural_channels(image) for _, _, image in opened)
    channels = max(counts, key=lambda c: (counts[c], c))
    first = opened[0][2]
    images = np.empty((len(opened), first.height, first.width, channels), np.uint8)
    for row, (_, _, image) in enumerate(opened):
        pixels = np.asarray(image.convert(_MODES[channels]))
        images[row] = pixels.reshape(images.shape[1:])
    return images, [i for i, _, _ in opened]


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
    if image.mode in ("1", "L"):
        return 1
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        return 4
    return 3


def _check_same_size(opened, path):
    _, first_name, first = opened[0]
    for _, name, image in opened[1:]:
        if image.size != first.size:
            raise ValueError(
                f"Image folder {path!r} has images of different sizes: {first_name} is "
                f"{first.width}x{first.height} but {name} is {image.width}x{image.height} "
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
