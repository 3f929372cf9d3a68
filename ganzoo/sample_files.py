"""Reading samples made elsewhere, for `python -m ganzoo.evaluate --samples=PATH`.

Another framework's GAN writes its samples as a folder of PNG/JPEG/BMP files,
a `.npy`, or a `.npz` with an `images` array, in its own conventions: uint8
0..255 or floats in [-1, 1] (refused with the fix: [0, 1] floats, PyTorch's
`[N, C, H, W]`, flattened rows), greyscale saved as RGB, palette or 16-bit
PNGs. `read_samples` turns any of them into ganzoo's float32 `[N, H, W, C]`
in [-1, 1], or names what is wrong. Paths go through `tf.io.gfile`.
"""

import io
import os

import numpy as np

from ganzoo import files
from ganzoo.errors import warn

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def read_samples(samples, num_samples: int | None = None, shape=None) -> np.ndarray:
    """Samples as float32 `[N, H, W, C]` in [-1, 1] from an array, `.npz`, `.npy` or folder.

    Args:
        samples: str or array. See `evaluate_samples`.
        num_samples: int or None. Read only the first n (files are decoded lazily).
        shape: `(H, W, C)` or None. The real data's: for greyscale data, RGB
            samples whose three channels are equal (a greyscale image saved as RGB,
            as `torchvision.utils.save_image` does) become one channel; for RGB
            data, greyscale samples get three equal channels.

    Returns:
        float32 numpy array `[N, H, W, C]` in [-1, 1].

    Raises:
        FileNotFoundError: nothing at the path.
        ValueError: no images, a file that does not decode, mixed sizes, a wrong
            rank or layout (`[N, C, H, W]`), floats outside [-1, 1] or in [0, 1].
    """
    where = repr(samples) if isinstance(samples, str) else "the samples"
    channels = None if shape is None else shape[-1]
    if isinstance(samples, str):
        array = _read_path(samples, num_samples)
    else:
        array = np.asarray(samples)[:num_samples]
    if array.ndim == 2 and shape is not None and array.shape[1] == int(np.prod(shape)):
        raise ValueError(f"{where}: shape {list(array.shape)} holds flattened images; pass "
                         f"x.reshape(-1, {', '.join(map(str, shape))}).")
    if array.ndim == 3:  # [N, H, W]: greyscale without its channel axis
        array = array[..., None]
    if array.ndim != 4 or len(array) == 0:
        raise ValueError(f"{where}: expected images [N, H, W, C], got shape {list(array.shape)}.")
    if array.shape[1] in (1, 3) and array.shape[-1] not in (1, 3):
        raise ValueError(f"{where}: shape {list(array.shape)} looks like [N, C, H, W] "
                         "(PyTorch's layout); ganzoo reads [N, H, W, C]: pass "
                         "x.transpose(0, 2, 3, 1).")
    return _to_unit_range(_match_channels(array, channels), where)


def _match_channels(images, channels):
    """Greyscale saved as RGB (three equal channels) -> one channel for greyscale data;
    greyscale -> three equal channels for RGB data; anything else unchanged."""
    if channels == 1 and images.shape[-1] == 3 and np.array_equal(
            images[..., :1].repeat(3, -1), images):
        return images[..., :1]
    if channels == 3 and images.shape[-1] == 1:
        return images.repeat(3, -1)
    return images


def _to_unit_range(array, where):
    if array.dtype == np.bool_:
        raise ValueError(f"{where}: boolean images; pass uint8 0..255 or floats in [-1, 1].")
    if array.dtype.kind in "iu":
        top = 65535 if array.dtype.itemsize > 1 and array.max() > 255 else 255
        if array.min() < 0 or array.max() > 65535:
            raise ValueError(f"{where}: integer images must be 0..255 (or 16-bit 0..65535); "
                             f"these span {array.min()} to {array.max()}.")
        if array.max() == 1:  # 0/1 masks: forgotten * 255
            raise ValueError(f"{where}: integer images holding only 0 and 1; pass uint8 0..255 "
                             "(e.g. (x * 255).astype('uint8')) or floats in [-1, 1].")
        return array.astype(np.float32) / (top / 2) - 1.0
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: {int(np.sum(~np.isfinite(array))):,} values are NaN or "
                         "infinite; the generator diverged, or the array was not filled.")
    low, high = float(array.min()), float(array.max())
    if not (low >= -1.001 and high <= 1.001):
        raise ValueError(f"{where}: float images must be finite and in [-1, 1] (ganzoo's range; "
                         f"these span {low:.3g} to {high:.3g}); pass uint8 0..255 or rescale "
                         "them.")
    if low >= 0:
        raise ValueError(f"{where}: these floats span {low:.3g} to {high:.3g}, as [0, 1] images "
                         "do (PyTorch's ToTensor, a sigmoid); ganzoo's range is [-1, 1]: pass "
                         "x * 2 - 1, or uint8 0..255.")
    return np.clip(array, -1.0, 1.0)


def _read_path(path, num_samples):
    if files.gfile.isdir(path):
        names = sorted(n for n in files.gfile.listdir(path)
                       if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith("."))
        if not names:
            nested = any(files.gfile.isdir(os.path.join(path, n))
                         for n in files.gfile.listdir(path))
            hint = " (its sub-folders are not searched: pass one of them)" if nested else ""
            raise ValueError(f"{path!r} holds no {'/'.join(IMAGE_SUFFIXES)} images{hint}.")
        names = names[:num_samples]
        if any(n.lower().endswith((".jpg", ".jpeg")) for n in names):
            warn(f"{path!r} holds JPEG files: JPEG's lossy compression changes FID (Parmar et "
                 "al. 2022, clean-fid); save samples as PNG to compare with ganzoo's numbers.")
        images = []
        for name in names:
            image = _decode(os.path.join(path, name))
            if images and image.shape[:2] != images[0].shape[:2]:
                raise ValueError(f"{os.path.join(path, name)!r} is {list(image.shape[:2])} "
                                 f"pixels but {os.path.join(path, names[0])!r} is "
                                 f"{list(images[0].shape[:2])}: every sample must have one size.")
            images.append(image)
        if len({image.shape[-1] for image in images}) > 1:  # some files saved greyscale
            images = [image.repeat(3, -1) if image.shape[-1] == 1 else image
                      for image in images]
        return np.stack(images)  # greyscale or not is decided for the folder as a whole
    if not files.isfile(path):
        raise FileNotFoundError(f"No samples at {path!r}: pass a .npz (images), a .npy or a "
                                "directory of PNG files.")
    if not path.lower().endswith((".npz", ".npy")):
        raise ValueError(f"{path!r} is not a .npz, .npy or directory of images.")
    with files.gfile.GFile(path, "rb") as f:
        try:
            loaded = np.load(io.BytesIO(f.read()))
        except (ValueError, OSError) as e:
            raise ValueError(f"{path!r} is not a readable numpy file ({e}).") from e
    if isinstance(loaded, np.lib.npyio.NpzFile):
        if "images" not in loaded:
            raise ValueError(f"{path!r} has no `images` array (it has {sorted(loaded)}); "
                             "save the samples as np.savez(path, images=...).")
        loaded = loaded["images"]
    return np.asarray(loaded)[:num_samples]


def _decode(path):
    """One image file as uint8 `[H, W, C]` (C = 1 or 3; palettes and alpha resolved)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with files.gfile.GFile(path, "rb") as f:
            image = Image.open(io.BytesIO(f.read()))
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"{path!r} is not a readable image ({type(e).__name__}: {e}); "
                         "remove it or regenerate it.") from e
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image).astype(np.int64)
        return (array >> 8 if array.max() > 255 else array).astype(np.uint8)[..., None]
    if image.mode in ("1", "LA"):  # bilevel, greyscale with alpha
        image = image.convert("L")
    elif image.mode != "L":  # palette, RGBA, CMYK, ...: RGB (equal channels fold later)
        image = image.convert("RGB")
    array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array
