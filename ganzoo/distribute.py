"""`tf.distribute` strategies by name, created before any model or optimizer."""

import json
import os

import tensorflow as tf

from ganzoo.config import ConfigError


def get_strategy(name="default", num_cpu_devices=0):
    """Returns the `tf.distribute.Strategy` called `name`.

    Args:
        name: str. `default` (one device), `one_device`, `mirrored` (all local
            GPUs, or `num_cpu_devices` logical CPUs), `multi_worker`
            (`MultiWorkerMirroredStrategy` from the `TF_CONFIG` variable) or `tpu`.
        num_cpu_devices: int. With `mirrored` and no GPU, split the CPU into this
            many logical devices. Must be set before TensorFlow runs any op.

    Returns:
        A strategy; call `strategy.scope()` around model and optimizer creation.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy()
        devices = split_cpu(max(num_cpu_devices, 1))
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError(
                "train.strategy=multi_worker needs the TF_CONFIG environment variable "
                "(cluster and task); tools/launch_local.py writes one per worker."
            )
        json.loads(os.environ["TF_CONFIG"])  # fail early on malformed JSON
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.NotFoundError, RuntimeError) as e:
            raise ConfigError(
                f"train.strategy=tpu but no TPU was found ({e}). Run on a TPU VM, "
                "or use strategy=default/mirrored."
            ) from e
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(
        f"Unknown train.strategy {name!r}; choose default, one_device, mirrored, "
        "multi_worker or tpu."
    )


def split_cpu(num_devices):
    """Splits the physical CPU into `num_devices` logical devices; returns their names."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if num_devices > 1 and (current is None or len(current) != num_devices):
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices
            )
        except RuntimeError as e:
            raise ConfigError(
                f"Cannot split the CPU into {num_devices} devices after TensorFlow has "
                "started; set train.num_cpu_devices at the start of the process."
            ) from e
    return [f"/cpu:{i}" for i in range(max(num_devices, 1))]
