"""Layers against mode collapse (minibatch features, reference-batch normalisation)
and replica-independent training noise (`StatelessNoise`).

From Salimans et al. 2016, "Improved Techniques for Training GANs",
https://arxiv.org/abs/1606.03498 (sec. 3.2 minibatch discrimination, sec. 3.4
virtual batch normalisation).

Every layer works on the examples of *one* call: under `tf.distribute` that is
the per-replica batch, which is also what the papers' single-device code saw.

Reference-batch convention (`VirtualBatchNormalization`,
`ReferenceBatchNormalization`): the layer's input is a concatenated batch whose
first `reference_size` rows are the reference batch and whose remaining rows
are the real minibatch. The reference batch is a fixed noise batch drawn once
and propagated through the *same* network, so every normalisation layer sees
the reference activations at its own depth. The caller always prepends it, in
training and at inference alike; `call_with_reference` or
`ReferenceBatchWrapper` does the concatenating and slicing so that a generator
built from these layers is used like any other.
"""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="ganzoo")
class MinibatchDiscrimination(keras.layers.Layer):
    """Appends minibatch-similarity features to each example (Salimans et al. 2016, sec. 3.2).

    Features `f(x_i)` in R^A are multiplied by a learned tensor T in R^{A x B x C}
    giving `M_i` in R^{B x C}; `c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1)` and
    `o(x_i)_b = sum_{j != i} c_b(x_i, x_j) + bias_b`. The self term `j = i` (always
    exp(0) = 1) is left out, as in the authors' code (`MinibatchLayer` in
    openai/improved-gan adds 1e6 to the diagonal): the feature then counts *other*
    examples close to `x_i`, and a batch of one gives zeros. The output is
    `concat(x, o(x))`, so the discriminator sees both.

    Args:
        num_kernels: int. B, the number of similarity features appended.
        kernel_dim: int. C, the dimension each kernel compares examples in.
        use_bias: bool. Adds a learned bias per kernel (the authors' code has one).
            Defaults to True.
        kernel_initializer: initializer for T. Defaults to N(0, 0.05), as in the
            authors' code.

    Input shape: `[N, A]` (flatten feature maps first). Output shape: `[N, A + B]`.
    """

    def __init__(self, num_kernels, kernel_dim, use_bias=True, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.num_kernels = int(num_kernels)
        self.kernel_dim = int(kernel_dim)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=0.05)
        )

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"MinibatchDiscrimination needs [N, A] input, got {input_shape}.")
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], self.num_kernels * self.kernel_dim),
            initializer=self.kernel_initializer,
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.num_kernels,), initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs):
        m = ops.reshape(ops.matmul(inputs, self.kernel), (-1, self.num_kernels, self.kernel_dim))
        # [N, 1, B, C] - [1, N, B, C]: every pair, L1 over the kernel dimension.
        l1 = ops.sum(ops.abs(ops.expand_dims(m, 1) - ops.expand_dims(m, 0)), axis=-1)
        # The diagonal distance is exactly 0, so subtracting 1 removes the self term exactly.
        o = ops.sum(ops.exp(-l1), axis=1) - 1.0
        if self.bias is not None:
            o = o + self.bias
        return ops.concatenate([inputs, ops.cast(o, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] + self.num_kernels)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_kernels=self.num_kernels,
            kernel_dim=self.kernel_dim,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config


class _ReferenceNormalization(keras.layers.Layer):
    """Shared parts: the reference rows, the statistics, gamma/beta per channel."""

    def __init__(self, reference_size, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        if int(reference_size) < 1:
            raise ValueError(f"`reference_size` must be >= 1, got {reference_size}.")
        self.reference_size = int(reference_size)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape):
        channels = (input_shape[-1],)
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=channels, initializer="ones")
        if self.center:
            self.beta = self.add_weight(name="beta", shape=channels, initializer="zeros")

    def _split(self, inputs):
        # Statistics in float32 even under mixed precision: float16 mean squares overflow.
        x = ops.cast(inputs, "float32")
        return x[: self.reference_size], x[self.reference_size :]

    def _reference_moments(self, reference):
        axes = tuple(range(len(reference.shape) - 1))
        return ops.mean(reference, axis=axes), ops.mean(ops.square(reference), axis=axes)

    def _normalize(self, x, mean, mean_square):
        # Var = E[x^2] - E[x]^2 (linear in the weights, which VBN needs); clamp the rounding.
        variance = ops.maximum(mean_square - ops.square(mean), 0.0)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            y = y * ops.cast(self.gamma, "float32")
        if self.beta is not None:
            y = y + ops.cast(self.beta, "float32")
        return y

    def get_config(self):
        config = super().get_config()
        config.update(
            reference_size=self.reference_size,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
        )
        return config


@keras.saving.register_keras_serializable(package="ganzoo")
class ReferenceBatchNormalization(_ReferenceNormalization):
    """Normalises every row with the reference batch's statistics only (Salimans et al. 2016).

    Sec. 3.4 of "Improved Techniques for Training GANs": batch normalisation whose
    mean and variance come from a fixed reference batch, so an example's output
    does not depend on the other examples of its minibatch. Cheaper than virtual
    batch normalisation; the paper notes it can overfit to the reference batch.

    Args:
        reference_size: int. R, the number of leading rows that are the reference batch.
        epsilon: float. Added to the variance. Defaults to 1e-3 (as TF-GAN's VBN).
        center: bool. Learn a per-channel offset beta. Defaults to True.
        scale: bool. Learn a per-channel scale gamma. Defaults to True.

    Input: `[R + N, ..., C]`, the reference rows first (see the module docstring);
    statistics are per channel (last axis) over every other axis of the reference
    rows. Output: the same shape, every row normalised, reference rows included.
    """

    def call(self, inputs):
        reference, _ = self._split(inputs)
        mean, mean_square = self._reference_moments(reference)
        x = ops.cast(inputs, "float32")
        return ops.cast(self._normalize(x, mean, mean_square), inputs.dtype)


@keras.saving.register_keras_serializable(package="ganzoo")
class VirtualBatchNormalization(_ReferenceNormalization):
    """Normalises each example with the reference batch plus itself (Salimans et al. 2016).

    Sec. 3.4 of "Improved Techniques for Training GANs": each real example x is
    normalised with the statistics of the virtual batch {reference batch, x}, i.e.
    mean and mean square weighted 1/(R+1) for x and R/(R+1) for the reference
    batch, as in TF-GAN's `tfgan.features.VBN`. The reference rows are normalised
    with their own statistics only, as in the paper. An example's output is
    therefore independent of the rest of its minibatch.

    Args:
        reference_size: int. R, the number of leading rows that are the reference batch.
        epsilon: float. Added to the variance. Defaults to 1e-3 (as TF-GAN's VBN).
        center: bool. Learn a per-channel offset beta. Defaults to True.
        scale: bool. Learn a per-channel scale gamma. Defaults to True.

    Input: `[R + N, ..., C]`, the reference rows first (see the module docstring).
    An example's own statistics are per channel over its non-batch, non-channel
    axes (for `[N, C]` input: the value itself). Output: the same shape.
    """

    def call(self, inputs):
        reference, real = self._split(inputs)
        ref_mean, ref_mean_square = self._reference_moments(reference)
        example_axes = tuple(range(1, len(inputs.shape) - 1))
        if example_axes:
            ex_mean = ops.mean(real, axis=example_axes, keepdims=True)
            ex_mean_square = ops.mean(ops.square(real), axis=example_axes, keepdims=True)
        else:
            ex_mean, ex_mean_square = real, ops.square(real)
        w = 1.0 / (self.reference_size + 1.0)
        mean = w * ex_mean + (1.0 - w) * ref_mean
        mean_square = w * ex_mean_square + (1.0 - w) * ref_mean_square
        out = ops.concatenate(
            [
                self._normalize(reference, ref_mean, ref_mean_square),
                self._normalize(real, mean, mean_square),
            ],
            axis=0,
        )
        return ops.cast(out, inputs.dtype)


def call_with_reference(model, reference_inputs, inputs, training=None):
    """Calls `model` on `concat(reference_inputs, inputs)` and returns the real rows' outputs.

    The calling convention of `VirtualBatchNormalization` and
    `ReferenceBatchNormalization` (Salimans et al. 2016, sec. 3.4): the fixed
    reference batch is propagated through the same network in every call.

    Args:
        model: callable. A Keras model or layer built from reference-batch layers.
        reference_inputs: tensor `[R, ...]`. The fixed reference batch (e.g. noise
            drawn once with a fixed seed); R must equal the layers' `reference_size`.
        inputs: tensor `[N, ...]`. The real minibatch.
        training: bool or None. Passed to `model`.

    Returns:
        The model's outputs for `inputs` only (every output of a multi-output
        model is sliced).

    Example:

    >>> net = keras.Sequential([keras.layers.Dense(4), VirtualBatchNormalization(8)])
    >>> out = call_with_reference(net, keras.random.normal((8, 3)), keras.random.normal((5, 3)))
    >>> tuple(out.shape)
    (5, 4)
    """
    n_ref = ops.shape(reference_inputs)[0]
    reference_inputs = ops.cast(reference_inputs, inputs.dtype)
    outputs = model(ops.concatenate([reference_inputs, inputs], axis=0), training=training)
    return keras.tree.map_structure(lambda y: y[n_ref:], outputs)


@keras.saving.register_keras_serializable(package="ganzoo")
class ReferenceBatchWrapper(keras.layers.Layer):
    """Wraps a model built from reference-batch layers so that it is called like any other.

    Holds the fixed reference batch (Salimans et al. 2016, sec. 3.4) as a
    non-trainable weight, drawn once from N(0, 1) with `seed`, so it is saved
    with the model and identical after loading; each call prepends it and strips
    its outputs (`call_with_reference`).

    Args:
        model: `keras.Model`. The wrapped network (e.g. a generator using
            `VirtualBatchNormalization(reference_size)`).
        reference_size: int. R, rows of the reference batch.
        seed: int. Seed of the reference noise. Defaults to 0.

    Input shape: `[N, ...]` (the model's input). Output: the model's output for the N rows.
    """

    def __init__(self, model, reference_size, seed=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(model, dict):
            model = keras.saving.deserialize_keras_object(model)
        self.model = model
        self.reference_size = int(reference_size)
        self.seed = int(seed)

    def build(self, input_shape):
        if not self.model.built:
            self.model.build((None,) + tuple(input_shape[1:]))
        self.reference = self.add_weight(
            name="reference",
            shape=(self.reference_size,) + tuple(input_shape[1:]),
            initializer=keras.initializers.RandomNormal(seed=self.seed),
            trainable=False,
        )

    def call(self, inputs, training=None):
        return call_with_reference(self.model, self.reference, inputs, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            model=keras.saving.serialize_keras_object(self.model),
            reference_size=self.reference_size,
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package="ganzoo")
class StatelessNoise(keras.layers.Layer):
    """Training-time Gaussian noise or dropout, independent of the replica layout.

    Draw n of the layer uses the stateless seed `(seed, n)` (a call counter
    kept as a non-trainable variable, so a resumed run continues the stream).

    Args:
        kind: str. `gaussian` (adds N(0, rate^2)) or `dropout` (drops with
            probability `rate`, scales the rest by `1 / (1 - rate)`).
        rate: float. Noise std or drop probability; 0 makes the layer an identity.
        seed: int. Seed of this layer's stream.
        **kwargs: forwarded to `keras.layers.Layer`.
    """

    def __init__(self, kind, rate, seed=0, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("gaussian", "dropout"):
            raise ValueError(f"StatelessNoise kind must be 'gaussian' or 'dropout', got {kind!r}.")
        self.kind, self.rate, self.seed = kind, float(rate), int(seed)

    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), dtype="int64", initializer="zeros",
                                     trainable=False, name="calls",
                                     aggregation="only_first_replica")

    def call(self, inputs, training=False):
        if not training or not self.rate:
            return inputs
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        replica = ctx.replica_id_in_sync_group if ctx is not None else 0
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.identity(self.calls.value)])
        shape = tf.concat([[replicas], tf.shape(inputs)], 0)
        with tf.control_dependencies([seed]):
            self.calls.assign_add(1)
        if self.kind == "gaussian":
            noise = tf.random.stateless_normal(shape, seed, alg="philox")[replica]
            return inputs + self.rate * tf.cast(noise, inputs.dtype)
        keep = tf.random.stateless_uniform(shape, seed, alg="philox")[replica] >= self.rate
        return tf.where(keep, inputs / (1.0 - self.rate), tf.zeros_like(inputs))

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "rate": self.rate, "seed": self.seed}
