"""PacGAN packing: Lin, Khetan, Fanti & Oh, "PacGAN: The power of two samples in
generative adversarial networks", NeurIPS 2018, https://arxiv.org/abs/1712.04086.

D judges packs of `packing` examples of the same source, concatenated (vectors
end to end, images along channels), so it can see a lack of diversity. A pack
mixes examples, so per-example inputs or outputs of D (class labels, class
heads, a Q network) cannot apply: a family declares whether its D can be packed
with the class attribute `supports_packing` (True on `GAN`), and
`GAN.from_data_spec` refuses `model.options.packing` > 1 for one that cannot.
"""

import tensorflow as tf

from ganzoo.errors import ConfigError


def packed_shape(shape, packing):
    """Shape of one D input for packs of `packing` examples of `shape`.

    Vectors `(D,)` become `(packing * D,)`; images `(H, W, C)` become
    `(H, W, packing * C)` (PacGAN, Lin et al. 2018, sec. 5).
    """
    shape = tuple(int(d) for d in shape)
    if packing == 1:
        return shape
    return (*shape[:-1], int(packing) * shape[-1])


def pack(images, packing):
    """`[B, *shape]` -> `[B / packing, *packed_shape]`: rows i*m ... i*m+m-1 form pack i."""
    m = packing
    if m == 1:
        return images
    rows = images.shape[0]
    if rows is not None and rows % m:
        raise ValueError(f"packing={m} needs a per-replica batch that is a multiple of "
                         f"{m}; got {rows} examples.")
    shape = list(images.shape[1:])
    if len(shape) == 1:
        return tf.reshape(images, [-1, m * shape[0]])
    # Images: the m examples are stacked along channels (PacGAN's convolutional D).
    x = tf.reshape(images, [-1, m, *shape])
    x = tf.transpose(x, [0, *range(2, len(shape) + 1), 1, len(shape) + 1])
    return tf.reshape(x, [-1, *shape[:-1], m * shape[-1]])


def check_supported(cls, packing, heads):
    """Refuses `packing` > 1 for a family whose D cannot judge packs.

    Args:
        cls: the `GAN` subclass being built.
        packing: int. `model.options.packing`.
        heads: dict. The family's `discriminator_heads`: a pack has one
            real/fake logit and nothing else.

    Raises:
        ConfigError: naming the family and what its D has besides the logit.
    """
    if packing > 1 and not (cls.supports_packing and heads == {"logits": 1}):
        raise ConfigError(
            f"model.options.packing needs a discriminator with one real/fake logit per "
            f"input and no other inputs or heads; {cls.__name__}'s has more (labels, "
            f"auxiliary heads {sorted(heads)} or a wrapped Q network).")
