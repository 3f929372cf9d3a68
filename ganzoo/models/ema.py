"""An exponential moving average of G's weights (Karras et al. 2018, ProGAN;
Yazici et al. 2019, https://arxiv.org/abs/1806.04498).

`GAN(ema_decay=d)` keeps the average in `gan.ema_generator`, updated after every
generator step (`update_average`); samples, evaluation and export use it
(`GAN.inference_generator`).
"""

import keras
import tensorflow as tf


def check(decay, start):
    """Validates `ema_decay` in [0, 1) and `ema_start` >= 0; returns them as float, int."""
    if not 0.0 <= float(decay) < 1.0 or int(start) < 0:
        raise ValueError(f"ema_decay must be in [0, 1) and ema_start >= 0, got "
                         f"{decay} and {start}.")
    return float(decay), int(start)


def make_average(generator):
    """A non-trainable copy of `generator` with its own weights, equal to G's.

    Call it in the same (strategy) scope as G was built in.
    """
    average = keras.models.clone_model(generator)
    average.set_weights(generator.get_weights())
    average.trainable = False
    return average


def update_average(average, generator, step, decay, start):
    """`ema = d * ema + (1 - d) * G` after G's update `step`; a copy up to `start`.

    The first averaged step also copies, so an average never mixes in the
    weights G had before a fine-tuning run loaded its own. Every replica holds
    the same G after the update, so each assigns the same value. Non-trainable
    weights (batch-norm statistics) are copied, not averaged.
    """
    decay = tf.where(step > max(start, 1), decay, 0.0)
    trainable = {id(v) for v in generator.trainable_weights}
    for ema, weight in zip(average.weights, generator.weights):
        value = tf.cast(weight.value, tf.float32)
        if id(weight) in trainable:
            value = decay * tf.cast(ema.value, tf.float32) + (1.0 - decay) * value
        ema.assign(tf.cast(value, ema.dtype))


def recalibrate(average, inputs):
    """Batch-norm statistics of the averaged weights, measured on `inputs`.

    G's moving statistics describe G's own weights; used with the averaged
    weights they give wrong activations (fmnist-FID 962 instead of 835 for one
    2,000-step DCGAN, tools/results/ema.md). The statistics are recomputed as
    BigGAN's "standing statistics" are: one forward pass in training mode with
    momentum 0, so each moving mean and variance become those of this batch.

    Args:
        average: the averaged generator (`make_average`).
        inputs: a batch of generator inputs (a few hundred samples).
    """
    norms = [la for la in _all_layers(average) if isinstance(la, keras.layers.BatchNormalization)]
    if not norms:
        return
    momenta = [la.momentum for la in norms]
    # A non-trainable batch norm runs in inference mode even with training=True.
    average.trainable = True
    try:
        for layer in norms:
            layer.momentum = 0.0
        average(inputs, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
        average.trainable = False


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)
