"""Networks of Salimans et al. 2016's semi-supervised experiments (`ssgan_mlp`, `ssgan_conv`).

"Improved Techniques for Training GANs", https://arxiv.org/abs/1606.03498, and
the authors' code (openai/improved-gan, mnist_svhn_cifar10): for MNIST an MLP
discriminator with Gaussian noise on the inputs (std 0.3) and after every hidden
layer (std 0.5); for CIFAR-10/SVHN a convolutional one with dropout (0.2 on
the input, 0.5 after each stage). The authors also weight-normalise every layer
(with data-dependent initialisation); Keras has no such layer and these
networks train without it.

The noise and dropout are drawn by `StatelessNoise`: like the base class's
latent noise, each replica takes its slice of one global draw, so training on
N replicas matches one device exactly (Keras' own `GaussianNoise`/`Dropout`
draw independently per replica).
"""

import keras

from ganzoo.layers import StatelessNoise
from ganzoo.models import networks
from ganzoo.models.mlp import mlp_generator


def _scaled(units, width):
    # width 64 is the paper's size; other widths scale every layer.
    return [max(1, round(u * width / 64)) for u in units]


def paper_mlp_generator(shape, input_dim, width=64, units=(500, 500), sync_batch_norm=True,
                        name="generator"):
    """The paper's MNIST generator: `mlp.mlp_generator` with two batch-normalised softplus layers.

    Args:
        shape: tuple. Shape of one example.
        input_dim: int. Length of z.
        width: int. 64 gives the paper's 500 units; other values scale them.
        units: tuple of int. Hidden sizes at width 64.
        sync_batch_norm: bool. Global-batch statistics under `tf.distribute`.
        name: str. Model name.

    Returns:
        A `keras.Model` from `[B, input_dim]` to `[B, *shape]` in [-1, 1].
    """
    return mlp_generator(shape, input_dim, units=_scaled(units, width), norm="batch",
                         activation="softplus", output_activation="tanh",
                         sync_batch_norm=sync_batch_norm, name=name)


def mlp_discriminator(shape, width=64, heads=None, units=(1000, 500, 250, 250, 250),
                      input_noise=0.3, hidden_noise=0.5, name="discriminator"):
    """The paper's MNIST discriminator: five ReLU layers with Gaussian noise.

    Outputs `"features"` (the last hidden layer before its noise: the authors'
    feature-matching layer), `"hidden_i"` for every hidden layer, and the heads,
    computed from the noisy last layer.

    Args:
        shape: tuple. Shape of one example.
        width: int. 64 gives the paper's units; other values scale them.
        heads: dict. Output name -> units.
        units: tuple of int. Hidden sizes at width 64.
        input_noise: float. Std of the input noise (0.3 in the paper).
        hidden_noise: float. Std of the noise after each hidden layer (0.5).
        name: str. Model name.

    Returns:
        A `keras.Model` from examples to `{"features", "hidden_i", **heads}`.
    """
    images = keras.Input(shape, name="images")
    x = StatelessNoise("gaussian", input_noise, seed=0)(keras.layers.Flatten()(images))
    outputs = {}
    for i, u in enumerate(_scaled(units, width), start=1):
        h = keras.layers.Dense(u, activation="relu", name=f"hidden_{i}")(x)
        outputs[f"hidden_{i}"] = h
        x = StatelessNoise("gaussian", hidden_noise, seed=i)(h)
    outputs["features"] = h
    for head, n in (heads or {"logits": 1}).items():
        outputs[head] = keras.layers.Dense(n, name=head, dtype="float32")(x)
    return keras.Model(images, outputs, name=name)


def conv_discriminator(shape, width=64, heads=None, input_dropout=0.2, dropout=0.5,
                       name="discriminator"):
    """The paper's CIFAR-10/SVHN discriminator (without weight normalisation).

    Dropout on the input, two stages of three 3x3 LeakyReLU(0.2) convolutions
    (the last one strided) each followed by dropout, a 3x3 and two 1x1
    convolutions, and global average pooling into `"features"`. The paper's
    widths are 96/192 (`width=96`).

    Args:
        shape: tuple. `(H, W, C)`.
        width: int. Channels of the first stage; the second has twice as many.
        heads: dict. Output name -> units.
        input_dropout: float. Dropout rate on the input (0.2 in the paper).
        dropout: float. Dropout rate after each stage (0.5 in the paper).
        name: str. Model name.

    Returns:
        A `keras.Model` from images to `{"features", "stage_1", "stage_2", **heads}`.
    """
    images = keras.Input(shape, name="images")
    x = StatelessNoise("dropout", input_dropout, seed=0)(images)
    outputs = {}

    def conv(x, channels, kernel=3, strides=1, padding="same"):
        x = keras.layers.Conv2D(channels, kernel, strides=strides, padding=padding)(x)
        return keras.layers.LeakyReLU(0.2)(x)

    for stage, channels in enumerate((width, 2 * width), start=1):
        x = conv(x, channels, strides=1)
        x = conv(conv(x, channels), channels, strides=2)
        outputs[f"stage_{stage}"] = keras.layers.GlobalAveragePooling2D()(x)
        x = StatelessNoise("dropout", dropout, seed=stage)(x)
    # The paper's last 3x3 is unpadded (6x6 -> 4x4 at 32px); tiny maps keep "same".
    x = conv(x, 2 * width, padding="valid" if x.shape[1] >= 3 else "same")
    x = conv(conv(x, 2 * width, kernel=1), 2 * width, kernel=1)
    outputs["features"] = keras.layers.GlobalAveragePooling2D(name="features")(x)
    for head, n in (heads or {"logits": 1}).items():
        outputs[head] = keras.layers.Dense(n, name=head, dtype="float32")(outputs["features"])
    return keras.Model(images, outputs, name=name)


networks.register_architecture("ssgan_mlp", paper_mlp_generator, mlp_discriminator)
# The paper's CIFAR-10 generator is DCGAN's.
networks.register_architecture("ssgan_conv", networks.dcgan_generator, conv_discriminator)
