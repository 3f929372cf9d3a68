"""Generator and discriminator builders, chosen by architecture name.

Every discriminator builder returns a functional model whose output is a dict:
`"features"` (the flattened last hidden layer, used by feature matching and
auxiliary heads) plus one entry per requested head (`{"logits": 1}` by default).
Every generator builder maps a `[B, input_dim]` vector to one example.
"""

import dataclasses

import keras

from ganzoo import compat
from ganzoo.config import ConfigError
from ganzoo.layers import MinibatchDiscrimination
from ganzoo.models.spectral_norm import SpectralNormalization

_ARCHITECTURES = {}

# Builder arguments whose value is a mapping of another callable's arguments:
# name -> (callable, example). `building.check_builder_keys` checks the mapping
# against the callable's signature (missing, unknown and mistyped sub-keys; the
# example's values give the types of required sub-keys, and its counts stay >= 1)
# before anything is built. A builder that takes such a mapping names it here.
NESTED_ARGUMENTS = {
    "minibatch_discrimination": (MinibatchDiscrimination, {"num_kernels": 5, "kernel_dim": 3}),
}


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A pair of builders: `generator(shape, input_dim, width, **kw)` and
    `discriminator(shape, width, heads, **kw)`."""

    generator: callable
    discriminator: callable


def register_architecture(name, generator, discriminator):
    """Registers a builder pair under `name`; a duplicate name raises."""
    if name in _ARCHITECTURES:
        raise ValueError(f"Architecture {name!r} is already registered.")
    _ARCHITECTURES[name] = Architecture(generator, discriminator)


def get_architecture(name):
    if name not in _ARCHITECTURES:
        raise ConfigError(
            f"Unknown model.architecture {name!r}; known: {', '.join(sorted(_ARCHITECTURES))}."
        )
    return _ARCHITECTURES[name]


def dcgan_init():
    """DCGAN's initialisation: every weight from N(0, 0.02) (Radford et al. 2015)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def normalization(norm, sync_batch_norm=True, name=None):
    """A normalisation layer by name: `batch`, `layer` or `none` (returns None).

    `sync_batch_norm` uses the global batch's statistics under `tf.distribute`,
    so N replicas train exactly like one device (documented in the README).
    """
    if norm == "batch":
        return compat.FusedBatchNormalization(
            momentum=0.9, epsilon=1e-5, synchronized=sync_batch_norm, name=name
        )
    if norm == "layer":
        # Exact second derivatives: WGAN-GP differentiates through it twice.
        return compat.ExactLayerNormalization(epsilon=1e-5, name=name)
    if norm in ("none", None):
        return None
    hint = (" ('vbn' and 'reference_bn' belong to the mlp generator: --set "
            "model.architecture=mlp, as --model=vanilla has)"
            if norm in ("vbn", "reference_bn") else "")
    raise ConfigError(f"Unknown normalization {norm!r}; use 'batch', 'layer' or 'none'{hint}.")


def spatial_plan(size):
    """(start size, number of 2x up-samplings) for a square image side.

    Halves while the side is even and above 7: 16 -> 4 (x2 twice), 28 -> 7,
    32 -> 4, 64 -> 4.
    """
    start, ups = size, 0
    while start % 2 == 0 and start > 7:
        start //= 2
        ups += 1
    if ups == 0:
        raise ConfigError(
            f"Image size {size} cannot be built by 2x up-sampling; use 16, 28, 32 or 64 "
            "(set data.image_size)."
        )
    return start, ups


def dcgan_generator(shape, input_dim, width=64, norm="batch", sync_batch_norm=True,
                    name="generator"):
    """DCGAN generator (Radford et al. 2015, fig. 1).

    Projects z to a `start x start x (width * 2^(n-1))` map, then n-1
    fractionally-strided convolutions halving the channels, batch norm and ReLU,
    and a last transposed convolution to the image with tanh.

    Args:
        shape: tuple. `(H, W, C)` of the images, H == W.
        input_dim: int. Length of the input vector.
        width: int. Channels of the last hidden layer (64 in the paper's 64px
            LSUN model has 128). Defaults to 64.
        norm: str. `batch` (paper) or `none`.
        sync_batch_norm: bool. Global-batch statistics under `tf.distribute`.
        name: str. Model name.

    Returns:
        A `keras.Model` from `[B, input_dim]` to `[B, H, W, C]` in [-1, 1].
    """
    height, _, channels = _image_shape(shape)
    start, ups = spatial_plan(height)
    init = dcgan_init()
    z = keras.Input((input_dim,), name="latent")
    x = keras.layers.Dense(
        start * start * width * 2 ** (ups - 1), use_bias=norm in ("none", None),
        kernel_initializer=init,
    )(z)
    x = keras.layers.Reshape((start, start, width * 2 ** (ups - 1)))(x)
    x = _norm_act(x, norm, sync_batch_norm, keras.layers.ReLU())
    for i in range(ups - 1, 0, -1):
        x = keras.layers.Conv2DTranspose(
            width * 2 ** (i - 1), 4, strides=2, padding="same",
            use_bias=norm in ("none", None), kernel_initializer=init,
        )(x)
        x = _norm_act(x, norm, sync_batch_norm, keras.layers.ReLU())
    x = keras.layers.Conv2DTranspose(
        channels, 4, strides=2, padding="same", kernel_initializer=init
    )(x)
    images = keras.layers.Activation("tanh", name="images", dtype="float32")(x)
    return keras.Model(z, images, name=name)


def dcgan_discriminator(shape, width=64, heads=None, norm="batch", sync_batch_norm=True,
                        dropout=0.0, spectral_norm=False, minibatch_discrimination=None,
                        name="discriminator"):
    """DCGAN discriminator (Radford et al. 2015).

    Strided convolutions doubling the channels, LeakyReLU(0.2), batch norm on
    every layer but the first, no pooling and no hidden fully-connected layer:
    the last feature map is flattened into the output heads.

    Args:
        shape: tuple. `(H, W, C)` of the images.
        width: int. Channels of the first convolution. Defaults to 64.
        heads: dict. Output name -> units. Defaults to `{"logits": 1}`.
        norm: str. `batch` (paper), `layer` (for gradient penalties) or `none`.
        sync_batch_norm: bool. Global-batch statistics under `tf.distribute`.
        dropout: float. Dropout rate after each block (0 in the paper).
        spectral_norm: bool. Wrap every Conv2D/Dense in
            `ganzoo.models.spectral_norm.SpectralNormalization` (Miyato et al. 2018).
        minibatch_discrimination: dict or None. See `output_heads`.
        name: str. Model name.

    Returns:
        A `keras.Model` from images to `{"features", **heads}`.
    """
    height, _, _ = _image_shape(shape)
    _, ups = spatial_plan(height)
    init = dcgan_init()
    images = keras.Input(shape, name="images")
    x = images
    for i in range(ups):
        x = maybe_spectral_norm(keras.layers.Conv2D(
            width * 2**i, 4, strides=2, padding="same", kernel_initializer=init,
            use_bias=i == 0 or norm in ("none", None),
        ), spectral_norm)(x)
        x = _norm_act(x, norm if i > 0 else "none", sync_batch_norm,
                      keras.layers.LeakyReLU(0.2))
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    features = keras.layers.Flatten(name="features")(x)
    return keras.Model(
        images, output_heads(features, heads, init, spectral_norm=spectral_norm,
                             minibatch_discrimination=minibatch_discrimination), name=name
    )


def output_heads(features, heads=None, initializer="glorot_uniform", spectral_norm=False,
                 minibatch_discrimination=None):
    """Dense heads on a feature vector: `{"features": features, name: Dense(units)}`.

    `minibatch_discrimination` (a dict of `ganzoo.layers.MinibatchDiscrimination`
    arguments, e.g. `{"num_kernels": 50, "kernel_dim": 5}`; Salimans et al. 2016,
    sec. 3.2) appends minibatch-similarity features before the heads, so any
    discriminator builder that ends in `output_heads` offers the switch
    (`model.discriminator.minibatch_discrimination`). `"features"` stays the
    per-example vector, for feature matching.
    """
    heads = heads or {"logits": 1}
    outputs = {"features": features}
    if minibatch_discrimination:
        features = MinibatchDiscrimination(
            **minibatch_discrimination, name="minibatch_discrimination")(features)
    for head, units in heads.items():
        outputs[head] = maybe_spectral_norm(keras.layers.Dense(
            units, kernel_initializer=initializer, name=head, dtype="float32"
        ), spectral_norm, name=f"{head}_spectral_norm", dtype="float32")(features)
    return outputs


def maybe_spectral_norm(layer, enabled, **kwargs):
    """`layer` wrapped in `ganzoo.models.spectral_norm.SpectralNormalization` if
    `enabled`, else `layer`.

    The layer then computes with its kernel divided by the kernel's largest
    singular value, estimated by one power iteration per training call, with
    the gradient through the division (Miyato et al. 2018,
    https://arxiv.org/abs/1802.05957); `kwargs` go to the wrapper.
    """
    return SpectralNormalization(layer, **kwargs) if enabled else layer


def _norm_act(x, norm, sync_batch_norm, activation):
    layer = normalization(norm, sync_batch_norm)
    if layer is not None:
        x = layer(x)
    return activation(x)


def _image_shape(shape):
    if len(shape) != 3 or shape[0] != shape[1]:
        raise ConfigError(
            f"This architecture needs square images (H, W, C); the data has shape {shape}. "
            "Set data.image_size to resize, or use model.architecture=mlp for vectors."
        )
    return shape


register_architecture("dcgan", dcgan_generator, dcgan_discriminator)
