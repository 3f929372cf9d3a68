"""Sample grids: numpy images in [-1, 1] -> one uint8 mosaic -> PNG."""

import io
import math

import numpy as np


def to_uint8(images):
    """Maps images in [-1, 1] to uint8 0..255 (rounding, clipped)."""
    images = np.asarray(images, np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images, rows=None, pad=1):
    """Tiles `[N, H, W, C]` images in [-1, 1] into one uint8 `[H', W', C]` mosaic.

    Args:
        images: array `[N, H, W, C]` in [-1, 1].
        rows: int or None. Rows of the grid; None makes it as square as possible.
        pad: int. Pixels of black between tiles.

    Returns:
        uint8 array `[rows*(H+pad)+pad, cols*(W+pad)+pad, C]`.
    """
    images = to_uint8(images)
    n, h, w, c = images.shape
    rows, cols = grid_size(n, rows)
    grid = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top:top + h, left:left + w] = images[i]
    return grid


def grid_size(num_images, rows=None):
    """`(rows, columns)` of `image_grid`'s mosaic of `num_images` tiles."""
    rows = rows or max(1, int(math.floor(math.sqrt(num_images))))
    return rows, int(math.ceil(num_images / rows))


def png_bytes(array, scale=1):
    """Encodes a uint8 `[H, W, C]` array (C = 1 or 3) as PNG, optionally upscaled."""
    from PIL import Image

    array = np.asarray(array, np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    image = Image.fromarray(array)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path, array, scale=1):
    """Writes a uint8 array as a PNG file, atomically, on any TensorFlow file system."""
    from ganzoo import files

    files.atomic_write(path, png_bytes(array, scale))
