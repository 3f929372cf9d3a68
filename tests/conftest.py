"""Shared test set-up.

- Puts this folder on `sys.path` so tests can import helpers (`tfgan_oracle`,
  `gan_test_utils`).
- Splits the CPU into 2 logical devices before TensorFlow starts, so
  `MirroredStrategy` tests run here; single-device code uses `/cpu:0` as usual.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import ganzoo  # noqa: E402,F401  (sets TF_ENABLE_ONEDNN_OPTS before TensorFlow loads)

_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One 2-replica MirroredStrategy per test process (a second instance in the
    same process can collide on collective-op keys)."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
