"""Loading trained GANs and generators from run directories, files, presets and SavedModels.

Paths may be on any TensorFlow file system (`gs://...`, `ram://...`). Preset
names and URLs are resolved by `ganzoo.preset_dirs`, which imports no evaluation.
"""

import os
import zipfile

import keras
import tensorflow as tf

from ganzoo import config as config_lib
from ganzoo import (
    files,
    models,  # noqa: F401  (registers the classes for deserialization)
)
from ganzoo.errors import warn
from ganzoo.preset_dirs import preset_dir
from ganzoo.run_dir import list_checkpoints, load_keras, load_latest


def resolve_model_file(path):
    """The `.keras` file for a run directory (final model, else newest checkpoint) or file."""
    if tf.io.gfile.isdir(path):
        final = os.path.join(path, "model.keras")
        if files.isfile(final):
            return final
        checkpoints = list_checkpoints(os.path.join(path, "checkpoints"))
        if checkpoints:
            return checkpoints[-1]
        _refuse_saved_model(path)
        raise FileNotFoundError(
            f"{path!r} has no model.keras and no checkpoints/ckpt-*.keras: is it a ganzoo "
            "run directory? Train one with `python -m ganzoo.train --model_dir=...`."
        )
    if path.endswith(".keras") and files.isfile(path):
        return path
    if files.isfile(path):
        raise ValueError(f"{path!r} is a file, not a run directory or .keras file; pass "
                         f"{_run_dir_hint(path)}.")
    raise FileNotFoundError(f"No ganzoo run directory or .keras file at {path!r}.")


def check_keras_archive(path, fix=None):
    """Raises `ValueError` unless `path` is a zip archive, as every `.keras` file is.

    Keras reports a truncated or corrupt file as "File not found"; this names it.
    The file is opened through `tf.io.gfile`, so `gs://` and `ram://` paths work.

    Args:
        path: str. The `.keras` file.
        fix: str or None. What to do about it, for the message; None suggests
            copying it again (or, for a file inside a run, loading the run).
    """
    error = _archive_error(path, fix)
    if error is not None:
        raise error


def _archive_error(path, fix=None):
    """The `ValueError` for `path` if it is not a zip archive, else None."""
    with files.gfile.GFile(path, "rb") as f:
        if zipfile.is_zipfile(f):
            return None
        size = f.size()
    if fix is None:
        run = _run_dir_of(path)
        fix = ("copy it again from its source (an interrupted copy or download truncates it)"
               if run is None else f"pass the run directory {run!r} instead to load its "
               "newest good checkpoint, or copy the file again from its source")
    return ValueError(f"{path!r} is not a valid .keras archive (truncated or corrupt, "
                      f"{size:,} bytes); {fix}.")


def _load_model(path, compile):
    """Loads the `.keras` file of a run directory or file.

    A run directory whose `model.keras` is corrupt falls back, as resuming training
    does, to its newest checkpoint that loads (`ganzoo.run_dir.load_latest`; that
    one is compiled, whatever `compile` says).
    """
    model_file = resolve_model_file(path)
    error = _archive_error(model_file)
    if error is None:
        return load_keras(model_file, compile=compile)
    if not tf.io.gfile.isdir(path):
        raise error
    model, checkpoint = _newest_good_checkpoint(path, model_file)
    if model is None:
        raise _archive_error(model_file, fix=(
            "the run has no checkpoint that loads (checkpoints/ckpt-*.keras) to fall back "
            "to; restore the file from a copy, or train the run again in a new --model_dir"))
    step = getattr(getattr(model, "g_optimizer", None), "iterations", None)
    warn(f"{model_file} is not a valid .keras archive (truncated or corrupt); loaded the "
         f"newest good checkpoint {checkpoint} instead (step "
         f"{'?' if step is None else int(step.numpy())}).")
    return model


def _newest_good_checkpoint(path, corrupt_file):
    """`(model, file)` of a run directory's newest checkpoint that loads, or `(None, None)`."""
    candidates = [p for p in list_checkpoints(os.path.join(path, "checkpoints"))
                  if p != corrupt_file]
    checkpoints = [p for p in candidates if _archive_error(p) is None]
    try:
        model, checkpoint, _ = load_latest(checkpoints)
    except RuntimeError:  # every one failed to load
        return None, None
    if model is None:  # none left to try
        return None, None
    # `load_latest` warned about the ones that failed to load; these are not archives at all.
    newer = [p for p in candidates[candidates.index(checkpoint) + 1:] if p not in checkpoints]
    if newer:
        warn(f"checkpoint(s) {', '.join(newer)} are unreadable (truncated or corrupt); "
             f"skipped them.")
    return model, checkpoint


def _refuse_saved_model(path):
    """Raises ValueError if `path` is an exported SavedModel, naming the run it came from."""
    if not files.isfile(os.path.join(path, "saved_model.pb")):
        return
    run = _run_dir_of(path)  # RUN/saved_model/<version>
    where = f"its run directory {run!r}" if run else "the run directory it was exported from"
    raise ValueError(f"{path!r} is an exported SavedModel (a generator for TF Serving), not a "
                     f"ganzoo run: pass {where}, or load the generator alone with "
                     "ganzoo.load_generator.")


def _run_dir_of(path):
    """The run directory holding file `path` (directly or in `checkpoints/`), or None."""
    parent = os.path.dirname(files.abspath(path).rstrip("/"))
    for directory in (parent, os.path.dirname(parent)):
        if directory and files.isfile(os.path.join(directory, "config.yaml")):
            return directory
    return None


def _run_dir_hint(path):
    run = _run_dir_of(path)
    return ("a ganzoo run directory (the one holding config.yaml and model.keras)"
            if run is None else f"its run directory {run!r}")


def load_gan(path, compile=True):
    """Loads a whole GAN (G, D and both optimizers) from a run directory, `.keras`
    file or preset.

    Args:
        path: str. A run directory, a `.keras` file, or a preset name or URL
            (`ganzoo.list_presets()`; its checksum is verified).
        compile: bool. Restore the optimizers so `fit` continues where training stopped.

    Returns:
        The `ganzoo.models.GAN` subclass instance. A run whose `model.keras` is
        truncated or corrupt gives its newest checkpoint that loads (with a warning).

    Raises:
        ValueError: the `.keras` file is not a valid archive (and, for a run, no
            checkpoint loads), or `path` is some other file.

    Example:

    >>> gan = ganzoo.load_gan("runs/dcgan_digits")
    >>> gan.fit(more_data, epochs=1, steps_per_epoch=100)
    """
    return _load_model(preset_dir(path), compile)


def from_preset(name_or_path, compile=True):
    """Loads a pretrained GAN: a preset name, a preset or run directory, or a URL.

    Args:
        name_or_path: str. `ganzoo.list_presets()` names, a registered name, a
            directory (preset or run) or `.keras` file, or a preset URL.
        compile: bool. Restore both optimizers (with their state) for `fit`.

    Returns:
        The compiled ganzoo `GAN` (G, D, optimizers): `gan.generate(16, seed=0)`
        samples, `gan.fit(data)` fine-tunes (see `ganzoo.finetune.prepare`).

    Example:

    >>> gan = ganzoo.from_preset("dcgan_digits")
    >>> images = gan.generate(16, seed=0)  # float32 [16, 16, 16, 1] in [-1, 1]
    """
    return load_gan(preset_dir(name_or_path), compile=compile)


def load_generator(path):
    """Loads a generator as a `keras.Model` mapping `latent` to images in [-1, 1].

    Args:
        path: str. A run directory, a `.keras` file (a GAN or a bare generator), a
            preset name or URL (`ganzoo.list_presets()`), or a SavedModel
            directory exported by `ganzoo.export` (wrapped with
            `keras.layers.TFSMLayer`; inference only).

    Returns:
        A `keras.Model`.

    Example:

    >>> generator = ganzoo.load_generator("runs/dcgan_digits")
    >>> images = generator(np.random.normal(size=(16, 100)).astype("float32"))
    """
    path = preset_dir(path)
    if files.isfile(os.path.join(path, "saved_model.pb")):
        return _saved_model_generator(path)
    model = _load_model(path, compile=False)
    return getattr(model, "inference_generator", model)


def _saved_model_generator(path):
    signature = tf.saved_model.load(path).signatures["serving_default"]
    spec = signature.structured_input_signature[1]["latent"]
    layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
    latent = keras.Input(spec.shape[1:], name="latent")
    outputs = layer(latent)
    return keras.Model(latent, outputs["images"], name="saved_model_generator")


def load_run_config(model_dir):
    """The resolved `ExperimentConfig` saved in a run directory's `config.yaml`."""
    if files.isfile(model_dir):
        raise ValueError(f"{model_dir!r} is a file, not a run directory; pass "
                         f"{_run_dir_hint(model_dir)}.")
    values = run_config_values(model_dir)
    if values is None:
        _refuse_saved_model(model_dir)
        if not files.exists(model_dir):
            raise FileNotFoundError(f"No ganzoo run at {model_dir!r}: nothing exists there (a "
                                    "run directory holds config.yaml and model.keras).")
        raise FileNotFoundError(
            f"{model_dir!r} has no config.yaml: is it a ganzoo run directory? "
            "Train one with `python -m ganzoo.train --model_dir=...`."
        )
    return config_lib.from_dict(values)


def run_config_values(model_dir):
    """The dict in a run or preset directory's `config.yaml`; None if it has none.

    Raises:
        ConfigError: the file is not a YAML mapping.
    """
    path = os.path.join(model_dir, "config.yaml")
    return config_lib.load_yaml(path) if files.isfile(path) else None
