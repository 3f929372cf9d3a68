"""Every workaround for a Keras or TensorFlow bug, and every private API ganzoo uses.

One module, so an upgrade is checked in one place. Each entry names the
upstream issue or the private attribute it relies on, and `tests/test_compat.py`
has a test per entry that fails when upstream fixes the bug (time to delete the
workaround) or changes the private API (time to adapt it).

- `PrebuiltModel`: skips Keras' symbolic build of a model whose networks and
  optimizers are built before `fit` (keras-team/keras#20585).
- `step_outputs`: scalar step outputs under several MultiWorkerMirroredStrategy
  workers (keras-team/keras#20585).
- `in_multi_worker_mode`: the public way (the cluster resolver) to ask what
  `strategy.extended._in_multi_worker_mode()` answers.
- `adam_moments`, `sgd_momentums`: the optimizers' slot variables for one
  network's weights (private in Keras 3: `_get_variable_index`, `_momentums`,
  `_velocities`), read by the unrolled GAN's look-ahead (`ganzoo.models.unrolled`).
- `ExactLayerNormalization`, `ExactGroupNormalization`: Keras' layer and group
  norm with exact second derivatives (TF 2.21's `tf.nn.moments`, which Keras
  uses, stops the gradient through the mean inside the variance: first
  derivatives are right, the gradient penalty's derivative through the critic's
  norm is not).
- `without_autotune`: a training pipeline whose iterator is deleted at once
  (TF 2.21: deleting a tf.data iterator waits out its autotuning thread's sleep,
  so `fit` returned up to 60 s after its last step). The wait is timing-dependent,
  so its upstream check is `tools/benchmark.py --trace`, not a test.
- `tfds_temp_dirs_removed`: TFDS 4.9 leaves an empty `/tmp/tmp*tfds` directory
  each time a builder of an unprepared data set is constructed.
- `FusedBatchNormalization`: Keras 3's batch norm without Keras 2's `fused=True`
  (its TensorFlow backend normalises with separate moment, subtract, multiply
  ops; TF's fused kernel does the layer's training pass 2.5x faster on CPU,
  tools/results/fused_bn.md).
"""

import contextlib
import shutil
import tempfile
import threading

import keras
import tensorflow as tf
from keras import ops

# Cluster jobs whose tasks train (parameter servers and evaluators do not).
_TRAINING_JOBS = ("chief", "worker")


class PrebuiltModel(keras.Model):
    """A `keras.Model` whose layers and optimizers exist before `fit`.

    Keras' `fit` first builds a model symbolically from a data batch; under
    MultiWorkerMirroredStrategy that build reduces the batch across workers and
    fails (keras-team/keras#20585). A model that is already built has nothing to
    build, so the step is skipped.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if not self.built:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


def in_multi_worker_mode(strategy):
    """Whether `strategy` spans more than one training task (worker or chief).

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        bool. True for a MultiWorkerMirroredStrategy whose cluster has two or more
        chief/worker tasks; False for every single-process strategy.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    return training_tasks(resolver.cluster_spec()) > 1


def training_tasks(cluster_spec):
    """How many chief and worker tasks a `tf.train.ClusterSpec` (or dict) holds."""
    jobs = tf.train.ClusterSpec(cluster_spec).as_dict()
    return sum(len(jobs.get(job, ())) for job in _TRAINING_JOBS)


def step_outputs(logs):
    """`train_step`'s returned logs, shaped so that Keras can reduce them.

    Keras 3 averages step outputs over workers by gathering along axis 0, which
    fails on scalars with several MultiWorkerMirroredStrategy workers
    (keras-team/keras#20585); a `[1]` axis makes that gather a cross-worker mean.
    """
    if in_multi_worker_mode(tf.distribute.get_strategy()):
        return {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs


def adam_moments(optimizer, variables):
    """First and second moment variables of a Keras Adam for `variables`.

    Args:
        optimizer: a built `keras.optimizers.Adam`.
        variables: the weights it updates (a subset, in any order).

    Returns:
        (momentums, velocities): two lists aligned with `variables`.
    """
    index = [optimizer._get_variable_index(v) for v in variables]
    return ([optimizer._momentums[i] for i in index], [optimizer._velocities[i] for i in index])


def sgd_momentums(optimizer, variables):
    """Momentum variables of a Keras SGD with momentum, aligned with `variables`."""
    return [optimizer.momentums[optimizer._get_variable_index(v)] for v in variables]


def without_autotune(dataset):
    """`dataset` with tf.data autotuning off, so that deleting its iterator is instant.

    TF 2.21 bug: a tf.data iterator with autotuning on runs a model thread that
    sleeps between optimisation rounds for 10 ms, 20 ms, 40 ms, ... doubling up to
    60 s, and deleting the iterator waits for the current sleep to end. Keras'
    `fit` deletes its iterator when it returns, so every `fit` call ended at the
    next boundary 0.01 * (2^n - 1) s after it started (2.55, 5.11, ..., 81.9 s,
    then every 60 s): a 30-step `fit` of 2.7 s returned after 5.11 s, and a run's
    single `fit` returned up to 60 s after its last step (the "end-of-run cost"
    of issue 15; tools/results/benchmark.md has the numbers). Without
    autotuning, `AUTOTUNE` parallelism stays at the default (one per core) and
    prefetch buffers keep their built-in adaptive size; measured on Fashion-MNIST's
    training pipeline: the same examples/s.

    Args:
        dataset: a `tf.data.Dataset`.

    Returns:
        The dataset with `options.autotune.enabled = False`.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


_TFDS_TEMP_LOCK = threading.Lock()


@contextlib.contextmanager
def tfds_temp_dirs_removed():
    """Within this context, temp directories made by TFDS's `dataset_info` are removed after.

    TFDS 4.9.10 bug: `DatasetBuilder.__init__` calls `DatasetInfo.initialize_from_bucket`
    when the data set is not prepared, which makes `tempfile.mkdtemp("tfds")`
    before it looks for metadata on GCS and never removes it (empty offline), so
    every attempt to open a missing TFDS data set, and a test suite's dozens of
    them, left a directory in the temp folder. Here that module's `mkdtemp` makes
    them inside one scratch directory, deleted on exit (the builder has read
    anything copied there by then). Only TFDS's module is redirected, not the
    process's temp folder.
    """
    from tensorflow_datasets.core import dataset_info

    with _TFDS_TEMP_LOCK:
        scratch = tempfile.mkdtemp(prefix="ganzoo_tfds_")
        real = dataset_info.tempfile

        class _InScratch:
            def __getattr__(self, name):
                return getattr(real, name)

            @staticmethod
            def mkdtemp(suffix=None, prefix=None, dir=None):
                return real.mkdtemp(suffix, prefix, dir or scratch)

        dataset_info.tempfile = _InScratch()
        try:
            yield
        finally:
            dataset_info.tempfile = real
            shutil.rmtree(scratch, ignore_errors=True)


def exact_moments(x, axes):
    """Mean and (biased) variance of `x` over `axes`, kept for broadcasting, with
    exact second derivatives: the variance's gradient flows through the mean.

    TF's `tf.nn.moments` (what Keras' `ops.moments` calls) computes the variance
    around `stop_gradient(mean)`. The first derivative is unchanged (the
    variance's derivative w.r.t. the mean is zero), but a derivative of that
    derivative misses a term. WGAN-GP differentiates the critic's input gradient
    w.r.t. its weights, so a layer-norm critic's penalty gradient was off: 0.17%
    (max, relative) on the first conv kernel of the Fashion-MNIST critic at
    initialisation, against float64 PyTorch, where float32 PyTorch agrees to 2e-6.
    """
    mean = ops.mean(x, axis=axes, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
    return mean, variance


@keras.saving.register_keras_serializable(package="ganzoo")
class ExactLayerNormalization(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` with exact second derivatives (`exact_moments`).

    Same arguments, weights and outputs (to float rounding); used by every ganzoo
    network that normalises by layer (the WGAN-GP critic's default).
    """

    def call(self, inputs):
        if self.rms_scaling:  # no mean: Keras' variance is exact there
            return super().call(inputs)
        x = ops.cast(inputs, "float32")
        axes = list(self.axis)
        shape = [1] * len(x.shape)
        for axis in axes:
            shape[axis] = x.shape[axis]
        return ops.cast(_normalize(self, x, axes, shape), self.compute_dtype)


@keras.saving.register_keras_serializable(package="ganzoo")
class ExactGroupNormalization(keras.layers.GroupNormalization):
    """`keras.layers.GroupNormalization` with exact second derivatives (`exact_moments`)."""

    def _apply_normalization(self, reshaped_inputs, input_shape):
        dtype = reshaped_inputs.dtype
        x = ops.cast(reshaped_inputs, "float32")
        axes = list(range(1, len(x.shape)))
        axes.pop(-2 if self.axis == -1 else self.axis - 1)
        return ops.cast(_normalize(self, x, axes, self._create_broadcast_shape(input_shape)),
                        dtype)


def _normalize(layer, x, axes, shape):
    """`x` (float32) normalised over `axes` with `exact_moments`, then scaled and
    shifted by the layer's gamma and beta reshaped to `shape`."""
    mean, variance = exact_moments(x, axes)
    outputs = (x - mean) * ops.rsqrt(variance + layer.epsilon)
    if layer.scale:
        outputs = outputs * ops.reshape(ops.cast(layer.gamma, "float32"), shape)
    if layer.center:
        outputs = outputs + ops.reshape(ops.cast(layer.beta, "float32"), shape)
    return outputs


@keras.saving.register_keras_serializable(package="ganzoo")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training step is TF's fused kernel.

    Keras 3 dropped Keras 2's `fused=True`: its TensorFlow backend computes the
    batch moments, the normalisation and their gradients as a dozen separate
    element-wise and reduction ops over the activations (upcast to float32 under
    a bf16 policy). TF's `FusedBatchNormV3` (oneDNN on CPU, cuDNN on GPU) does the
    same in one pass each way: on 2 AVX-512 cores its forward + backward is
    1.5-4.2x faster at each of DCGAN's 64 px shapes (2.5x summed over the seven),
    in bf16 and float32; the whole 64 px DCGAN step gains 1.18x in bf16 and
    nothing measurable in float32 (`python tools/fused_bn_benchmark.py`,
    tools/results/fused_bn.md).

    Same arguments, weights, outputs and moving statistics as the Keras layer (to
    float rounding; the moving variance is the biased batch variance, as Keras
    keeps it). Only the training-mode call of a trainable layer over NHWC
    (rank 4, last axis) or (batch, features) inputs in float32, bf16 or float16
    (the kernel's types) is fused; inference, masks,
    batch renormalisation and batch statistics synchronised over several replicas
    take Keras' path, so exports and `tf.distribute` runs are unchanged.
    """

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        x = inputs
        channels = x.shape[-1]
        flat = len(x.shape) == 2
        if flat:  # (batch, features) as (batch, 1, 1, features)
            x = tf.reshape(x, [-1, 1, 1, channels])
        scale = (tf.cast(self.gamma, tf.float32) if self.scale
                 else tf.ones([channels], tf.float32))
        offset = (tf.cast(self.beta, tf.float32) if self.center
                  else tf.zeros([channels], tf.float32))
        empty = tf.zeros([0], tf.float32)
        y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=scale, offset=offset, mean=empty, variance=empty,
            epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
            is_training=True)
        # The kernel returns the Bessel-corrected variance; Keras averages the biased one.
        count = tf.cast(tf.size(x) // channels, tf.float32)
        variance = tf.where(count > 1.0, variance * (count - 1.0) / tf.maximum(count, 1.0), 0.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        if flat:
            y = tf.reshape(y, [-1, channels])
        return tf.cast(y, self.compute_dtype)

    def _fusable(self, inputs, training, mask):
        rank = len(inputs.shape)
        if (not training or isinstance(training, tf.Tensor) or not self.trainable
                or mask is not None or self.renorm or keras.backend.backend() != "tensorflow"
                or rank not in (2, 4) or self.axis not in (-1, rank - 1)
                or inputs.dtype not in (tf.float32, tf.bfloat16, tf.float16)):
            return False
        if self.synchronized and tf.distribute.has_strategy():
            return tf.distribute.get_strategy().num_replicas_in_sync == 1
        return True
