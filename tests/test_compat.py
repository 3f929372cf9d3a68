"""Each workaround in `ganzoo.compat` is still needed, and each private API still there.

A failure here after a Keras/TensorFlow upgrade means: upstream fixed the bug
(delete the workaround) or moved the private attribute (adapt `ganzoo.compat`).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import build_tiny, compile_tiny, fit_steps

from ganzoo import compat


def test_keras_still_has_the_symbolic_build_that_prebuilt_models_skip(monkeypatch):
    # If Keras renames the hook, PrebuiltModel's override silently stops applying.
    assert hasattr(keras.Model, "_maybe_symbolic_build")

    def fail(self, iterator=None, data_batch=None):
        raise AssertionError("Keras' symbolic build ran on a prebuilt model")

    monkeypatch.setattr(keras.Model, "_maybe_symbolic_build", fail)
    gan, spec = build_tiny("dcgan")
    assert isinstance(gan, compat.PrebuiltModel) and gan.built
    fit_steps(compile_tiny(gan), spec, steps=1)


def test_keras_still_cannot_gather_scalar_step_outputs_across_workers(mirrored_strategy):
    """keras-team/keras#20585: what `compat.step_outputs` works around.

    Under several MultiWorkerMirroredStrategy workers Keras reduces step outputs
    with `_multi_worker_concat` (a gather along axis 0); the same call is made
    here on a 2-replica strategy in one process.
    """
    from keras.src.backend.tensorflow import trainer

    scalar = mirrored_strategy.run(lambda: tf.constant(1.0))
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
        trainer._multi_worker_concat(scalar, mirrored_strategy)
    vector = mirrored_strategy.run(lambda: tf.constant([1.0]))
    np.testing.assert_array_equal(trainer._multi_worker_concat(vector, mirrored_strategy), [1, 1])


def test_multi_worker_mode_is_read_from_the_cluster():
    assert compat.training_tasks({"chief": ["a:1"], "worker": ["b:1", "c:1"], "ps": ["d:1"]}) == 3
    assert compat.training_tasks({"worker": ["a:1"]}) == 1
    assert not compat.in_multi_worker_mode(tf.distribute.get_strategy())
    logs = {"d_loss": tf.constant(1.0)}
    assert compat.step_outputs(logs) is logs


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_optimizer_slots_are_the_ones_the_update_wrote(kind):
    a, b = keras.Variable(np.ones(3, np.float32)), keras.Variable(np.ones((2, 2), np.float32))
    ga, gb = np.full(3, 0.5, np.float32), np.full((2, 2), -2.0, np.float32)
    if kind == "adam":
        opt = keras.optimizers.Adam(0.1, beta_1=0.9, beta_2=0.99)
    else:
        opt = keras.optimizers.SGD(0.1, momentum=0.5)
    opt.build([a, b])
    opt.apply_gradients([(ga, a), (gb, b)])
    if kind == "adam":
        moments, velocities = compat.adam_moments(opt, [b, a])  # any subset order
        for m, v, g in zip(moments, velocities, (gb, ga)):
            np.testing.assert_allclose(m.numpy(), 0.1 * g, rtol=1e-6)
            np.testing.assert_allclose(v.numpy(), 0.01 * g**2, rtol=1e-5)
    else:
        for m, g in zip(compat.sgd_momentums(opt, [b, a]), (gb, ga)):
            np.testing.assert_allclose(m.numpy(), -0.1 * g, rtol=1e-6)
