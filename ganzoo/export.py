"""Exports a generator as a SavedModel that TF Serving can serve.

Layout: `<export_dir>` is one version directory of TF Serving's
`<model_base_path>/<name>/<version>/` convention, with warmup requests in
`assets.extra/tf_serving_warmup_requests`. Signatures (method
`tensorflow/serving/predict`), for every family:

- `serving_default`: `latent` float32 `[B, latent_dim]` (+ the family's extra
  inputs: `labels` int32 `[B]` for cgan/acgan, `codes` for infogan) -> `images`
  float32 in [-1, 1].
- `generate_uint8`: the same inputs -> `images` uint8 0..255 (pixels).
- `generate_from_seed`: int64 `seed` and int32 `num_images` scalars (+ extra
  inputs) -> `images`, equal to `gan.generate(num_images, seed)`: the latent is
  the same stateless Philox draw as `GAN.sample_latent`.
- whatever else the family adds (ssgan: `classify`, images -> class scores).

Every input is checked in the graph (shape, a batch of at least one row, finite
values): an empty batch is refused with INVALID_ARGUMENT, never answered.

Requests are bounded: TF Serving shares one process among its clients, so one
request must not take it down (100,000 images took 47 s; 1e9 asked for 400 GB).
`num_images` and the batch (first dimension) of every batched input must be at
most `max_images_per_request`, set at export (default 1,024; `--max_images_per_request`),
and recorded in the SavedModel
(`tf.saved_model.load(path).max_images_per_request[0]`).
A larger (or non-positive) request is refused in the graph, before anything is
allocated, with INVALID_ARGUMENT naming the limit.

`python -m ganzoo.export --model_dir RUN --export_dir export/models/NAME/VERSION`
exits 0 once the export is complete, and 2 for a bad flag, a missing run or an
existing export (`error: ...` on stderr, see `ganzoo.cli`), before anything is
written. `--overwrite` replaces only a previous SavedModel export: never a file,
a run directory (or one holding the `--model_dir`) or a folder of other files.
"""

import operator
import os

import keras
import tensorflow as tf
from absl import flags

from ganzoo import cli, files, validation
from ganzoo.errors import warn
from ganzoo.loading import load_gan
from ganzoo.serving import warmup as warmup_lib

FLAGS = flags.FLAGS
gfile = tf.io.gfile

GENERATOR_SIGNATURES = ("serving_default", "generate_uint8", "generate_from_seed")
DEFAULT_MAX_IMAGES_PER_REQUEST = 1024
# What a SavedModel version directory holds; anything else is someone's data, never replaced.
SAVED_MODEL_ENTRIES = frozenset({"saved_model.pb", "saved_model.pbtxt", "fingerprint.pb",
                                 "keras_metadata.pb", "variables", "assets", "assets.extra"})
RUN_ENTRIES = frozenset({"config.yaml", "checkpoints", "run.json"})
VERSION_FOLDER = "Export to a new version folder such as export/models/NAME/1 instead"


def export_generator(gan, export_dir, overwrite=False, warmup=True,
                     max_images_per_request=DEFAULT_MAX_IMAGES_PER_REQUEST, model_dir=None):
    """Writes `gan.inference_generator` (G or its moving average) as a SavedModel with serving
    signatures and warmup requests.

    Args:
        gan: a ganzoo `GAN`.
        export_dir: str. Target directory, e.g. `export/models/dcgan/1`.
        overwrite: bool. Replace an existing export; otherwise an existing
            non-empty directory is an error (an export is never lost silently).
            Even with it, only a previous SavedModel export is replaced: a file,
            a training run, or a directory holding anything else is refused.
        warmup: bool. Write `assets.extra/tf_serving_warmup_requests` (one
            `PredictionLog` per signature) so TF Serving traces every
            signature before the first real request.
        max_images_per_request: int. The most images (`num_images`, or rows of a
            batched input) one request may ask for; more is refused in the graph.
            Defaults to 1,024.
        model_dir: str or None. The run directory or `.keras` file `gan` was
            loaded from: refused as `export_dir` or anywhere under it.

    Returns:
        The export directory.

    Example:

    >>> export_generator(gan, "export/models/dcgan_digits/1", max_images_per_request=256)
    """
    limit = _check_limit(max_images_per_request)
    export_dir = _check_export_dir(export_dir, overwrite, model_dir)
    functions = serving_functions(gan)
    archive = keras.export.ExportArchive()
    archive.track(gan.inference_generator)
    if set(functions) - set(GENERATOR_SIGNATURES):
        # Extra signatures (ssgan's `classify`) read the discriminator's variables.
        archive.track(gan.discriminator)
    for name, (fn, signature) in functions.items():
        archive.add_endpoint(name=name, fn=_validated(fn, signature, limit),
                             input_signature=signature)
    # In the object graph, not a signature: the limit a loaded model was exported with.
    archive.add_variable_collection("max_images_per_request", [keras.Variable(
        limit, dtype="int32", trainable=False, name="max_images_per_request")])
    # Written beside the target (`.tmp-<version>`, which TF Serving ignores) and
    # renamed, so a failed export leaves no half directory.
    parent = os.path.dirname(files.abspath(export_dir).rstrip("/"))
    with files.atomic_path(export_dir) as tmp:
        archive.write_out(tmp, verbose=False)
        if warmup:
            _write_warmup(gan, functions, tmp, os.path.basename(parent))
        files.remove(export_dir)
    return export_dir


def _check_export_dir(export_dir, overwrite, model_dir):
    """`export_dir` as a str, if an export may be written there; else why not, and what to do.

    Checked before anything is written: replacing a directory deletes it, so only a
    previous SavedModel export is ever replaced (with `overwrite`), never a run, a
    file, or a folder of other files (`--export_dir=runs --overwrite` would have
    deleted every run in `runs`).
    """
    export_dir = os.fspath(export_dir) if export_dir is not None else ""
    if not export_dir.strip():
        raise ValueError("export_dir (--export_dir) is empty; pass a TF Serving version "
                         "folder such as export/models/NAME/1.")
    target = files.abspath(export_dir).rstrip("/")
    if not os.path.basename(target) or target.endswith(":"):
        raise ValueError(f"export_dir (--export_dir) {export_dir!r} is a file system root; "
                         "pass a TF Serving version folder such as export/models/NAME/1.")
    if (model_dir and files.exists(model_dir)
            and _is_within(files.abspath(model_dir).rstrip("/"), target)):
        raise FileExistsError(
            f"Export directory {export_dir!r} is or contains the model directory "
            f"{model_dir!r}; refusing to replace it. {VERSION_FOLDER}.")
    blocker = files.file_in_the_way(target)
    if blocker:  # `makedirs` would fail after the export
        raise FileExistsError(f"Export directory {export_dir!r} is under {blocker!r}, which is "
                              f"a file, not a directory. {VERSION_FOLDER}.")
    if not files.exists(target):
        return export_dir
    if not gfile.isdir(target):
        raise FileExistsError(
            f"Export directory {export_dir!r} is an existing file, not a directory; refusing "
            f"to replace it. {VERSION_FOLDER}.")
    entries = _entries(target)
    if not entries:
        return export_dir
    run = sorted(RUN_ENTRIES & entries)
    others = sorted(entries - SAVED_MODEL_ENTRIES)
    if run or others or "saved_model.pb" not in entries:
        what = (f"holds a training run ({', '.join(run)})" if run else
                f"is not a SavedModel export (it holds {_some(others or sorted(entries))})")
        raise FileExistsError(f"Export directory {export_dir!r} {what}; refusing to replace "
                              f"it. {VERSION_FOLDER}.")
    if not overwrite:
        raise FileExistsError(
            f"Export directory {export_dir!r} already exists; pick a new version number "
            "or pass overwrite=True (--overwrite).")
    return export_dir


def _is_within(path, directory):
    return path == directory or path.startswith(directory + "/")


def _entries(directory):
    """Names in `directory`; by glob elsewhere (`ram://` lists `1/` with the files of `10/`)."""
    if files.is_local(directory):
        return {n.rstrip("/") for n in gfile.listdir(directory)}
    return {os.path.basename(p.rstrip("/")) for p in gfile.glob(directory + "/*")}


def _some(names, count=5):
    more = f" and {len(names) - count} more" if len(names) > count else ""
    return ", ".join(names[:count]) + more


def check_models_config(path):
    """Refuses a `--models_config` path that cannot be written, before anything is exported.

    Args:
        path: str. The `model_config_list` file to write.

    Returns:
        `path`, if it is a file or nothing yet (missing folders are made when it is
        written, as for the export directory).
    """
    path = os.fspath(path) if path is not None else ""
    if not path.strip():
        raise ValueError("models_config (--models_config) is empty; pass a file such as "
                         "export/models.config, or leave the flag out.")
    if gfile.isdir(path):
        raise ValueError(f"models_config {path!r} is a directory; pass a file in it, such as "
                         f"{os.path.join(path.rstrip('/'), 'models.config')!r}.")
    blocker = files.file_in_the_way(path)
    if blocker:
        raise ValueError(f"models_config {path!r}: {blocker!r} is a file, so no folder can be "
                         "made there; pass a path in a folder.")
    if files.isfile(path):  # rewritten in place: only if it is one already
        with gfile.GFile(path, "rb") as f:
            head = f.read(65536)
        if b"model_config_list" not in head:
            raise ValueError(f"models_config {path!r} exists and is not a TF Serving "
                             "model_config_list file, so it is not replaced; pass a new file "
                             "such as export/models.config.")
    return path


def _write_warmup(gan, functions, export_dir, model_name):
    try:
        requests = warmup_lib.example_requests(gan, functions, model_name)
    except ImportError:  # tensorflow-serving-api is a dependency, but may be removed
        warn(f"tensorflow-serving-api is not installed: exported {export_dir} without TF "
             "Serving warmup records (pip install tensorflow-serving-api).")
        return
    warmup_lib.write_warmup_requests(export_dir, requests)


def serving_functions(gan):
    """Signature name -> (function, input signature) for a model's SavedModel.

    Families with extra inputs (labels, codes) or extra signatures define
    `serving_signatures()` with at least `serving_default`; the uint8 and seed
    variants are built around that default function here, for every family.
    """
    if hasattr(gan, "serving_signatures"):
        functions = dict(gan.serving_signatures())
    else:
        generator = gan.inference_generator

        def serving_default(latent):
            return {"images": generator(latent, training=False)}

        latent = tf.TensorSpec([None, gan.latent_dim], tf.float32, name="latent")
        functions = {"serving_default": (serving_default, [latent])}
    default_fn, default_signature = functions["serving_default"]
    functions.setdefault("generate_uint8", _uint8_variant(default_fn, default_signature))
    if default_signature[0].name == "latent":
        functions.setdefault("generate_from_seed",
                             _seed_variant(default_fn, default_signature, gan.latent_dim))
    return functions


def _uint8_variant(fn, signature):
    def generate_uint8(*inputs):
        images = fn(*inputs)["images"]
        # Same mapping as `ganzoo.images.to_uint8`: round, then clip to 0..255.
        pixels = tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0)
        return {"images": tf.cast(pixels, tf.uint8)}

    return generate_uint8, list(signature)


def _seed_variant(fn, signature, latent_dim):
    def generate_from_seed(seed, num_images, *extras):
        # `GAN.sample_latent`'s draw: the same op, seed and algorithm give the same numbers.
        latent = tf.random.stateless_normal(
            tf.stack([num_images, latent_dim]), seed=tf.stack([seed, tf.zeros_like(seed)]),
            alg="philox")
        for spec, extra in zip(signature[1:], extras):
            tf.debugging.assert_equal(
                tf.shape(extra, out_type=tf.int32)[0], num_images,
                message=f"'{spec.name}' must have num_images rows")
        return fn(latent, *extras)

    scalars = [tf.TensorSpec([], tf.int64, name="seed"),
               tf.TensorSpec([], tf.int32, name="num_images")]
    return generate_from_seed, scalars + list(signature[1:])


def _check_limit(value):
    try:
        limit = operator.index(value) if not isinstance(value, bool) else None
    except TypeError:
        limit = None
    if limit is None or not 1 <= limit <= 2**31 - 1:
        raise ValueError(f"max_images_per_request must be an integer in [1, 2^31 - 1], "
                         f"got {value!r}.")
    return limit


def _validated(fn, signature, limit):
    """`validation.validated_serving_fn` for batched inputs, each batch at most `limit`
    rows; scalars are seeds, or `num_images` in [1, limit]."""
    batched = validation.validated_serving_fn(lambda *x: x, [s for s in signature if s.shape.rank])
    limits = (f"this export serves 1 to {limit} images per request (max_images_per_request, "
              "set at export); split a larger request, or export again with a larger "
              "--max_images_per_request")

    def serving_fn(*inputs):
        checked = iter(batched(*[x for s, x in zip(signature, inputs) if s.shape.rank]))
        values = []
        for spec, value in zip(signature, inputs):
            if spec.shape.rank:
                check = tf.debugging.assert_less_equal(
                    tf.shape(value, out_type=tf.int32)[0], limit,
                    message=f"{spec.name} has more than {limit} rows; {limits}")
            elif spec.name == "num_images":
                check = tf.debugging.assert_positive(
                    value, message=f"num_images must be at least 1; {limits}")
                with tf.control_dependencies([check]):
                    check = tf.debugging.assert_less_equal(
                        value, tf.cast(limit, value.dtype),
                        message=f"num_images is more than {limit}; {limits}")
            else:
                values.append(value)
                continue
            value = next(checked) if spec.shape.rank else value
            with tf.control_dependencies([check]):
                values.append(tf.identity(value))
        return fn(*values)

    serving_fn.__name__ = getattr(fn, "__name__", "serving_fn")
    return serving_fn


def write_models_config(path, models_root, base_path=None):
    """Writes a TF Serving `model_config_list` text proto listing every model under a root.

    Args:
        path: str. Output file, e.g. `export/models.config`.
        models_root: str. Directory holding `<name>/<version>/` exports.
        base_path: str. Where the server sees `models_root` (e.g. `/models` in the
            Docker container); defaults to its absolute path here.

    Returns:
        The list of model names written.
    """
    check_models_config(path)
    base_path = base_path or files.abspath(models_root)
    names = sorted(n.rstrip("/") for n in gfile.listdir(models_root)
                   if gfile.isdir(os.path.join(models_root, n)) and not n.startswith("."))
    entries = "".join(
        f'  config {{\n    name: "{n}"\n    base_path: "{base_path.rstrip("/")}/{n}"\n'
        f'    model_platform: "tensorflow"\n  }}\n' for n in names)
    files.atomic_write(path, f"model_config_list {{\n{entries}}}\n")  # makes missing folders
    return names


def define_flags():
    """Defines this command's absl flags; called by `run`, not at import (see `ganzoo.cli`)."""
    flags.DEFINE_string("model_dir", None, "Run directory, .keras file or preset name.")
    flags.DEFINE_string("export_dir", None,
                        "TF Serving version directory, e.g. export/models/dcgan/1.")
    flags.mark_flags_as_required(["model_dir", "export_dir"])
    flags.DEFINE_bool("overwrite", False, "Replace an existing export.")
    flags.DEFINE_string("models_config", None,
                        "Also write a model_config_list for every model next to this one.")
    flags.DEFINE_string("serving_base_path", None,
                        "The models root as the server sees it (e.g. /models).")
    flags.DEFINE_integer("max_images_per_request", DEFAULT_MAX_IMAGES_PER_REQUEST,
                         "Most images (num_images, or batch rows) one request may ask for; "
                         "larger requests are refused.")


def main(argv):
    """`python -m ganzoo.export --model_dir RUN --export_dir export/models/NAME/VERSION`."""
    del argv  # `cli.parse_flags` refuses positional arguments
    try:
        if FLAGS.models_config is not None:  # refused before the export, not after it
            check_models_config(FLAGS.models_config)
        gan = load_gan(FLAGS.model_dir, compile=False)
        path = export_generator(gan, FLAGS.export_dir, overwrite=FLAGS.overwrite,
                                max_images_per_request=FLAGS.max_images_per_request,
                                model_dir=FLAGS.model_dir)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        cli.fail(e)
    print(f"Exported {type(gan).__name__} generator to {path} "
          f"(signatures: {', '.join(serving_functions(gan))}; at most "
          f"{FLAGS.max_images_per_request} images per request)")
    if FLAGS.models_config:
        root = os.path.dirname(os.path.dirname(files.abspath(path).rstrip("/")))
        names = write_models_config(FLAGS.models_config, root, FLAGS.serving_base_path)
        print(f"Wrote {FLAGS.models_config} ({', '.join(names)})")


def run():
    cli.run(main, define_flags)


if __name__ == "__main__":
    run()
