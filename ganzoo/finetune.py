"""Fine-tuning a trained GAN on new data: FreezeD and a lower learning rate.

FreezeD (Mo, Cho & Shin 2020, "Freeze the Discriminator: a Simple Baseline for
Fine-Tuning GANs"): keep the first discriminator blocks (its low-level feature
extractor) fixed and fine-tune the rest of D and all of G.
"""

import keras

from ganzoo import precision
from ganzoo.config import ConfigError
from ganzoo.loading import load_gan, run_config_values
from ganzoo.preset_dirs import preset_dir

_CONV = (keras.layers.Conv2D, keras.layers.Dense)
_NORM = (keras.layers.BatchNormalization, keras.layers.LayerNormalization,
         keras.layers.GroupNormalization)


def discriminator_blocks(discriminator):
    """D's blocks in order: each conv (or dense) layer, or the wrapper around one
    (spectral norm), plus the norm layers after it."""
    blocks = []
    for layer in _flat_layers(discriminator):
        inner = layer.layer if isinstance(layer, keras.layers.Wrapper) else layer
        if isinstance(inner, _CONV):
            blocks.append([layer])
        elif isinstance(layer, _NORM) and blocks:
            blocks[-1].append(layer)
    return blocks


def _flat_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flat_layers(layer)
        else:
            yield layer


def prepare(gan, freeze_d_blocks=0, learning_rate_scale=1.0):
    """Freezes D's first blocks and recompiles with fresh, scaled optimizers.

    The optimizers are rebuilt for the new trainable-variable lists (the D step
    applies gradients to `discriminator.trainable_variables` only), so frozen
    weights stay bit-identical during `fit`.

    Args:
        gan: a ganzoo `GAN`, e.g. from `ganzoo.load_gan(run_dir)`.
        freeze_d_blocks: int. How many leading D blocks (conv + its norm) to freeze.
        learning_rate_scale: float. Multiplies both optimizers' learning rates.

    Returns:
        `gan`, compiled for fine-tuning.

    Example:

    >>> gan = ganzoo.finetune.prepare(ganzoo.load_gan("runs/dcgan_digits"),
    ...                               freeze_d_blocks=2, learning_rate_scale=0.5)
    >>> gan.fit(new_data, epochs=1, steps_per_epoch=300)
    """
    blocks = discriminator_blocks(gan.discriminator)
    if not 0 <= freeze_d_blocks <= len(blocks):
        raise ValueError(f"freeze_d_blocks must be in [0, {len(blocks)}] (D has "
                         f"{len(blocks)} blocks); got {freeze_d_blocks}.")
    for block in blocks[:freeze_d_blocks]:
        for layer in block:
            layer.trainable = False
    optimizers = []
    for name in ("d_optimizer", "g_optimizer"):
        # The plain optimizer: compile wraps it again for float16 networks.
        old = precision.inner_optimizer(getattr(gan, name, None))
        config = (old.get_config() if old is not None
                  else keras.optimizers.Adam(2e-4, beta_1=0.5).get_config())
        if isinstance(config["learning_rate"], (int, float)):
            config["learning_rate"] = float(config["learning_rate"]) * learning_rate_scale
        cls = type(old) if old is not None else keras.optimizers.Adam
        optimizers.append(cls.from_config(config))
    gan.compile(d_optimizer=optimizers[0], g_optimizer=optimizers[1],
                loss=getattr(gan, "loss_name", "non_saturating"),
                label_smoothing=getattr(gan, "label_smoothing", 0.0),
                jit_compile=bool(getattr(gan, "jit_compile", False)))
    return gan


def source_config(init_from):
    """The resolved config dict of a preset or run directory (None for a `.keras` file)."""
    return run_config_values(preset_dir(init_from))


def initialize_from(gan, init_from):
    """Copies G's and D's weights from a preset, run directory or `.keras` file.

    The source is only read. Both models must be the same family with the same
    weight shapes; otherwise a `ConfigError` says what differs.

    Args:
        gan: a freshly built ganzoo `GAN` (the new run's model).
        init_from: str. A preset name or URL, a run directory or a `.keras` file.

    Returns:
        The source's training step (for the record); None for a source saved
        without its optimizer.
    """
    source = load_gan(init_from)  # compiled: its optimizer knows its step
    if type(source) is not type(gan):
        raise ConfigError(
            f"--init_from={init_from} holds a {type(source).__name__} model, but this run "
            f"builds a {type(gan).__name__}. Use the same model family (leave out --model and "
            "--config to take the source's own config).")
    for part in ("generator", "discriminator"):
        new, old = getattr(gan, part), getattr(source, part)
        diffs = [f"{w.path}: {tuple(v.shape)} -> {tuple(w.shape)}"
                 for v, w in zip(old.weights, new.weights) if tuple(v.shape) != tuple(w.shape)]
        if len(old.weights) != len(new.weights):
            diffs.insert(0, f"{len(old.weights)} -> {len(new.weights)} weights")
        if diffs:
            raise ConfigError(
                f"--init_from={init_from}: the {part} shapes differ from this run's config "
                f"({'; '.join(diffs[:3])}{' ...' if len(diffs) > 3 else ''}). Keep the "
                "source's model.* and data.image_size settings (leave out --model/--config "
                "to take the source's config).")
    for part in ("generator", "discriminator"):
        getattr(gan, part).set_weights(getattr(source, part).get_weights())
    optimizer = getattr(source, "g_optimizer", None)
    return int(optimizer.iterations.numpy()) if optimizer is not None else None
