"""What an image file is, from its first bytes: size, channels and which decoder reads it.

`ganzoo.data.folder` lists a folder's images with one `Header` per file before
decoding any. PNG and JPEG headers are parsed here (about 20 us of CPU a file, a
third of Pillow's `Image.open`); anything unusual in them, and every other
format, is left to Pillow, which opens the file lazily (header only).
"""

import collections
import os
import struct

# Decoders: TensorFlow's PNG and JPEG ops, or Pillow through `tf.numpy_function`.
PNG, JPEG, PILLOW = 0, 1, 2
# Pillow modes whose TensorFlow decode is bit-identical to Pillow's.
TF_MODES = {"PNG": {"1", "L", "P", "RGB", "RGBA", "LA"}, "JPEG": {"L", "RGB"}}
EXIF_ORIENTATION = 0x0112

Header = collections.namedtuple("Header", "size channels decoder")
# Pillow's mode for each PNG (bit depth, colour type) (`PngImagePlugin._MODES`).
_PNG_MODES = {(1, 0): "1", (2, 0): "L", (4, 0): "L", (8, 0): "L", (16, 0): "I;16",
              (8, 2): "RGB", (16, 2): "RGB", (1, 3): "P", (2, 3): "P", (4, 3): "P",
              (8, 3): "P", (8, 4): "LA", (16, 4): "RGBA", (8, 6): "RGBA", (16, 6): "RGBA"}
# JPEG start-of-frame markers (C4, C8 and CC are other segments).
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_HEAD_BYTES = 4096


def read_headers(split_dir, files):
    """A `Header` per file, None where the file is not an image Pillow can open.

    PNG and JPEG headers are parsed here (about 20 us of CPU a file, a third of
    `Image.open`'s; `tools/results/folder_pipeline.md` has the load times);
    anything unusual in them, and every other format, is left to Pillow. One
    thread: with the GIL, threads made it 13x slower on files in the page cache.
    """
    prefix = os.path.join(split_dir, "")
    return [_header(prefix + f) for f in files]


def _header(file_path):
    try:
        with open(file_path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError:
        return None
    found = png_header(head) or jpeg_header(head)
    if found:
        kind, mode, size, transparency = found
        orientation = 1
    else:
        from PIL import Image

        try:
            with Image.open(file_path) as image:  # Lazy: reads the header, not the pixels.
                mode, kind, size = image.mode, image.format, image.size
                transparency = "transparency" in image.info
                orientation = (image.getexif().get(EXIF_ORIENTATION, 1)
                               if "exif" in image.info else 1)
        except Exception:
            return None  # As `folder_reader._open`: any error means "skip this file".
    if orientation in (5, 6, 7, 8):  # Rotated by 90 degrees: `exif_transpose` swaps them.
        size = size[::-1]
    if mode.startswith("I") or mode == "F":
        channels = 1  # 16-bit and float greyscale become 8-bit grey (`folder_reader._to_8bit`).
    else:
        channels = mode_channels(mode, transparency)
    decoder = {"PNG": PNG, "JPEG": JPEG}.get(kind, PILLOW)
    if (mode not in TF_MODES.get(kind, ()) or orientation != 1
            or (transparency and mode != "P")):  # TF ignores colour-key transparency.
        decoder = PILLOW
    return Header(size, channels, decoder)


def png_header(head):
    """`("PNG", mode, size, transparency)` as Pillow opens it, or None to ask Pillow."""
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR" or len(head) < 33:
        return None
    width, height, depth, color = struct.unpack(">IIBB", head[16:26])
    mode, pos, transparency = _PNG_MODES.get((depth, color)), 33, False
    while mode and pos + 8 <= len(head):
        length, kind = struct.unpack(">I4s", head[pos:pos + 8])
        if kind == b"IDAT":
            return "PNG", mode, (width, height), transparency
        if kind == b"eXIf":  # May rotate the image: Pillow reads the orientation.
            return None
        transparency |= kind == b"tRNS"
        pos += length + 12
    return None


def jpeg_header(head):
    """`("JPEG", mode, size, False)` as Pillow opens it, or None to ask Pillow."""
    if head[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 10 <= len(head) and head[pos] == 0xFF:
        marker = head[pos + 1]
        if marker == 0xFF:  # Fill byte.
            pos += 1
            continue
        if (marker == 0xE1 and head[pos + 4:pos + 10] == b"Exif\0\0") or marker == 0xEE:
            return None  # EXIF rotation or Adobe colour transform: Pillow decides.
        if marker in _JPEG_FRAMES:
            precision, height, width, components = struct.unpack(">BHHB", head[pos + 4:pos + 10])
            mode = {1: "L", 3: "RGB"}.get(components)
            return ("JPEG", mode, (width, height), False) if mode and precision == 8 else None
        pos += 2 + struct.unpack(">H", head[pos + 2:pos + 4])[0]
    return None


def mode_channels(mode, transparency):
    """Natural channel count of a Pillow mode: 1 grey, 4 with alpha or transparency, else 3."""
    if mode in ("1", "L"):
        return 1
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or transparency:
        return 4
    return 3
