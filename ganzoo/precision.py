"""Mixed precision: bfloat16 or float16 compute with float32 weights.

Reference: Micikevicius et al., "Mixed Precision Training", ICLR 2018,
https://arxiv.org/abs/1710.03740: weights, optimizer state and losses stay in
float32, layers compute in 16 bits, and float16 needs the loss scaled so small
gradients do not flush to zero. `train.mixed_precision` picks one of `MODES`:

    off    float32 everywhere.
    bf16   Keras' `mixed_bfloat16` policy. bfloat16 has float32's exponent range,
           so no loss scaling (bf16 units on TPUs, recent GPUs, AMX CPUs).
    fp16   Keras' `mixed_float16` policy, with dynamic loss scaling of both
           optimizers (`keras.optimizers.LossScaleOptimizer`, added by
           `GAN.compile`): a step whose gradients are not finite is skipped and
           the scale halved; the scale doubles after 2,000 good steps.
    auto   (the default) the measured choice for this family on this device:
           `hardware.default_precision`, recorded with its reason in run.json.

The networks are built under `policy_scope`, which restores the previous global
policy afterwards, so one run does not change the next one in the same process.
Every layer keeps its policy in its config, so a `.keras` checkpoint loads with
the precision it was trained in. The last layer of every ganzoo network computes
in float32 (images, logits and auxiliary heads), and the losses, the gradient
penalty's norms and feature means cast to float32 (`ganzoo.losses`), so
penalties, the divergence guard's finiteness checks, `generate()` and the
exported SavedModel see float32 whatever the mode.
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf

from ganzoo.errors import ConfigError

# train.mixed_precision value -> Keras dtype policy.
MODES = {"off": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
# train.mixed_precision's default: resolved per run to one of `MODES`.
AUTO = "auto"


def check_mode(mode, key="train.mixed_precision", allow_auto=False):
    """Returns `mode` if it is one of `MODES` (or `AUTO` with `allow_auto`).

    Raises:
        ConfigError: naming the allowed values.
    """
    allowed = [*MODES, AUTO] if allow_auto else list(MODES)
    if mode not in allowed:
        raise ConfigError(
            f"Config key {key!r} is {mode!r}; choose one of {', '.join(allowed)} (bf16 needs "
            "no loss scaling; fp16 scales the loss dynamically"
            + ("; auto picks the measured one for the model family and device)."
               if allow_auto else ")."))
    return mode


@contextlib.contextmanager
def policy_scope(mode):
    """Builds layers under `mode`'s Keras dtype policy; restores the previous one on exit.

    Args:
        mode: str. One of `MODES` (`off`, `bf16`, `fp16`).

    Example:

    >>> with policy_scope("bf16"):
    ...     gan = DCGAN.from_data_spec(spec)
    >>> keras.config.dtype_policy().name
    'float32'
    """
    policy = MODES[check_mode(mode)]
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def computes_in_float16(*models):
    """Whether any layer of `models` (nested models and wrappers included) computes in float16."""
    return any(layer.compute_dtype == "float16" for model in models for layer in _layers(model))


def mode_of(*models):
    """The `MODES` key of the lowest-precision layer in `models` (`off` if all float32)."""
    dtypes = {layer.compute_dtype for model in models for layer in _layers(model)}
    return "fp16" if "float16" in dtypes else "bf16" if "bfloat16" in dtypes else "off"


def loss_scaled(optimizer):
    """`optimizer` wrapped in `keras.optimizers.LossScaleOptimizer` (unless it is one)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def inner_optimizer(optimizer):
    """The optimizer whose update rule a `LossScaleOptimizer` applies (else `optimizer`)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def agree_on_finiteness(optimizer, grads):
    """Makes every replica see non-finite gradients when any replica has them.

    Keras 3's `LossScaleOptimizer` tests for non-finite gradients before they are
    all-reduced: under `MirroredStrategy` (the merge-call path) it takes replica
    0's local answer, so an overflow on replica 1 alone is applied and turns
    every weight into inf (`tests/test_mixed_precision.py` shows it); where
    replicas answer for themselves, they would take different branches around
    the gradient all-reduce. No upstream issue was found. Summing a non-finite
    flag over replicas and poisoning the local gradients makes all of them skip
    the step together. A no-op without loss scaling or with one replica.

    Args:
        optimizer: the optimizer the gradients go to.
        grads: list of this replica's gradients (None allowed).

    Returns:
        The gradients, all replaced by inf where some replica's are not finite.
    """
    ctx = tf.distribute.get_replica_context()
    if (not isinstance(optimizer, keras.optimizers.LossScaleOptimizer) or ctx is None
            or ctx.num_replicas_in_sync == 1):
        return grads
    present = [g for g in grads if g is not None]
    bad = tf.cast(tf.logical_not(optimizer.check_finite(present)), tf.float32)
    any_bad = ctx.all_reduce(tf.distribute.ReduceOp.SUM, bad) > 0
    return [_poisoned(g, any_bad) for g in grads]


def _poisoned(grad, flag):
    if grad is None:
        return None
    if isinstance(grad, tf.IndexedSlices):  # embedding gradients (conditional models)
        return tf.IndexedSlices(_poisoned(grad.values, flag), grad.indices, grad.dense_shape)
    return tf.where(flag, tf.constant(np.inf, grad.dtype), grad)


def _layers(layer):
    yield layer
    for sub in getattr(layer, "layers", []) + [getattr(layer, "layer", None)]:
        if sub is not None:
            yield from _layers(sub)
