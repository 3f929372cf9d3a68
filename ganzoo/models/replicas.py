"""Training draws and batch statistics that make N replicas train like one device.

Every training draw is stateless, keyed on (seed, generator step, draw index),
and made for the *global* batch, of which each replica takes its slice: a
resumed run draws exactly the numbers the uninterrupted run would have, and N
replicas draw what one device would on the same global batch. Batch statistics
(`global_mean`) are all-reduced for the same reason. Used by `GAN` (noise,
DiffAugment, loss reduction) and by families that draw more (class labels,
codes, interpolation weights).
"""

import tensorflow as tf


def num_replicas():
    """Replicas in sync in the current replica context (1 outside a strategy)."""
    ctx = tf.distribute.get_replica_context()
    return ctx.num_replicas_in_sync if ctx is not None else 1


def replica_id():
    """This replica's index in its sync group: a Python int or an int32 tensor."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None:
        return 0
    rid = ctx.replica_id_in_sync_group
    return rid if isinstance(rid, int) else tf.cast(rid, tf.int32)


def draw_key(gan, draw):
    """The stateless seed `[seed, step * 1024 + draw]` of training draw `draw`.

    `step` is G's optimizer step, so every train step (and each of its draws)
    has its own key, the same on every replica and after a resume.
    """
    step = tf.cast(gan.g_optimizer.iterations, tf.int64)
    return tf.stack([tf.constant(gan.seed, tf.int64), step * 1024 + draw])


def normal(gan, shape, draw):
    """N(0, 1) values of per-replica `shape`: this replica's slice of the global draw."""
    values = tf.random.stateless_normal([num_replicas(), *shape], seed=draw_key(gan, draw),
                                        alg="philox")
    return values[replica_id()]


def uniform(gan, shape, draw, minval, maxval, dtype=tf.float32):
    """Uniform values on [minval, maxval), keyed and sliced per replica like `normal`.

    `shape[0]` is the per-replica batch size; integer dtypes draw integers.
    """
    values = tf.random.stateless_uniform(
        [num_replicas(), *shape], seed=draw_key(gan, draw), minval=minval, maxval=maxval,
        dtype=dtype, alg="philox")
    return values[replica_id()]


def global_mean(x):
    """Mean over the global batch (all replicas) of `x` `[B, ...]`."""
    ctx = tf.distribute.get_replica_context()
    total = tf.reduce_sum(x, axis=0)
    count = tf.cast(tf.shape(x)[0], x.dtype)
    if ctx is not None and ctx.num_replicas_in_sync > 1:
        total, count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [total, count])
    return total / count
