"""Fully-connected generator and discriminator (architecture `mlp`).

The networks of Goodfellow et al. 2014, "Generative Adversarial Nets",
https://arxiv.org/abs/1406.2661: "The generator nets used a mixture of rectifier
linear activations and sigmoid activations, while the discriminator net used
maxout activations. Dropout was applied in training the discriminator net."
The authors' MNIST model (`mnist.yaml` in goodfeli/adversarial): G 100 -> 1200
ReLU -> 1200 ReLU -> 784 sigmoid; D two maxout layers of 240 units x 5 pieces,
dropout with keep probability 0.8 on the input and 0.5 on the hidden layers.

Here G ends in `tanh` for images (data in [-1, 1]; tanh(x) = 2 sigmoid(2x) - 1
is the paper's sigmoid rescaled to that range) and in a linear layer for vectors
(the 2-D mixtures of `ganzoo.data.toy`). The same builders serve the
mode-collapse benchmark, so G may also use batch, virtual-batch or
reference-batch normalisation (Salimans et al. 2016, sec. 3.4) and D accepts
`minibatch_discrimination` (sec. 3.2) through `networks.output_heads`.
"""

import math

import keras
from keras import ops

from ganzoo.config import ConfigError
from ganzoo.layers import (
    ReferenceBatchNormalization,
    ReferenceBatchWrapper,
    StatelessNoise,
    VirtualBatchNormalization,
)
from ganzoo.models import networks

_REFERENCE_NORMS = {"vbn": VirtualBatchNormalization, "reference_bn": ReferenceBatchNormalization}


@keras.saving.register_keras_serializable(package="ganzoo")
class Maxout(keras.layers.Layer):
    """Maxout units (Goodfellow et al. 2013): the max over `pieces` linear pieces.

    Args:
        pieces: int. Linear pieces per unit (5 in the GAN paper's MNIST model).

    Input shape: `[N, units * pieces]` (a Dense layer's output, unit-major).
    Output shape: `[N, units]`.
    """

    def __init__(self, pieces, **kwargs):
        super().__init__(**kwargs)
        self.pieces = int(pieces)

    def call(self, inputs):
        units = inputs.shape[-1] // self.pieces
        return ops.max(ops.reshape(inputs, (-1, units, self.pieces)), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] // self.pieces)

    def get_config(self):
        return {**super().get_config(), "pieces": self.pieces}


def mlp_generator(shape, input_dim, width=128, hidden_layers=2, units=None, norm="none",
                  activation="relu", output_activation="auto", reference_size=64,
                  reference_seed=0, sync_batch_norm=True, name="generator"):
    """Fully-connected generator (Goodfellow et al. 2014).

    Args:
        shape: tuple. Shape of one example: `(H, W, C)` images or `(D,)` vectors.
        input_dim: int. Length of the input vector (z).
        width: int. Units of each hidden layer. Defaults to 128.
        hidden_layers: int. Number of hidden layers. Defaults to 2 (the paper).
        units: list of int or None. Per-layer sizes; overrides `width` and
            `hidden_layers` (the paper's MNIST G is `[1200, 1200]`).
        norm: str. `none` (paper), `batch`, `layer`, `vbn` (virtual batch norm)
            or `reference_bn` (reference batch norm). The last two wrap the
            network in `ReferenceBatchWrapper`, which stores the fixed reference
            noise batch as a weight, so `generate()` and export need nothing else.
        activation: str. Hidden activation. Defaults to "relu" (the paper).
        output_activation: str. "auto" is tanh for images, linear for vectors.
        reference_size: int. Rows of the VBN / reference-BN reference batch.
        reference_seed: int. Seed of the reference noise batch.
        sync_batch_norm: bool. Global-batch statistics under `tf.distribute`.
        name: str. Model name.

    Returns:
        A `keras.Model` from `[B, input_dim]` to `[B, *shape]`.

    Example:

    >>> g = mlp_generator((2,), 8, width=100, hidden_layers=1, norm="vbn")
    >>> g(keras.random.normal((4, 8))).shape
    TensorShape([4, 2])
    """
    sizes = [int(u) for u in units] if units else [int(width)] * int(hidden_layers)
    if output_activation == "auto":
        output_activation = "tanh" if len(shape) == 3 else "linear"
    z = keras.Input((input_dim,), name="latent")
    x = z
    for i, size in enumerate(sizes, start=1):
        x = keras.layers.Dense(size, use_bias=norm in ("none", None), name=f"hidden_{i}")(x)
        layer = _normalization(norm, reference_size, sync_batch_norm, name=f"norm_{i}")
        if layer is not None:
            x = layer(x)
        x = keras.layers.Activation(activation, name=f"act_{i}")(x)
    x = keras.layers.Dense(math.prod(shape), activation=output_activation, dtype="float32",
                           name="output")(x)
    if norm in _REFERENCE_NORMS:
        body = keras.Model(z, x, name=f"{name}_body")
        z = keras.Input((input_dim,), name="latent")
        x = ReferenceBatchWrapper(body, reference_size, seed=reference_seed,
                                  name="reference_batch")(z)
    if len(shape) != 1:
        x = keras.layers.Reshape(shape, name="images", dtype="float32")(x)
    return keras.Model(z, x, name=name)


def mlp_discriminator(shape, width=128, heads=None, hidden_layers=2, units=None,
                      activation="maxout", maxout_pieces=5, dropout=0.5, input_dropout=0.2,
                      minibatch_discrimination=None, name="discriminator"):
    """Fully-connected discriminator with maxout units and dropout (Goodfellow et al. 2014).

    Args:
        shape: tuple. Shape of one example (flattened first).
        width: int. Units of each hidden layer (maxout units: each has
            `maxout_pieces` linear pieces). Defaults to 128.
        heads: dict. Output name -> units. Defaults to `{"logits": 1}`.
        hidden_layers: int. Number of hidden layers. Defaults to 2 (the paper).
        units: list of int or None. Per-layer sizes; overrides `width` and
            `hidden_layers` (the paper's MNIST D is `[240, 240]`).
        activation: str. `maxout` (paper) or any Keras activation name.
        maxout_pieces: int. Pieces per maxout unit. Defaults to 5 (paper).
        dropout: float. Dropout rate after each hidden layer. Defaults to 0.5 (paper).
        input_dropout: float. Dropout rate on the input. Defaults to 0.2 (paper).
        minibatch_discrimination: dict or None. `MinibatchDiscrimination`
            arguments (`num_kernels`, `kernel_dim`) applied before the heads.
        name: str. Model name.

    Returns:
        A `keras.Model` from examples to `{"features", **heads}`; "features" is
        the last hidden layer before dropout.
    """
    sizes = [int(u) for u in units] if units else [int(width)] * int(hidden_layers)
    inputs = keras.Input(shape, name="images")
    x = keras.layers.Flatten()(inputs) if len(shape) > 1 else inputs
    if input_dropout:
        x = StatelessNoise("dropout", input_dropout, seed=0, name="input_dropout")(x)
    h = x
    for i, size in enumerate(sizes, start=1):
        if activation == "maxout":
            h = keras.layers.Dense(size * int(maxout_pieces), name=f"hidden_{i}")(x)
            h = Maxout(maxout_pieces, name=f"maxout_{i}")(h)
        else:
            h = keras.layers.Dense(size, activation=activation, name=f"hidden_{i}")(x)
        x = (StatelessNoise("dropout", dropout, seed=i, name=f"dropout_{i}")(h)
             if dropout else h)
    outputs = networks.output_heads(x, heads, minibatch_discrimination=minibatch_discrimination)
    outputs["features"] = h
    return keras.Model(inputs, outputs, name=name)


def _normalization(norm, reference_size, sync_batch_norm, name):
    if norm in _REFERENCE_NORMS:
        return _REFERENCE_NORMS[norm](reference_size, name=name)
    try:
        return networks.normalization(norm, sync_batch_norm, name=name)
    except ConfigError:
        raise ConfigError(
            f"Unknown model.generator.norm {norm!r} for the mlp generator; use 'none', "
            "'batch', 'layer', 'vbn' or 'reference_bn'."
        ) from None


networks.register_architecture("mlp", mlp_generator, mlp_discriminator)
