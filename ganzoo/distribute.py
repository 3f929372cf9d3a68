"""`tf.distribute` strategies by name, and what multi-worker training needs around them.

Every strategy gives the same update as one device on the same global batch
(`tests/test_distribute.py`, `tests/test_multi_worker.py`): the global batch is
split over the replicas, per-example losses are averaged over the global batch,
batch statistics are all-reduced and noise is sliced per replica (see
`ganzoo.models.base`).

Multi-worker runs (`MultiWorkerMirroredStrategy`, one process per host, the
cluster described by `TF_CONFIG`; `tools/launch_local.py` starts one on this
machine) follow the usual pattern: every worker runs the same program and
takes part in every collective, including the ones inside `model.save`, but only
the chief writes into the run directory. The others write into a scratch copy,
`<model_dir>/.workertemp_<index>`, removed when the run ends. The run directory
must be on storage every worker can read (NFS, a shared disk, `gs://`): a restarted job
resumes from the newest checkpoint there.
"""

import glob
import json
import os

import tensorflow as tf

from ganzoo import files
from ganzoo.config import STRATEGIES, ConfigError

_PARAMETER_SERVER_UNSUPPORTED = (
    "train.strategy=parameter_server is not supported: Keras 3's Model.fit has no "
    "ParameterServerStrategy integration (no ClusterCoordinator; fit fails with 'To use "
    "this dataset, you need to pass this dataset to "
    "ClusterCoordinator.create_per_worker_dataset'), and asynchronous parameter-server "
    "updates would break what ganzoo guarantees for distributed runs (the same update "
    "as one device: synchronized batch norm, noise keyed on the step). Use "
    "strategy=multi_worker (synchronous all-reduce over hosts; tools/launch_local.py) or "
    "strategy=mirrored (the GPUs of one host)."
)


def get_strategy(name="default", num_cpu_devices=0):
    """Returns the `tf.distribute.Strategy` called `name`.

    Args:
        name: str. `default` (one device), `one_device`, `mirrored` (all local
            GPUs, or `num_cpu_devices` logical CPUs), `multi_worker`
            (`MultiWorkerMirroredStrategy` from the `TF_CONFIG` variable) or `tpu`
            (a Cloud TPU named by `TPU_NAME`, or the TPU VM's own chips).
            `parameter_server` raises: Keras 3's `fit` cannot drive it.
        num_cpu_devices: int. With `mirrored` and no GPU, split the CPU into this
            many logical devices. Must be set before TensorFlow runs any op.

    Returns:
        A strategy; call `strategy.scope()` around model and optimizer creation.

    Raises:
        ConfigError: for an unknown name, `parameter_server`, a missing or
            malformed `TF_CONFIG`, or `tpu` without a TPU.

    Example:

    >>> strategy = get_strategy("mirrored", num_cpu_devices=2)
    >>> strategy.num_replicas_in_sync
    2
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
        tf_config()  # fail early, with the fix, on a missing or malformed TF_CONFIG
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "parameter_server":
        raise ConfigError(_PARAMETER_SERVER_UNSUPPORTED)
    if name == "tpu":
        return _tpu_strategy()
    raise ConfigError(
        f"Unknown train.strategy {name!r}; choose one of {', '.join(STRATEGIES[:4])} or tpu."
    )


def tf_config():
    """The parsed `TF_CONFIG` of a multi-worker run, checked for the keys it needs.

    Returns:
        dict with `cluster` (job name -> list of `host:port`) and `task`
        (`type`, `index`).

    Raises:
        ConfigError: naming what is missing, with an example.
    """
    example = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}\'')
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ConfigError(
            "train.strategy=multi_worker needs the TF_CONFIG environment variable on every "
            f"worker, e.g. {example}; tools/launch_local.py writes one per local worker."
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({e}); expected e.g. {example}.") from e
    cluster, task = value.get("cluster"), value.get("task")
    if not isinstance(cluster, dict) or not (cluster.get("worker") or cluster.get("chief")):
        raise ConfigError(f"TF_CONFIG needs a 'cluster' with a 'worker' list, e.g. {example}.")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ConfigError(
            f"TF_CONFIG needs a 'task' whose 'type' is a job of the cluster "
            f"({', '.join(cluster)}), e.g. {example}."
        )
    if not 0 <= int(task.get("index", 0)) < len(cluster[task["type"]]):
        raise ConfigError(f"TF_CONFIG task index {task.get('index')} is not in the cluster.")
    return value


def is_chief(strategy=None):
    """Whether this process writes the run directory.

    TensorFlow's own answer, `strategy.extended.should_checkpoint`: the `chief`
    task if the cluster has one, else worker 0; every process of a single-host
    strategy.
    """
    strategy = strategy or tf.distribute.get_strategy()
    return bool(strategy.extended.should_checkpoint)


def worker_dir(strategy, model_dir):
    """The directory this process writes: `model_dir` on the chief, a scratch copy elsewhere.

    A non-chief worker gets `<model_dir>/.workertemp_<task>`, emptied first (a
    killed worker's leftovers go) and seeded with the chief's checkpoints (hard
    links; they are only ever replaced, never rewritten) and their index, so it
    resumes from, and falls back to, the same checkpoints as the chief. Remove
    it with `remove_worker_dir` when the run ends.

    Args:
        strategy: the run's strategy.
        model_dir: str. The shared run directory.

    Returns:
        str. The directory to write checkpoints, samples, logs and exports into.
    """
    if is_chief(strategy):
        return model_dir
    resolver = strategy.cluster_resolver
    scratch = os.path.join(model_dir, f".workertemp_{resolver.task_type}_{resolver.task_id}")
    files.remove(scratch)
    files.gfile.makedirs(os.path.join(scratch, "checkpoints"))
    shared = os.path.join(model_dir, "checkpoints")
    for path in files.gfile.glob(os.path.join(shared, "ckpt-*.keras")):
        files.link_or_copy(path, os.path.join(scratch, "checkpoints", os.path.basename(path)))
    if files.isfile(os.path.join(shared, "index.json")):
        files.gfile.copy(os.path.join(shared, "index.json"),
                         os.path.join(scratch, "checkpoints", "index.json"), overwrite=True)
    return scratch


def remove_worker_dir(model_dir, written_dir):
    """Deletes a non-chief worker's scratch directory (no-op on the chief)."""
    if files.abspath(written_dir) != files.abspath(model_dir):
        files.remove(written_dir)


def check_batch_size(batch_size, strategy):
    """Raises unless the global batch splits evenly over the replicas.

    An uneven split would still run, but each replica would average its loss
    over a wrong global size and the noise slices would not line up: no longer
    the one-device update.
    """
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ConfigError(
            f"train.batch_size={batch_size} does not split evenly over {replicas} replicas; "
            f"use a multiple of {replicas} (it is the global batch, split over all devices "
            "of all workers)."
        )


def distribute_options(dataset, strategy):
    """Makes each worker read its slice of every global batch (multi-worker runs).

    `fit` hands the pipeline to `strategy.experimental_distribute_dataset`, which
    splits each global batch into per-replica batches. With several workers the
    input must also be sharded; DATA sharding gives worker i replica i's part
    of each global batch, so N workers see exactly the batches one process
    would. AUTO would pick FILE sharding for file-based data sets (each worker
    reading other files: different batches, and an error with fewer files than
    workers) and only fall back to DATA for in-memory data. The price of DATA:
    every worker reads the whole input pipeline.

    Args:
        dataset: the batched training `tf.data.Dataset` (global batch size).
        strategy: the run's strategy.

    Returns:
        The dataset, with the sharding option set when there are several workers.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


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


def _tpu_strategy():
    # Without a TPU name or local TPU chips, fail here: TPUClusterResolver would
    # otherwise ask the GCE metadata server, a network call that hangs off Cloud.
    tpu = os.environ.get("TPU_NAME") or ("local" if glob.glob("/dev/accel*") else None)
    if tpu is None:
        raise ConfigError(
            "train.strategy=tpu but no TPU here: set TPU_NAME to a Cloud TPU, or run on a "
            "TPU VM (/dev/accel*). Use strategy=default, mirrored or multi_worker elsewhere."
        )
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError, RuntimeError, ImportError) as e:
        raise ConfigError(
            f"train.strategy=tpu could not reach TPU {tpu!r} ({e}). Check TPU_NAME, or use "
            "strategy=default/mirrored."
        ) from e
    return tf.distribute.TPUStrategy(resolver)
