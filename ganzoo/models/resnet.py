"""ResNet generator and critic of WGAN-GP's CIFAR-10 model (architecture `resnet`).

Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017,
https://arxiv.org/abs/1704.00028 (Appendix F; code `gan_cifar_resnet.py`):

- Generator: a linear projection of z to `start x start x width`, one upsampling
  residual block per 2x (batch norm, ReLU, nearest-neighbour upsampling, 3x3
  convolutions; 1x1 convolution on the upsampled shortcut), then batch norm,
  ReLU, a 3x3 convolution and tanh. 32x32: 4 -> 8 -> 16 -> 32 with 128 channels.
- Critic: a first "optimized" downsampling block (no activation before its
  first convolution), further downsampling blocks, two blocks at constant
  resolution, ReLU, global mean pooling and the output heads. No batch norm:
  the gradient penalty is per example. `norm="layer"` normalises every block
  input over (H, W, C) with one scale and offset per channel, like the paper's
  64x64 model; the CIFAR-10 critic uses none.

Sizes come from the image side like the DCGAN builders (`networks.spatial_plan`):
the generator upsamples `ups` times and the critic downsamples `ups - 1` times,
so 32x32 images give the paper's 8x8 critic maps and 16x16 digits give 8x8 too.
"""

import keras

from ganzoo import compat
from ganzoo.config import ConfigError
from ganzoo.models import networks


def resnet_generator(shape, input_dim, width=128, norm="batch", sync_batch_norm=True,
                     name="generator"):
    """WGAN-GP's ResNet generator (Gulrajani et al. 2017, CIFAR-10 model).

    Args:
        shape: tuple. `(H, W, C)` of the images, H == W.
        input_dim: int. Length of the input vector.
        width: int. Channels of every residual block (128 in the paper).
        norm: str. `batch` (paper), `layer` or `none`.
        sync_batch_norm: bool. Global-batch statistics under `tf.distribute`.
        name: str. Model name.

    Returns:
        A `keras.Model` from `[B, input_dim]` to `[B, H, W, C]` in [-1, 1].

    Example:

    >>> g = resnet_generator((32, 32, 3), 128, width=128)
    """
    height, _, channels = networks._image_shape(shape)
    start, ups = networks.spatial_plan(height)
    z = keras.Input((input_dim,), name="latent")
    x = keras.layers.Dense(start * start * width)(z)
    x = keras.layers.Reshape((start, start, width))(x)
    for _ in range(ups):
        x = _residual_block(x, width, norm, "up", sync_batch_norm=sync_batch_norm)
    x = _pre_activation(x, norm, sync_batch_norm)
    x = keras.layers.Conv2D(channels, 3, padding="same")(x)
    images = keras.layers.Activation("tanh", name="images", dtype="float32")(x)
    return keras.Model(z, images, name=name)


def resnet_discriminator(shape, width=128, heads=None, norm="none", spectral_norm=False,
                         name="discriminator"):
    """WGAN-GP's ResNet critic (Gulrajani et al. 2017, CIFAR-10 model).

    Args:
        shape: tuple. `(H, W, C)` of the images, H == W.
        width: int. Channels of every residual block (128 in the paper).
        heads: dict. Output name -> units. Defaults to `{"logits": 1}`.
        norm: str. `none` (paper, CIFAR-10) or `layer`. Batch norm is not
            offered: it breaks the per-example gradient penalty.
        spectral_norm: bool. Wrap every convolution and head in
            `ganzoo.models.spectral_norm.SpectralNormalization` (Miyato et al. 2018).
        name: str. Model name.

    Returns:
        A `keras.Model` from images to `{"features": [B, width], **heads}`.

    Example:

    >>> d = resnet_discriminator((32, 32, 3), width=128)
    """
    if norm not in ("none", "layer", None):
        raise ConfigError(
            f"model.discriminator.norm={norm!r} is not supported by the resnet critic; "
            "use 'none' (WGAN-GP's CIFAR-10 critic) or 'layer'."
        )
    height, _, _ = networks._image_shape(shape)
    _, ups = networks.spatial_plan(height)
    downs = max(ups - 1, 0)
    images = keras.Input(shape, name="images")
    x = _optimized_block(images, width, downs > 0, spectral_norm)
    for _ in range(downs - 1):
        x = _residual_block(x, width, norm, "down", spectral_norm=spectral_norm)
    for _ in range(2):
        x = _residual_block(x, width, norm, None, spectral_norm=spectral_norm)
    x = keras.layers.ReLU()(x)
    features = keras.layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(
        images, networks.output_heads(features, heads, spectral_norm=spectral_norm), name=name
    )


def _residual_block(x, filters, norm, resample, sync_batch_norm=True, spectral_norm=False):
    """Pre-activation block: `shortcut(x) + conv(act(norm(conv(act(norm(x))))))`.

    `resample` is `up` (upsample before the first convolution), `down` (mean-pool
    after the second) or None; the shortcut is a 1x1 convolution whenever the
    resolution or the channel count changes, else the identity.
    """
    shortcut = x
    if resample == "up":
        shortcut = keras.layers.UpSampling2D(2)(shortcut)
    if resample is not None or x.shape[-1] != filters:
        shortcut = _conv(filters, 1, spectral_norm, "glorot_uniform")(shortcut)
    if resample == "down":
        shortcut = keras.layers.AveragePooling2D(2)(shortcut)
    h = _pre_activation(x, norm, sync_batch_norm)
    if resample == "up":
        h = keras.layers.UpSampling2D(2)(h)
    h = _conv(filters, 3, spectral_norm)(h)
    h = _pre_activation(h, norm, sync_batch_norm)
    h = _conv(filters, 3, spectral_norm)(h)
    if resample == "down":
        h = keras.layers.AveragePooling2D(2)(h)
    return keras.layers.Add()([shortcut, h])


def _optimized_block(x, filters, downsample, spectral_norm):
    """The critic's first block: no activation on the raw image (paper's OptimizedResBlockDisc1)."""
    shortcut = x
    if downsample:
        shortcut = keras.layers.AveragePooling2D(2)(shortcut)
    shortcut = _conv(filters, 1, spectral_norm, "glorot_uniform")(shortcut)
    h = _conv(filters, 3, spectral_norm)(x)
    h = keras.layers.ReLU()(h)
    h = _conv(filters, 3, spectral_norm)(h)
    if downsample:
        h = keras.layers.AveragePooling2D(2)(h)
    return keras.layers.Add()([shortcut, h])


def _pre_activation(x, norm, sync_batch_norm):
    layer = _layer_norm() if norm == "layer" else networks.normalization(norm, sync_batch_norm)
    if layer is not None:
        x = layer(x)
    return keras.layers.ReLU()(x)


def _layer_norm():
    # Statistics over (H, W, C) with per-channel scale and offset, as the paper's
    # `Layernorm` on conv maps; keras LayerNormalization(axis=-1) would
    # normalise each pixel's channels alone.
    return compat.ExactGroupNormalization(groups=1, epsilon=1e-5)  # exact 2nd derivatives


def _conv(filters, kernel_size, spectral_norm, initializer="he_uniform"):
    conv = keras.layers.Conv2D(filters, kernel_size, padding="same",
                               kernel_initializer=initializer)
    return networks.maybe_spectral_norm(conv, spectral_norm)


networks.register_architecture("resnet", resnet_generator, resnet_discriminator)
