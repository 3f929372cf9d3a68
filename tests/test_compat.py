"""Each workaround in `ganzoo.compat` is still needed, and each private API still there.

A failure here after a Keras/TensorFlow upgrade means: upstream fixed the bug
(delete the workaround) or moved the private attribute (adapt `ganzoo.compat`).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import build_tiny, compile_tiny, fit_steps

from ganzoo import compat, data, tasks, train_lib


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


def test_without_autotune_turns_autotuning_off_and_keeps_the_elements():
    """The TF bug behind `compat.without_autotune` is timing-dependent (a deleted
    iterator waits only when its autotuning thread is mid-sleep), so its check
    after an upgrade is `tools/benchmark.py --trace` (teardown with autotuning
    on and off), not a test; this one checks the option and the data."""
    dataset = tf.data.Dataset.range(100).map(
        lambda x: x + 1, num_parallel_calls=tf.data.AUTOTUNE).batch(10).prefetch(tf.data.AUTOTUNE)
    fixed = compat.without_autotune(dataset)
    assert fixed.options().autotune.enabled is False
    assert [b.tolist() for b in fixed.as_numpy_iterator()] == [
        b.tolist() for b in dataset.as_numpy_iterator()]


def test_every_run_feeds_fit_without_autotuning():
    config = train_lib.resolve_config("dcgan")
    spec = data.DataSpec("digits", (16, 16, 1), 10)
    dataset, _ = data.load("digits", "train")
    pipeline = train_lib.fit_pipeline(tasks.get_task("dcgan"), dataset, spec, config,
                                      tf.distribute.get_strategy())
    assert pipeline.options().autotune.enabled is False


def _mixed_second_derivative(normalize, x):
    """d/dx of sum(d f / dx) for f = sum(normalize(x) * w): zero for an exact
    normalisation, which ignores a constant shift of its inputs."""
    w = tf.constant(np.random.default_rng(1).normal(size=x.shape), tf.float32)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            f = tf.reduce_sum(normalize(x) * w)
        shift = tf.reduce_sum(inner.gradient(f, x))
    return outer.gradient(shift, x).numpy()


def test_tf_moments_still_stop_the_gradient_through_the_mean():
    """What `compat.ExactLayerNormalization` / `ExactGroupNormalization` work
    around: Keras' norms (via `tf.nn.moments`) get the second derivative wrong."""
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 3, 3, 8)), tf.float32)
    keras_layer, exact_layer = keras.layers.LayerNormalization(), compat.ExactLayerNormalization()
    keras_group = keras.layers.GroupNormalization(groups=1)
    exact_group = compat.ExactGroupNormalization(groups=1)
    for layer in (keras_layer, exact_layer, keras_group, exact_group):
        layer.build(x.shape)
    assert np.abs(_mixed_second_derivative(keras_layer, x)).max() > 1e-2
    assert np.abs(_mixed_second_derivative(keras_group, x)).max() > 1e-2
    assert np.abs(_mixed_second_derivative(exact_layer, x)).max() < 1e-4
    assert np.abs(_mixed_second_derivative(exact_group, x)).max() < 1e-4
    # Same outputs and first derivatives as Keras' layers.
    for ours, theirs in ((exact_layer, keras_layer), (exact_group, keras_group)):
        np.testing.assert_allclose(ours(x), theirs(x), atol=1e-5)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            a, b = tf.reduce_sum(ours(x) ** 3), tf.reduce_sum(theirs(x) ** 3)
        np.testing.assert_allclose(tape.gradient(a, x), tape.gradient(b, x), atol=1e-4)


def test_exact_norms_reload_from_keras_files(tmp_path):
    inputs = keras.Input((4, 4, 8))
    x = compat.ExactLayerNormalization(epsilon=1e-5)(inputs)
    model = keras.Model(inputs, compat.ExactGroupNormalization(groups=2)(x))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert [type(la).__name__ for la in loaded.layers[1:]] == [
        "ExactLayerNormalization", "ExactGroupNormalization"]
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype(np.float32)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def _tfds_temp_dirs(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith("tfds"))


def test_tfds_still_leaves_a_temp_dir_per_unprepared_builder(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    tfds.builder("mnist", data_dir=str(tmp_path / "data"))
    assert len(_tfds_temp_dirs(tmp_path)) == 1  # upstream fixed: delete the workaround


def test_opening_a_missing_tfds_data_set_leaves_no_temp_dir(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    from ganzoo.data.tfds import DataNotAvailableError

    with pytest.raises(DataNotAvailableError):
        data.load("cifar10", "train", data_dir=str(tmp_path / "data"))
    assert _tfds_temp_dirs(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("ganzoo_tfds_")] == []


def _op_types(layer, x, training=True):
    graph = tf.function(lambda x: layer(x, training=training)).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


def test_keras_batch_norm_still_trains_without_the_fused_kernel():
    """What `compat.FusedBatchNormalization` works around: Keras 3's batch norm
    computes its training step op by op (Keras 2 had `fused=True`)."""
    x = tf.zeros((4, 3, 3, 8))
    layer = keras.layers.BatchNormalization()
    layer.build(x.shape)
    assert not any(op.startswith("FusedBatchNorm") for op in _op_types(layer, x))
    ours = compat.FusedBatchNormalization()
    ours.build(x.shape)
    assert "FusedBatchNormV3" in _op_types(ours, x)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("shape", [(8, 5, 5, 6), (16, 7)])
def test_fused_batch_norm_trains_like_keras_batch_norm(policy, shape):
    """Outputs, gradients (input, gamma, beta) and both moving statistics match
    Keras' layer over two training steps; inference is Keras' own path."""
    rng = np.random.default_rng(0)
    layers = [cls(momentum=0.9, epsilon=1e-5, synchronized=True, dtype=policy)
              for cls in (keras.layers.BatchNormalization, compat.FusedBatchNormalization)]
    for layer in layers:
        layer.build(shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, shape[-1]))
        layer.beta.assign(np.linspace(-1.0, 1.0, shape[-1]))
    tol = 1e-5 if policy == "float32" else 1e-2
    for _ in range(2):
        x = tf.constant(rng.normal(2.0, 3.0, shape), tf.float32)
        results = []
        for layer in layers:
            @tf.function
            def train(x, layer=layer):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = layer(x, training=True)
                    loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.cos(x))
                return y, tape.gradient(loss, [x, layer.gamma, layer.beta])
            y, grads = train(x)
            assert y.dtype == layer.compute_dtype
            results.append([y, *grads, layer.moving_mean, layer.moving_variance])
        for theirs, ours in zip(*results):
            np.testing.assert_allclose(tf.cast(ours, tf.float32), tf.cast(theirs, tf.float32),
                                       atol=tol, rtol=tol)
    np.testing.assert_allclose(tf.cast(layers[1](x, training=False), tf.float32),
                               tf.cast(layers[0](x, training=False), tf.float32),
                               atol=tol, rtol=tol)


def test_fused_batch_norm_takes_keras_path_where_it_cannot_fuse(mirrored_strategy, tmp_path):
    x = tf.zeros((4, 3, 3, 2))
    layer = compat.FusedBatchNormalization(synchronized=True)
    layer.build(x.shape)
    assert layer._fusable(x, True, None)
    assert not layer._fusable(x, False, None)  # inference: exports are unchanged
    assert not layer._fusable(x, True, tf.ones((4, 3, 3)))
    assert not layer._fusable(tf.zeros((4, 3, 3, 2), tf.float64), True, None)  # not a kernel type
    assert "FusedBatchNormV3" not in _op_types(layer, x, training=False)
    frozen = compat.FusedBatchNormalization(trainable=False)
    frozen.build(x.shape)
    assert not frozen._fusable(x, True, None)
    # Batch statistics synchronised over 2 replicas: Keras' all-reduced moments.
    fusable = mirrored_strategy.run(lambda: tf.constant(layer._fusable(x, True, None)))
    assert not any(v.numpy() for v in mirrored_strategy.experimental_local_results(fusable))
    local = compat.FusedBatchNormalization(synchronized=False)
    local.build(x.shape)
    fusable = mirrored_strategy.run(lambda: tf.constant(local._fusable(x, True, None)))
    assert all(v.numpy() for v in mirrored_strategy.experimental_local_results(fusable))
    # Saved and reloaded as itself.
    inputs = keras.Input((3, 3, 2))
    model = keras.Model(inputs, compat.FusedBatchNormalization()(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[1]).__name__ == "FusedBatchNormalization"
