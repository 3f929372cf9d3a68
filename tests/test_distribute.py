"""Distribution changes speed, not results: 2 replicas == 1 device, same global batch.

What is compared is the *update* (weights after 2 steps minus the common initial
weights) of each network, as a norm-wise relative error
`||u_2 - u_1|| / ||u_1||` (`u_1` on one device, `u_2` on 2 replicas).

Both optimizers are plain SGD, so an update is proportional to the gradient: the
bug this guards against, a loss reduced per replica (mean over the local batch B/2)
instead of over the global batch B, doubles every gradient and makes a relative
error of ~1. Adam normalises the gradient by its running RMS, so the same bug
barely moves Adam's weights (3e-5 for dcgan in 2 steps, 3x the old absolute
tolerance); the gradient all-reduce, which is what distribution changes, is the
same code whichever optimizer consumes it.

Tolerance. One device and 2 replicas sum the same float32 terms in a different
order (per-replica partial sums, then the all-reduce; synchronized batch norm's
moments from all-reduced sums). An n-term float32 sum is off by at most
`gamma_n = n * u / (1 - n * u)` of the sum of the absolute terms, u = 2^-24; the
longest reductions here have n <= 8 * 16 * 16 = 2,048 terms (one per example and
pixel), gamma_2048 = 1.2e-4. `RTOL` = 1e-3, 8x that bound, for cancellation
(the bound is relative to sum|x|, not |sum x|; batch norm over 8 examples
divides by small deviations) and for 2 steps compounding. Measured on an Intel
Xeon (AVX-512) host: at most 1.1e-4 (infogan's G), < 5e-6 for the other
families; a doubled gradient gives 0.85 or more (dcgan's D), 850 `RTOL`.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import UPDATE_RTOL, build_tiny, relative_update_error, tiny_batch

import ganzoo
from ganzoo.models import base, replicas

RTOL = UPDATE_RTOL
# The doubled gradient must miss by at least this many tolerances.
MARGIN = 100
LEARNING_RATE = 0.01
STEPS = 2
# WGAN clips every critic weight to [-c, c] after each update: with c = 0.01 most
# weights of a fresh critic sit at +-c whatever the gradient, which would hide it
# (a doubled gradient changed the critic's update by 1%). With c = 1 the clip is
# applied but does not bind; clipping is element-wise, the same on any device count.
OPTIONS = {"wgan": {"clip_value": 1.0}}
# Cases beyond one per family: (name, case id, options).
EXTRA_CASES = [("dcgan", "dcgan_ema", {"ema_decay": 0.5}),
               # Augmentation parameters are drawn for the global batch and sliced.
               ("dcgan", "dcgan_diffaugment", {"diffaugment": "color,translation,cutout"})]
CASES = ([pytest.param(n, OPTIONS.get(n, {}), id=n) for n in ganzoo.list_models()]
         + [pytest.param(n, options, id=case) for n, case, options in EXTRA_CASES])


def _groups(gan):
    """The variable sets whose updates are compared."""
    groups = {"generator": gan.generator.trainable_weights,
              "discriminator": gan.discriminator.trainable_weights,
              "statistics": gan.generator.non_trainable_weights
              + gan.discriminator.non_trainable_weights,
              "ema": gan.ema_generator.weights if gan.ema_generator is not None else []}
    return {k: v for k, v in groups.items() if v}


def _snapshot(gan):
    return {k: [v.numpy() for v in vs] for k, vs in _groups(gan).items()}


def _relative_errors(before, reference, other):
    """Relative update error of each variable group (`_snapshot`s after two runs)."""
    return {k: relative_update_error(before[k], reference[k], other[k]) for k in before}


def _build(strategy, name, options=None):
    with strategy.scope():
        gan, _ = build_tiny(name, seed=4, **(OPTIONS.get(name, {}) if options is None
                                             else options))
        loss = type(gan).default_overrides.get("train.loss", "non_saturating")
        # jit off: XLA does not support multi-replica CPU strategies.
        gan.compile(d_optimizer=keras.optimizers.SGD(LEARNING_RATE),
                    g_optimizer=keras.optimizers.SGD(LEARNING_RATE), loss=loss,
                    jit_compile=False)
    return gan


def _fit(gan, x, y):
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    gan.fit(data, steps_per_epoch=STEPS, epochs=1, verbose=0)


def _restart(gan, before, learning_rate):
    """Back to the initial weights and step 0, with another SGD learning rate.

    The compiled train function is reused (no second trace).
    """
    for key, variables in _groups(gan).items():
        for variable, value in zip(variables, before[key]):
            variable.assign(value)
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        optimizer.iterations.assign(0)  # the training noise is keyed on it
        optimizer.learning_rate = learning_rate


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        for x, y in zip(a[key], b[key], strict=True):
            np.testing.assert_array_equal(x, y)


def _data(name):
    probe, spec = build_tiny(name)
    return tiny_batch(spec, batch_size=8 * probe.d_steps)


@pytest.mark.parametrize("name, options", CASES)
def test_two_replicas_match_one_device(name, options, mirrored_strategy):
    """Updates agree within `RTOL`, and a doubled gradient misses by >= 100 `RTOL`.

    The doubled gradient is the per-replica loss bug, reproduced on the same
    2-replica model by doubling SGD's learning rate: `w - lr * (2 g)` and
    `w - (2 lr) * g` are the same float32 numbers (scaling by 2 is exact), and a
    per-replica mean divides by B/2 where the global one divides by B.
    `test_doubled_learning_rate_is_the_per_replica_loss_bug` checks this
    equivalence with the bug itself.
    """
    x, y = _data(name)
    single = _build(tf.distribute.get_strategy(), name, options)
    single.run_eagerly = True  # the reference: no trace (the graph step is the 2-replica one)
    mirrored = _build(mirrored_strategy, name, options)
    before = _snapshot(single)
    _assert_same_weights(before, _snapshot(mirrored))
    _fit(single, x, y)
    _fit(mirrored, x, y)
    reference = _snapshot(single)
    errors = _relative_errors(before, reference, _snapshot(mirrored))
    single_metrics = {m.name: float(m.result()) for m in single.metrics}
    mirrored_metrics = {m.name: float(m.result()) for m in mirrored.metrics}

    _restart(mirrored, before, 2 * LEARNING_RATE)
    _fit(mirrored, x, y)
    doubled = _relative_errors(before, reference, _snapshot(mirrored))

    assert all(e <= RTOL for e in errors.values()), (errors, RTOL)
    trained = {k: doubled[k] for k in ("generator", "discriminator")}
    assert all(e >= MARGIN * RTOL for e in trained.values()), (trained, MARGIN * RTOL)
    assert set(single_metrics) == set(mirrored_metrics)
    for key, value in single_metrics.items():
        np.testing.assert_allclose(mirrored_metrics[key], value, rtol=RTOL, atol=1e-6,
                                   err_msg=key)


def test_doubled_learning_rate_is_the_per_replica_loss_bug(mirrored_strategy, monkeypatch):
    """The bug itself (each replica's loss over its own B/2 examples: the
    global-batch loss times the replica count) gives the doubled-learning-rate
    updates that `test_two_replicas_match_one_device` uses in its place."""
    name = "dcgan"
    x, y = _data(name)
    stand_in = _build(mirrored_strategy, name)
    before = _snapshot(stand_in)
    stand_in.d_optimizer.learning_rate = stand_in.g_optimizer.learning_rate = 2 * LEARNING_RATE
    _fit(stand_in, x, y)

    global_total_loss = base.GAN._total_loss

    def per_replica_total_loss(self, terms, network, name):
        total, logs = global_total_loss(self, terms, network, name)
        return total * replicas.num_replicas(), logs

    monkeypatch.setattr(base.GAN, "_total_loss", per_replica_total_loss)
    buggy = _build(mirrored_strategy, name)
    _assert_same_weights(before, _snapshot(buggy))
    _fit(buggy, x, y)
    errors = _relative_errors(before, _snapshot(stand_in), _snapshot(buggy))
    assert all(e <= RTOL for e in errors.values()), errors
