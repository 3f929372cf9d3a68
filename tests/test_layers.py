"""Tests for ganzoo.layers: golden values, batch independence, serialization, XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganzoo.layers import (
    MinibatchDiscrimination,
    ReferenceBatchNormalization,
    ReferenceBatchWrapper,
    VirtualBatchNormalization,
    call_with_reference,
)

R = 4  # reference rows


def _rng(seed=0):
    return np.random.default_rng(seed)


def _built(layer, x):
    layer(x)
    return layer


def _set_gamma_beta(layer, channels):
    layer.gamma.assign(np.linspace(0.5, 2.0, channels).astype("float32"))
    layer.beta.assign(np.linspace(-1.0, 1.0, channels).astype("float32"))


def test_minibatch_discrimination_two_examples_by_hand():
    layer = MinibatchDiscrimination(num_kernels=2, kernel_dim=1)
    x = np.array([[0.0, 0.0], [1.0, 2.0]], np.float32)
    _built(layer, x)
    # Identity T: M_{i,b} = x_{i,b}, so c_b = exp(-|x_{1,b} - x_{2,b}|), no self term.
    layer.kernel.assign(np.eye(2, dtype=np.float32))
    out = np.asarray(layer(x))
    expected = np.array([[0, 0, np.exp(-1), np.exp(-2)], [1, 2, np.exp(-1), np.exp(-2)]])
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_minibatch_discrimination_l1_over_kernel_dim_and_shape():
    layer = MinibatchDiscrimination(num_kernels=1, kernel_dim=2, use_bias=False)
    x = np.array([[0.0, 0.0], [1.0, 2.0], [0.0, 0.5]], np.float32)
    _built(layer, x)
    layer.kernel.assign(np.eye(2, dtype=np.float32))
    out = np.asarray(layer(x))
    assert out.shape == (3, 3)
    # L1 distances: d01 = 3, d02 = 0.5, d12 = 2.5.
    expected = [np.exp(-3) + np.exp(-0.5), np.exp(-3) + np.exp(-2.5), np.exp(-0.5) + np.exp(-2.5)]
    np.testing.assert_allclose(out[:, 2], expected, rtol=1e-6)
    assert layer.compute_output_shape((None, 2)) == (None, 3)


def test_reference_bn_real_rows_use_reference_stats():
    x = _rng(1).normal(2.0, 3.0, size=(R + 5, 3)).astype(np.float32)
    layer = _built(ReferenceBatchNormalization(R, epsilon=1e-3), x)
    _set_gamma_beta(layer, 3)
    out = np.asarray(layer(x))
    ref = x[:R].astype(np.float64)
    manual = (x - ref.mean(0)) / np.sqrt(ref.var(0) + 1e-3)
    manual = manual * np.asarray(layer.gamma) + np.asarray(layer.beta)
    np.testing.assert_allclose(out, manual, rtol=1e-5, atol=1e-5)


def test_virtual_bn_matches_virtual_batch_statistics():
    x = _rng(2).normal(size=(R + 3, 2)).astype(np.float64)
    layer = _built(VirtualBatchNormalization(R, epsilon=1e-3), x.astype(np.float32))
    out = np.asarray(layer(x.astype(np.float32)))
    ref = x[:R]
    for i in range(R, R + 3):
        virtual = np.concatenate([ref, x[i : i + 1]])  # weights R/(R+1) and 1/(R+1)
        manual = (x[i] - virtual.mean(0)) / np.sqrt(virtual.var(0) + 1e-3)
        np.testing.assert_allclose(out[i], manual, rtol=1e-5, atol=1e-5)
    ref_manual = (ref - ref.mean(0)) / np.sqrt(ref.var(0) + 1e-3)
    np.testing.assert_allclose(out[:R], ref_manual, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(3,), (4, 4, 2)])
def test_virtual_bn_output_independent_of_rest_of_batch(shape):
    rng = _rng(3)
    ref = rng.normal(size=(R,) + shape).astype(np.float32)
    example = rng.normal(size=(1,) + shape).astype(np.float32)
    batch_a = np.concatenate([ref, example, rng.normal(5.0, 2.0, size=(2,) + shape)])
    batch_b = np.concatenate(
        [ref, rng.normal(-3.0, 0.1, size=(1,) + shape), example, rng.normal(size=(3,) + shape)]
    )
    layer = _built(VirtualBatchNormalization(R), batch_a.astype(np.float32))
    _set_gamma_beta(layer, shape[-1])
    out_a = np.asarray(layer(batch_a.astype(np.float32)))[R]
    out_b = np.asarray(layer(batch_b.astype(np.float32)))[R + 1]
    np.testing.assert_allclose(out_a, out_b, atol=1e-6)


def _all_layers():
    return [
        (MinibatchDiscrimination(3, 2, name="mbd"), (6, 4)),
        (VirtualBatchNormalization(R, epsilon=1e-4, center=False, name="vbn"), (R + 2, 3, 3, 2)),
        (ReferenceBatchNormalization(R, scale=False, name="rbn"), (R + 2, 5)),
    ]


@pytest.mark.parametrize("index", range(3))
def test_serialization_round_trip_and_xla(index):
    layer, shape = _all_layers()[index]
    x = tf.constant(_rng(4).normal(size=shape).astype(np.float32))
    eager = np.asarray(layer(x))
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), eager, rtol=1e-6, atol=1e-6)
    compiled = tf.function(lambda t: layer(t), jit_compile=True)
    np.testing.assert_allclose(np.asarray(compiled(x)), eager, rtol=1e-5, atol=1e-5)


def _vbn_net():
    return keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4),
            VirtualBatchNormalization(R),
            keras.layers.Dense(2),
        ]
    )


def test_call_with_reference_strips_reference_rows():
    net = _vbn_net()
    ref = tf.constant(_rng(5).normal(size=(R, 3)).astype(np.float32))
    x = tf.constant(_rng(6).normal(size=(5, 3)).astype(np.float32))
    out = call_with_reference(net, ref, x, training=True)
    assert tuple(out.shape) == (5, 2)
    alone = call_with_reference(net, ref, x[2:3])
    np.testing.assert_allclose(np.asarray(out)[2:3], np.asarray(alone), atol=1e-6)


def test_reference_batch_wrapper_keras_save_load(tmp_path):
    wrapped = keras.Sequential([keras.Input((3,)), ReferenceBatchWrapper(_vbn_net(), R, seed=7)])
    x = _rng(8).normal(size=(5, 3)).astype(np.float32)
    before = np.asarray(wrapped(x))
    path = str(tmp_path / "wrapped.keras")
    wrapped.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), before, atol=1e-6)


def test_reference_layers_under_distribution_strategy():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        net = _vbn_net()
        ref = tf.constant(_rng(9).normal(size=(R, 3)).astype(np.float32))
    x = tf.constant(_rng(10).normal(size=(4, 3)).astype(np.float32))
    out = strategy.run(tf.function(lambda t: call_with_reference(net, ref, t)), args=(x,))
    assert tuple(strategy.experimental_local_results(out)[0].shape) == (4, 2)
