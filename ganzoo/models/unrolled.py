"""Unrolled GAN: the generator looks k discriminator updates ahead.

Metz, Poole, Pfau & Sohl-Dickstein, "Unrolled Generative Adversarial Networks",
ICLR 2017, https://arxiv.org/abs/1611.02163 (sec. 2): the generator minimises
`f(theta_G, theta_D^K)`, where `theta_D^K` is D after K steps of its own
optimizer on the current batch, and the gradient flows through those K updates
("backprop through unrolling", the paper's main variant, eq. 12). The
discriminator itself is still updated by the ordinary D step only.

Any ganzoo GAN turns this on with `model.options.unrolled_steps: K`: the base
class's generator step runs its D calls inside `unrolled_scope`, a
`keras.StatelessScope` that substitutes the look-ahead values for D's
variables. The substitution is what `Layer.stateless_call` does internally; a
scope is used instead of `stateless_call` so every family's `_discriminate`
hook (labels, auxiliary heads) and `_discriminator_terms` (penalties, label
smoothing) run unchanged on the unrolled copy. Nothing is assigned to D's
variables or its optimizer's slots: batch-norm statistics and dropout seeds are
carried from one look-ahead step to the next inside the scope only.

The look-ahead steps repeat D's optimizer update rule as differentiable tensor
math, starting from the optimizer's current state, as the authors' code unrolls
Adam with its moments: Adam (its learning rate, betas, epsilon, moments and step
count) and SGD (with momentum) are supported. Weight decay, gradient clipping
and WGAN's weight clipping are not applied to the look-ahead copies.
"""

import keras
import tensorflow as tf

from ganzoo import compat, precision

# Keeps d sqrt(v)/dv finite where Adam's second moment is exactly 0 (a parameter
# with zero gradient): inf * 0 would otherwise turn G's gradient into NaN.
_SQRT_FLOOR = 1e-30


def unrolled_scope(gan, batch, steps):
    """A `keras.StatelessScope` in which `gan.discriminator` has its unrolled weights.

    Args:
        gan: a ganzoo `GAN`, compiled (its `d_optimizer` gives the update rule).
        batch: dict with "real", "labels", "fake" (G's output, still on the
            generator's tape), "extras": the generator step's batch. Every
            look-ahead step uses this same batch, as in the paper.
        steps: int. K, the number of look-ahead updates (the paper uses 5 to 10).

    Returns:
        A `keras.StatelessScope`; D called inside it uses `theta_D^K`, a
        differentiable function of G's parameters through `batch["fake"]`.

    Example:

    >>> with unrolled_scope(gan, batch, 5):
    ...     fake_out = gan._discriminate(batch["fake"], batch, training=True)
    """
    d = gan.discriminator
    trainable = list(d.trainable_variables)
    others = list(d.non_trainable_variables)
    params = [tf.convert_to_tensor(v.value) for v in trainable]
    state = [tf.convert_to_tensor(v.value) for v in others]
    rule = update_rule(gan.d_optimizer, trainable)
    # float16 networks: the look-ahead gradients are loss-scaled like D's own step.
    scale = gan.d_optimizer.scale_loss(tf.constant(1.0))
    for step in range(int(steps)):
        with tf.GradientTape() as tape:
            tape.watch(params)
            with keras.StatelessScope(_mapping(trainable, params, others, state)) as scope:
                real_out = gan._discriminate(batch["real"], batch, training=True)
                fake_out = gan._discriminate(batch["fake"], batch, training=True)
                terms = gan._discriminator_terms(real_out, fake_out, batch)
                loss, _ = gan._total_loss(terms, d, "d_loss")
                loss = loss * scale
            state = [scope.get_current_value(v) for v in others]
        grads = tape.gradient(loss, params, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        params = rule(params, [g / scale for g in _sum_over_replicas(grads)], step)
    return keras.StatelessScope(_mapping(trainable, params, others, state))


def update_rule(optimizer, variables):
    """The differentiable update `(params, grads, step) -> params` of a Keras optimizer.

    Args:
        optimizer: a built `keras.optimizers.Adam` or `keras.optimizers.SGD`, or a
            `LossScaleOptimizer` around one.
        variables: list of the optimizer's model variables (D's trainable ones).

    Returns:
        A function that applies look-ahead step `step` (0, 1, ...) after the
        optimizer's current iteration; its state (moments) lives in the closure.

    Raises:
        ValueError: for another optimizer, naming the supported ones.
    """
    optimizer = precision.inner_optimizer(optimizer)
    if isinstance(optimizer, keras.optimizers.Adam) and not optimizer.amsgrad:
        return _adam_rule(optimizer, variables)
    if isinstance(optimizer, keras.optimizers.SGD):
        return _sgd_rule(optimizer, variables)
    raise ValueError(
        f"unrolled_steps > 0 unrolls the discriminator optimizer's update rule, which is "
        f"implemented for Adam (without amsgrad) and SGD, not {type(optimizer).__name__}. "
        "Set train.d_optimizer.name to adam or sgd, or unrolled_steps to 0."
    )


def _adam_rule(opt, variables):
    # Keras' Adam update (keras/src/optimizers/adam.py), written as tensor math.
    moments, velocities = compat.adam_moments(opt, variables)
    m = [tf.convert_to_tensor(x.value) for x in moments]
    v = [tf.convert_to_tensor(x.value) for x in velocities]
    lr = tf.cast(opt.learning_rate, tf.float32)
    beta_1, beta_2 = float(opt.beta_1), float(opt.beta_2)
    iterations = tf.cast(opt.iterations, tf.float32)

    def apply(params, grads, step):
        t = iterations + 1.0 + step
        alpha = lr * tf.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            g = tf.cast(g, p.dtype)
            m[i] = m[i] + (g - m[i]) * (1.0 - beta_1)
            v[i] = v[i] + (tf.square(g) - v[i]) * (1.0 - beta_2)
            out.append(p - alpha * m[i] / (tf.sqrt(v[i] + _SQRT_FLOOR) + opt.epsilon))
        return out

    return apply


def _sgd_rule(opt, variables):
    momentum = float(opt.momentum)
    velocity = ([tf.convert_to_tensor(x.value) for x in compat.sgd_momentums(opt, variables)]
                if momentum else None)
    lr = tf.cast(opt.learning_rate, tf.float32)

    def apply(params, grads, step):
        del step
        if velocity is None:
            return [p - lr * tf.cast(g, p.dtype) for p, g in zip(params, grads)]
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            velocity[i] = velocity[i] * momentum - lr * tf.cast(g, p.dtype)
            step_ = velocity[i] * momentum - lr * g if opt.nesterov else velocity[i]
            out.append(p + step_)
        return out

    return apply


def _mapping(trainable, params, others, state):
    return list(zip(trainable, params)) + list(zip(others, state))


def _sum_over_replicas(grads):
    # The per-replica loss is averaged over the *global* batch, so the full
    # gradient of a look-ahead step is the sum over replicas, as in D's real step.
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return grads
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
