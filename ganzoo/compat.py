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
"""

import keras
import tensorflow as tf

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
