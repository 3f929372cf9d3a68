"""`python -m ganzoo.generate`: samples of a run, `.keras` file or preset, written to disk.

    python -m ganzoo.generate --model_dir=dcgan_fashion_mnist --output=samples.png
    python -m ganzoo.generate --model_dir=runs/cgan_fmnist --labels=7 --num_images=64 \\
        --output=sneakers.png --scale=4
    python -m ganzoo.generate --model_dir=runs/dcgan_fmnist --num_images=10000 \\
        --output=fakes/          # one PNG per image, for other FID tools
    python -m ganzoo.generate --model_dir=cgan_fashion_mnist --num_images=10 \\
        --interpolate=8 --output=walks.png   # a latent walk per class, a row each

What `--output` names decides the format:
- `*.png`: one grid of the samples (at most `MAX_GRID_IMAGES`), `--rows` rows,
  each pixel `--scale` times;
- `*.npz`: numpy arrays `images` (float32 in the data range, [-1, 1] for
  images; vectors for 2-D mixtures) and the conditions given (`labels`,
  `categories`);
- no suffix (or a trailing `/`): a directory of `000000.png`, `000001.png`, ... (uint8),
  written batch by batch (bounded memory) into a temporary directory renamed
  into place at the end, so an interrupted command leaves no half-filled folder.

The images are `gan.generate(num_images, seed, **conditions)`'s (the
exponential moving average of G where the run kept one). Nothing is ever
replaced unless `--overwrite` is given, and a directory never: a folder mixing
two commands' samples would give a wrong FID.
"""

import inspect
import io
import itertools
import os

import numpy as np
import tensorflow as tf
from absl import flags

from ganzoo import cli, files
from ganzoo import images as images_lib
from ganzoo.loading import load_gan

FLAGS = flags.FLAGS
gfile = files.gfile

MAX_SAMPLES = 1_000_000
MAX_GRID_IMAGES = 10_000
MAX_GRID_PIXELS = 100_000_000  # one PNG of 10,000 x 10,000
FORMATS = {".png": "grid", ".npz": "npz"}


def output_format(output: str) -> str:
    """`"grid"` (`.png`), `"npz"` or `"directory"` (no suffix, or a trailing `/`).

    Raises:
        ValueError: another file suffix (`.jpg`, `.npy`, ...), which would
            otherwise become a directory of that name.
    """
    output = os.fspath(output)
    if output.endswith("/"):
        return "directory"
    suffix = os.path.splitext(output)[1].lower()
    if suffix and suffix not in FORMATS:
        raise ValueError(f"--output={output} ends in {suffix!r}: name a .png (one grid), a .npz "
                         "(arrays) or a directory (one PNG per image; end a dotted directory "
                         "name with /).")
    return FORMATS.get(suffix, "directory")


def check_output(output: str, num_images: int, overwrite: bool = False) -> str:
    """Refuses an output that would replace something, before any model is loaded.

    Args:
        output: str. The `--output` path.
        num_images: int. How many samples will be written.
        overwrite: bool. Whether an existing `.png` or `.npz` may be replaced.

    Returns:
        str: `output_format(output)`.

    Raises:
        ValueError: an empty path or another file suffix, or a grid of more than
            `MAX_GRID_IMAGES` images.
        FileExistsError: a file (or anything but an empty directory) is in the way.
    """
    if not output or not os.fspath(output).strip():
        raise ValueError("--output is empty; name a .png (one grid), a .npz (arrays) or a "
                         "directory (one PNG per image).")
    output = os.fspath(output)
    kind = output_format(output)
    if kind == "grid" and num_images > MAX_GRID_IMAGES:
        raise ValueError(f"A grid of {num_images:,} images is too large for one PNG (at most "
                         f"{MAX_GRID_IMAGES:,}); give a directory as --output for one PNG per "
                         "image, or a .npz.")
    blocker = files.file_in_the_way(output)
    if blocker is not None:
        raise FileExistsError(f"--output={output} cannot be written: {blocker} is a file, not "
                              "a directory. Choose another --output.")
    if kind == "directory":
        if files.isfile(output):
            raise FileExistsError(f"--output={output} is a file; a directory output must be "
                                  "new or empty (or end the name in .png or .npz).")
        if gfile.isdir(output) and gfile.listdir(output):
            raise FileExistsError(f"--output={output} is a directory that is not empty; samples "
                                  "mixed with other files would give a wrong FID. Choose a new "
                                  "or empty directory.")
    elif gfile.isdir(output):
        raise FileExistsError(f"--output={output} is a directory; choose another file name.")
    elif files.isfile(output) and not overwrite:
        raise FileExistsError(f"--output={output} exists; pass --overwrite to replace it.")
    return kind


def conditions_for(gan, num_images: int, labels=None, categories=None) -> dict:
    """The `generate` conditions: the values given, repeated to `num_images` in order.

    Raises:
        ValueError: a condition `gan`'s generator does not take, naming the flags it does.
    """
    takes = set(inspect.signature(gan.generator_inputs).parameters) & set(CONDITION_FLAGS)
    for given, name in ((labels, "labels"), (categories, "codes")):
        if given is not None and name not in takes:
            accepted = " or ".join(f"--{CONDITION_FLAGS[n]}" for n in sorted(takes))
            what = f"it takes {accepted}" if accepted else "it is unconditional"
            raise ValueError(f"{type(gan).__name__} takes no --{CONDITION_FLAGS[name]} ({what}).")
    conditions = {}
    if labels is not None:
        conditions["labels"] = np.resize(labels, num_images)
    if categories is not None:
        conditions["codes"] = {"categorical": np.resize(categories, num_images)}
    return conditions


# `generate` keyword -> the flag that sets it.
CONDITION_FLAGS = {"labels": "labels", "codes": "categories"}


def write_samples(gan, output: str, num_images: int = 64, seed: int = 0, batch_size: int = 256,
                  rows: int | None = None, scale: int = 1, overwrite: bool = False, labels=None,
                  categories=None, interpolate: int = 0) -> dict:
    """Writes `gan.generate(num_images, seed, ...)` to `output` (see the module docstring).

    Args:
        gan: a ganzoo `GAN`.
        output: str. A `.png` (grid), `.npz` (arrays) or directory path (one PNG per
            image), on any TensorFlow file system.
        num_images: int. How many samples, 1 to `MAX_SAMPLES`.
        seed: int. The same seed gives the same samples.
        batch_size: int. Generator batch size (memory, not the numbers).
        rows: int or None. Grid rows (None: as square as possible).
        scale: int. Each pixel becomes `scale` x `scale` (PNG outputs only).
        overwrite: bool. Replace an existing `.png` or `.npz`.
        labels: int sequence or None. cgan/acgan classes, repeated in order to
            `num_images` (`[3]`: all class 3; None: 0, 1, ..., K-1, 0, ...).
        categories: int sequence or None. InfoGAN's categorical code, likewise.
        interpolate: int. 0, or the images per row of latent walks instead:
            `gan.interpolate(num_images, interpolate, seed, ...)`, `num_images`
            rows (one grid row each), the conditions one per row.

    Returns:
        dict: `output`, `format`, `num_images` (written), `shape` (one sample's).
    """
    if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)) \
            or not 1 <= num_images <= MAX_SAMPLES:
        raise ValueError(f"--num_images is {num_images!r}; pass 1 to {MAX_SAMPLES:,}.")
    for name, value in (("scale", scale), ("rows", rows)):
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"--{name} must be a whole number >= 1, got {value!r}.")
    if isinstance(interpolate, bool) or not isinstance(interpolate, (int, np.integer)) \
            or interpolate == 1 or interpolate < 0:
        raise ValueError(f"--interpolate is {interpolate!r}: 0 (off) or the images per walk, "
                         ">= 2 (e.g. 8).")
    walks = num_images
    if interpolate:
        num_images *= int(interpolate)
        rows = rows or walks
        if num_images > MAX_SAMPLES:
            raise ValueError(f"{walks:,} walks of {interpolate} images are {num_images:,} "
                             f"images; at most {MAX_SAMPLES:,}.")
    if rows is not None and rows > num_images:
        raise ValueError(f"--rows={rows} is more than the {num_images} images; pass at most "
                         f"{num_images}.")
    output = os.fspath(output)
    kind = check_output(output, num_images, overwrite)
    conditions = conditions_for(gan, walks, labels, categories)
    if interpolate:
        path = gan.interpolate(walks, int(interpolate), seed, batch_size, **conditions)
        batches = (path[b:b + batch_size] for b in range(0, len(path), batch_size))
    else:
        batches = gan.generate_batches(num_images, seed, batch_size, **conditions)
    first = next(batches)  # checked before anything on disk changes
    if kind != "npz":
        _check_images(first, kind)
    if kind == "grid":
        h, w = first.shape[1:3]
        grid_rows, grid_columns = images_lib.grid_size(num_images, rows)
        pixels = (grid_rows * (h + 1)) * (grid_columns * (w + 1)) * scale ** 2
        if pixels > MAX_GRID_PIXELS:
            raise ValueError(f"The grid would be {pixels:,} pixels (more than "
                             f"{MAX_GRID_PIXELS:,}); pass a smaller --scale or --num_images, or "
                             "a directory as --output.")
    batches = itertools.chain([first], batches)
    if kind == "directory":
        shape = _write_directory(batches, output, num_images, scale)
    else:
        samples = np.concatenate(list(batches))
        shape = samples.shape[1:]
        if kind == "grid":
            images_lib.write_png(output, images_lib.image_grid(samples, rows=rows), scale)
        else:
            arrays = {"images": samples.astype(np.float32)}
            per_image = int(interpolate) or 1  # a walk's images share its conditions
            if "labels" in conditions:
                arrays["labels"] = np.repeat(conditions["labels"], per_image)
            if "codes" in conditions:
                arrays["categories"] = np.repeat(conditions["codes"]["categorical"], per_image)
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            files.atomic_write(output, buffer.getvalue())
    return {"output": output, "format": kind, "num_images": int(num_images),
            "shape": [int(d) for d in shape]}


def _check_images(samples, kind):
    if samples.ndim != 4 or samples.shape[-1] not in (1, 3):
        raise ValueError(f"This model generates {list(samples.shape[1:])}-shaped samples, not "
                         f"greyscale or RGB images: a {kind} of PNGs cannot show them; name a "
                         ".npz as --output for the arrays.")


def _write_directory(batches, output, num_images, scale):
    width = max(6, len(str(num_images - 1)))
    output = os.fspath(output).rstrip("/")
    shape = None
    with files.atomic_path(output) as tmp:
        gfile.makedirs(tmp)
        index = 0
        for batch in batches:
            shape = batch.shape[1:]
            for image in images_lib.to_uint8(batch):
                with gfile.GFile(os.path.join(tmp, f"{index:0{width}d}.png"), "wb") as f:
                    f.write(images_lib.png_bytes(image, scale))
                index += 1
        if gfile.isdir(output):  # empty (check_output): replaced by the finished directory
            files.remove(output)
    return shape


def define_flags():
    """Defines this command's absl flags; called by `run`, not at import (see `ganzoo.cli`)."""
    flags.DEFINE_string("model_dir", None,
                        "Run directory, .keras file or preset name (ganzoo.list_presets()).")
    flags.DEFINE_string("output", None, "A .png (one grid), a .npz (arrays) or a new or empty "
                        "directory (one PNG per image).")
    flags.mark_flags_as_required(["model_dir", "output"])
    flags.DEFINE_integer("num_images", 64, "How many samples.")
    flags.DEFINE_integer("seed", 0, "The same seed gives the same samples.")
    flags.DEFINE_string("labels", None, "cgan/acgan: class ids, repeated in order (3, or 0,1,2); "
                        "default 0, 1, ..., K-1, 0, ...")
    flags.DEFINE_string("categories", None,
                        "InfoGAN: values of its categorical code, repeated in order.")
    flags.DEFINE_integer("interpolate", 0, "Instead of samples: --num_images latent walks of this "
                         "many images each (one grid row per walk); 0: off.")
    flags.DEFINE_integer("rows", None, "Grid rows (.png); default as square as possible.")
    flags.DEFINE_integer("scale", 1, "Each pixel becomes scale x scale (PNG outputs).")
    flags.DEFINE_integer("batch_size", 256, "Generator batch size (memory only).")
    flags.DEFINE_bool("overwrite", False, "Replace an existing .png or .npz.")


def main(argv):
    del argv  # `cli.parse_flags` refuses positional arguments
    try:
        labels = cli.parse_ints(FLAGS.labels, "labels")
        categories = cli.parse_ints(FLAGS.categories, "categories")
        if not 1 <= FLAGS.num_images <= MAX_SAMPLES:
            raise ValueError(f"--num_images is {FLAGS.num_images:,}; pass 1 to "
                             f"{MAX_SAMPLES:,}.")
        check_output(FLAGS.output, FLAGS.num_images * max(1, FLAGS.interpolate),
                     FLAGS.overwrite)  # before loading
        gan = load_gan(FLAGS.model_dir)  # compiled: its optimizer counts the steps
        result = write_samples(gan, FLAGS.output, FLAGS.num_images, FLAGS.seed,
                               FLAGS.batch_size, FLAGS.rows, FLAGS.scale, FLAGS.overwrite,
                               labels, categories, FLAGS.interpolate)
    except (FileNotFoundError, FileExistsError, ValueError, PermissionError) as e:
        cli.fail(e)
    except tf.errors.OpError as e:  # gfile: permission denied, no such bucket, ...
        cli.fail(f"Cannot write --output={FLAGS.output}: {e.message}")
    except MemoryError:
        cli.fail(f"Out of memory holding {FLAGS.num_images:,} samples for one file; give a "
                 "directory as --output (written batch by batch) or pass fewer --num_images.")
    step = getattr(getattr(gan, "g_optimizer", None), "iterations", None)
    what = (f"{FLAGS.num_images:,} walks of {FLAGS.interpolate} images"
            if FLAGS.interpolate else f"{result['num_images']:,} samples")
    print(f"Wrote {what} of {type(gan).__name__}"
          f"{'' if step is None else f' (step {int(step.numpy())})'} to {result['output']} "
          f"({result['format']})")


def run():
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
