"""Loading trained GANs and generators from run directories, files, presets and SavedModels.

Paths may be on any TensorFlow file system (`gs://...`, `ram://...`). Preset
names and URLs are resolved by `ganzoo.preset_dirs`, which imports no evaluation.
"""

import os

import keras
import tensorflow as tf

from ganzoo import config as config_lib
from ganzoo import (
    files,
    models,  # noqa: F401  (registers the classes for deserialization)
)
from ganzoo.preset_dirs import preset_dir
from ganzoo.run_dir import list_checkpoints


def resolve_model_file(path):
    """The `.keras` file for a run directory (final model, else newest checkpoint) or file."""
    if tf.io.gfile.isdir(path):
        final = os.path.join(path, "model.keras")
        if files.isfile(final):
            return final
        checkpoints = list_checkpoints(os.path.join(path, "checkpoints"))
        if checkpoints:
            return checkpoints[-1]
        raise FileNotFoundError(
            f"{path!r} has no model.keras and no checkpoints/ckpt-*.keras: is it a ganzoo "
            "run directory? Train one with `python -m ganzoo.train --model_dir=...`."
        )
    if path.endswith(".keras") and files.isfile(path):
        return path
    raise FileNotFoundError(f"No ganzoo run directory or .keras file at {path!r}.")


def load_gan(path, compile=True):
    """Loads a whole GAN (G, D and both optimizers) from a run directory, `.keras`
    file or preset.

    Args:
        path: str. A run directory, a `.keras` file, or a preset name or URL
            (`ganzoo.list_presets()`; its checksum is verified).
        compile: bool. Restore the optimizers so `fit` continues where training stopped.

    Returns:
        The `ganzoo.models.GAN` subclass instance.

    Example:

    >>> gan = ganzoo.load_gan("runs/dcgan_digits")
    >>> gan.fit(more_data, epochs=1, steps_per_epoch=100)
    """
    return keras.models.load_model(resolve_model_file(preset_dir(path)), compile=compile)


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
    model = keras.models.load_model(resolve_model_file(path), compile=False)
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
    values = run_config_values(model_dir)
    if values is None:
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
