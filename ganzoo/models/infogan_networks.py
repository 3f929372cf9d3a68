"""InfoGAN's networks (Chen et al. 2016, https://arxiv.org/abs/1606.03657, table 1):
the MNIST generator and discriminator (architecture `infogan`) and Q, the code
heads that share D's body (`add_q_heads`).
"""

import keras

from ganzoo.models import networks


def infogan_generator(shape, input_dim, width=64, norm="batch", sync_batch_norm=True,
                      name="generator"):
    """The paper's MNIST generator (Chen et al. 2016, table 1), for any 2^n size.

    FC(16 * width) - BN - ReLU, FC(s * s * 2 * width) - BN - ReLU, then DCGAN's
    stride-2 transposed convolutions (4x4, BN, ReLU, halving the channels) and
    a last one to the image with tanh. `width=64` is the paper's 1024/128/64.

    Args: as `networks.dcgan_generator` (`input_dim` = noise + codes).

    Returns:
        A `keras.Model` from `[B, input_dim]` to images in [-1, 1].
    """
    height, _, channels = networks._image_shape(shape)
    start, ups = networks.spatial_plan(height)
    init, bias = networks.dcgan_init(), norm in ("none", None)
    z = keras.Input((input_dim,), name="latent")
    x = keras.layers.Dense(16 * width, use_bias=bias, kernel_initializer=init)(z)
    x = networks._norm_act(x, norm, sync_batch_norm, keras.layers.ReLU())
    filters = width * 2 ** (ups - 1)
    x = keras.layers.Dense(start * start * filters, use_bias=bias, kernel_initializer=init)(x)
    # Normalised per channel after the reshape (as DCGAN), not per unit as the paper's
    # fc_batch_norm: statistics over B*s*s values, not B, for this 2-D map.
    x = keras.layers.Reshape((start, start, filters))(x)
    x = networks._norm_act(x, norm, sync_batch_norm, keras.layers.ReLU())
    for i in range(ups - 1, 0, -1):
        x = keras.layers.Conv2DTranspose(width * 2 ** (i - 1), 4, strides=2, padding="same",
                                         use_bias=bias, kernel_initializer=init)(x)
        x = networks._norm_act(x, norm, sync_batch_norm, keras.layers.ReLU())
    x = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same",
                                     kernel_initializer=init)(x)
    return keras.Model(z, keras.layers.Activation("tanh", name="images", dtype="float32")(x),
                       name=name)


def infogan_discriminator(shape, width=64, heads=None, norm="batch", sync_batch_norm=True,
                          name="discriminator"):
    """The paper's MNIST discriminator: DCGAN's convolutions, then FC(16 * width)
    - BN - LeakyReLU(0.2) as `"features"` (the layer Q shares), then the heads.

    Args: as `networks.dcgan_discriminator` (`width=64` is the paper's 64/128/1024).

    Returns:
        A `keras.Model` from images to `{"features", **heads}`.
    """
    convs = networks.dcgan_discriminator(shape, width=width, heads={"unused": 1}, norm=norm,
                                         sync_batch_norm=sync_batch_norm, name=f"{name}_convs")
    x = convs.output["features"]
    x = keras.layers.Dense(16 * width, use_bias=norm in ("none", None),
                           kernel_initializer=networks.dcgan_init())(x)
    features = networks._norm_act(x, norm, sync_batch_norm, keras.layers.LeakyReLU(0.2))
    return keras.Model(convs.input, networks.output_heads(features, heads, networks.dcgan_init()),
                       name=name)


networks.register_architecture("infogan", infogan_generator, infogan_discriminator)


def add_q_heads(discriminator, config):
    """D plus Q: a hidden layer on D's features (shared body) and the code heads.

    Args:
        discriminator: keras.Model. Images -> `{"features", "logits", ...}`.
        config: `ModelConfig`. `options.num_categories`, `num_continuous`,
            `q_hidden_units`, `learn_continuous_std` and the discriminator's
            `norm`/`sync_batch_norm` (for Q's hidden layer).

    Returns:
        A `keras.Model` with D's outputs plus `q_categorical`,
        `q_continuous_mean` (and `q_continuous_log_std`) for the codes that exist.
    """
    o = config.options
    categories, continuous = int(o.get("num_categories", 10)), int(o.get("num_continuous", 2))
    outputs = dict(discriminator.output)
    h = outputs["features"]
    units = int(o.get("q_hidden_units", 128))
    if units:
        init = networks.dcgan_init()
        norm = networks.normalization(
            config.discriminator.get("norm", "batch"),
            config.discriminator.get("sync_batch_norm", True), name="q_norm")
        h = keras.layers.Dense(units, use_bias=norm is None, kernel_initializer=init,
                               name="q_hidden")(h)
        h = keras.layers.LeakyReLU(0.2, name="q_activation")(norm(h) if norm else h)
    for name, size in (("q_categorical", categories), ("q_continuous_mean", continuous)):
        if size:
            outputs[name] = keras.layers.Dense(size, name=name, dtype="float32")(h)
    if continuous and o.get("learn_continuous_std", False):
        # log-std in (-2, 2): an unbounded one collapsed training on digits (sigma -> 0
        # makes the (c - mu)^2 / sigma^2 gradient swamp G's adversarial signal).
        raw = keras.layers.Dense(continuous, activation="tanh", dtype="float32",
                                 name="q_continuous_log_std_raw")(h)
        outputs["q_continuous_log_std"] = keras.layers.Rescaling(
            2.0, name="q_continuous_log_std", dtype="float32")(raw)
    return keras.Model(discriminator.input, outputs, name=discriminator.name)
