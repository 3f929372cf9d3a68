"""The multiply-add counter behind tools/benchmark.py's achieved-GFLOP/s table."""

import tensorflow as tf
from gan_test_utils import load_tool

benchmark = load_tool("benchmark")


def _count(fn, *specs):
    fn = tf.function(tf.autograph.experimental.do_not_convert(fn))
    return benchmark.graph_multiply_adds(fn.get_concrete_function(*specs).graph)


def test_convolutions_their_gradients_and_matmuls_are_counted_by_hand():
    image = tf.TensorSpec((2, 8, 8, 3), tf.float32)
    kernel = tf.TensorSpec((3, 3, 3, 5), tf.float32)
    # Each of the 2 x 8 x 8 x 5 outputs: 3 x 3 x 3 products.
    forward = 2 * 8 * 8 * 5 * 27
    assert _count(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"), image, kernel) == forward

    def both_gradients(x, k):
        with tf.GradientTape() as tape:
            tape.watch([x, k])
            y = tf.nn.conv2d(x, k, 1, "SAME")
        return tape.gradient(y, [x, k])

    # Forward, input gradient and filter gradient each do the forward's products.
    assert _count(both_gradients, image, kernel) == 3 * forward

    # A stride-2 transposed convolution: each of the 2 x 4 x 4 x 5 inputs meets a
    # 4 x 4 x 3 slice of the kernel.
    small = tf.TensorSpec((2, 4, 4, 5), tf.float32)
    kernel_t = tf.TensorSpec((4, 4, 3, 5), tf.float32)
    assert _count(lambda x, k: tf.nn.conv2d_transpose(x, k, (2, 8, 8, 3), 2, "SAME"),
                  small, kernel_t) == 2 * 4 * 4 * 5 * 4 * 4 * 3

    a, b = tf.TensorSpec((6, 4), tf.float32), tf.TensorSpec((6, 7), tf.float32)
    assert _count(lambda a, b: tf.matmul(a, b, transpose_a=True), a, b) == 4 * 7 * 6


def test_a_dcgan_step_is_twelve_forward_passes_of_work():
    """`step_gflop_per_image` (4 G + 8 D forward passes) against the traced train step.

    The traced step also holds the input gradients of each network's first
    layer, which nothing reads (TensorFlow prunes them when it runs), so its
    count is a little higher, never lower.
    """
    import argparse

    from ganzoo.config import ModelConfig
    from ganzoo.data import DataSpec
    from ganzoo.registry import get_model

    args = argparse.Namespace(width=16, batch=8, channels=3)
    formula = benchmark.step_gflop_per_image(28, args)
    gan = get_model("dcgan").from_data_spec(DataSpec("b", (28, 28, 3), 0),
                                            ModelConfig(width=16), seed=0)
    gan.compile()
    traced = 2 * _count(lambda x, y: gan.train_step((x, y)),
                        tf.TensorSpec((8, 28, 28, 3), tf.float32),
                        tf.TensorSpec((8,), tf.int32)) / 8 / 1e9
    assert formula <= traced <= 1.1 * formula
