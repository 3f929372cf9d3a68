"""Distribution changes speed, not results: 2 replicas == 1 device, same global batch."""

import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import all_weights, build_tiny, compile_tiny, tiny_batch

import ganzoo


def _train(strategy, name, x, y, steps=2):
    with strategy.scope():
        gan, _ = build_tiny(name, seed=4)
        compile_tiny(gan)  # jit off: XLA does not support multi-replica CPU strategies
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    gan.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return gan


@pytest.mark.parametrize("name", ganzoo.list_models())
def test_two_replicas_match_one_device(name, mirrored_strategy):
    probe, spec = build_tiny(name)
    x, y = tiny_batch(spec, batch_size=8 * probe.d_steps)
    single = _train(tf.distribute.get_strategy(), name, x, y)
    mirrored = _train(mirrored_strategy, name, x, y)
    for a, b in zip(all_weights(single), all_weights(mirrored)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for m1, m2 in zip(single.metrics, mirrored.metrics):
        np.testing.assert_allclose(float(m1.result()), float(m2.result()), rtol=1e-4, atol=1e-5)
