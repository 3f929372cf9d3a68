"""Spectral normalisation as Miyato et al. define it: the layer computes with W / sigma(W).

Miyato, Kataoka, Koyama & Yoshida, "Spectral Normalization for Generative
Adversarial Networks", ICLR 2018, https://arxiv.org/abs/1802.05957.

`SpectralNormalization` wraps a `Dense` or `Conv2D`. In every call the wrapped
layer computes with `W_SN = W / sigma`, where `sigma = v^T W u` estimates W's
largest singular value (W reshaped to `[-1, units]`) from a persistent vector
`u` and `v = W u / ||W u||`; each training call first refines `u` by one power
iteration (Algorithm 1), and neither vector carries a gradient. The gradient
therefore flows through the division, as in the paper's eq. (12): it has the
term `-(1/sigma) <dL/dW_SN, W_SN> u v^T` that keeps W from concentrating on one
direction (TF-GAN's `spectral_normalize` and PyTorch's `spectral_norm` do the
same). The stored kernel W is never rescaled. Every training call of D advances
`u` (D's real, fake and penalty calls each take one step), as PyTorch's hook
does; the paper takes one per update, and `u` converges either way. Under mixed
precision, sigma is computed in float32 from the compute-dtype reading of W
(bf16 rounds W by about 1e-3, as the layer's own computation does).

`keras.layers.SpectralNormalization` is a different method: each training call
overwrites the kernel variable with W / sigma and the layer then computes with
the variable, so the gradient is taken at the rescaled weights without that
term (a projection after every update). ganzoo used it until this module; it
still loads from older `.keras` files.
"""

import keras
from keras import ops


def _unit(x):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x)), 1e-24))


@keras.saving.register_keras_serializable(package="ganzoo")
class SpectralNormalization(keras.layers.Wrapper):
    """Wraps a `Dense` or `Conv2D` so that it computes with its kernel divided by
    the kernel's spectral norm (Miyato et al. 2018; see the module docstring).

    Args:
        layer: `keras.layers.Dense` or `keras.layers.Conv2D` (any layer with a
            `kernel` whose last axis is its output units).
        power_iterations: int >= 1. Power iterations per training call.
            Defaults to 1, as in the paper.
        **kwargs: forwarded to `keras.layers.Wrapper` (`name`, `dtype`).

    Example:

    >>> conv = SpectralNormalization(keras.layers.Conv2D(64, 4, strides=2))
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        # The wrapped layer's call runs in this layer's dtype policy (`stateless_call`
        # is not `__call__`): the same policy unless told otherwise.
        kwargs.setdefault("dtype", layer.dtype_policy)
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) \
                or power_iterations < 1:
            raise ValueError(f"power_iterations must be an int >= 1, got {power_iterations!r}.")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        if not hasattr(self.layer, "kernel"):
            raise ValueError(f"SpectralNormalization wraps a layer with a kernel (Dense, "
                             f"Conv2D); {type(self.layer).__name__} has none.")
        self._kernel = self.layer.kernel
        if not isinstance(self._kernel, keras.Variable):  # LoRA, quantised: a computed kernel
            raise ValueError(f"SpectralNormalization needs {self.layer.name}'s kernel as a "
                             f"variable; got a {type(self._kernel).__name__} (LoRA or a "
                             "quantised kernel is not supported).")
        self.units = int(self._kernel.shape[-1])
        self.vector_u = self.add_weight(
            shape=(1, self.units), initializer=keras.initializers.RandomNormal(),
            trainable=False, name="vector_u", dtype="float32", autocast=False,
            aggregation="only_first_replica")  # the same on every replica

    def _matrix(self):
        return ops.reshape(ops.cast(self._kernel, "float32"), [-1, self.units])

    def _sigma(self, u):
        w = self._matrix()
        v = ops.stop_gradient(_unit(ops.matmul(u, ops.transpose(w))))
        return ops.matmul(ops.matmul(v, w), ops.transpose(u))[0, 0]

    def _normalized(self, u):
        """`W / sigma(u)` in float32, with the gradient through sigma."""
        return ops.cast(self._kernel, "float32") / ops.maximum(self._sigma(u), 1e-12)

    def normalized_kernel(self):
        """`W / sigma` with the current `u`: the kernel the layer computes with."""
        return self._normalized(ops.convert_to_tensor(self.vector_u))

    def call(self, inputs, training=False):
        u = ops.convert_to_tensor(self.vector_u)
        if training:
            w = ops.stop_gradient(self._matrix())
            for _ in range(self.power_iterations):
                u = _unit(ops.matmul(_unit(ops.matmul(u, ops.transpose(w))), w))
            self.vector_u.assign(u)
        # The wrapped layer's own call, with W / sigma in place of W (trainable or,
        # in a frozen layer, not); variables are cast to the compute dtype on
        # reading, as in an ordinary call (this layer's autocast scope is open).
        normalized = self._normalized(u)

        def values(variables):
            return [normalized if v is self._kernel else v for v in variables]

        outputs, _ = self.layer.stateless_call(values(self.layer.trainable_variables),
                                               values(self.layer.non_trainable_variables),
                                               inputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}
