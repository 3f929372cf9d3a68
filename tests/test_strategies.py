"""Strategies by name: what each gives, and clear, immediate failures for the others.

No test here creates a MultiWorkerMirroredStrategy or a second MirroredStrategy
in the test process (either would reconfigure its collectives); those run in
worker processes in `test_multi_worker.py`.
"""

import os
import time
import types

import pytest
import tensorflow as tf

from ganzoo import distribute, train_lib
from ganzoo.config import ConfigError


def test_default_and_one_device():
    assert distribute.get_strategy("default") is tf.distribute.get_strategy()
    one = distribute.get_strategy("one_device")
    assert isinstance(one, tf.distribute.OneDeviceStrategy)
    assert one.num_replicas_in_sync == 1


def test_split_cpu_names_devices_and_refuses_late_resplit():
    # conftest split the CPU in 2 at start-up; asking again for 2 is a no-op.
    assert distribute.split_cpu(2) == ["/cpu:0", "/cpu:1"]
    with pytest.raises(ConfigError, match="num_cpu_devices"):
        distribute.split_cpu(3)


def test_mirrored_strategy_fixture_has_two_replicas(mirrored_strategy):
    assert mirrored_strategy.num_replicas_in_sync == 2
    assert distribute.is_chief(mirrored_strategy)


@pytest.mark.parametrize("value, match", [
    (None, "needs the TF_CONFIG environment variable"),
    ("{not json", "not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', "'cluster' with a 'worker' list"),
    ('{"cluster": {"worker": ["h:1"]}}', "needs a 'task'"),
    ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "worker", "index": 3}}', "index 3"),
])
def test_multi_worker_needs_a_valid_tf_config(monkeypatch, value, match):
    if value is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(ConfigError, match=match):
        distribute.get_strategy("multi_worker")


def test_tf_config_parsed(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:2"]}, '
                                    '"task": {"type": "worker", "index": 1}}')
    assert distribute.tf_config()["task"]["index"] == 1


def test_parameter_server_fails_immediately_and_says_what_to_use(tmp_path):
    with pytest.raises(ConfigError, match="multi_worker") as info:
        distribute.get_strategy("parameter_server")
    assert "ClusterCoordinator" in str(info.value)
    config = train_lib.resolve_config("dcgan", **{"train.strategy": "parameter_server"})
    with pytest.raises(ConfigError, match="parameter_server"):
        train_lib.run(config, str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run").exists()


def test_tpu_without_a_tpu_fails_fast_without_network(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    if any(p.startswith("accel") for p in os.listdir("/dev")):
        pytest.skip("this machine has TPU chips")
    start = time.time()
    with pytest.raises(ConfigError, match="TPU_NAME"):
        distribute.get_strategy("tpu")
    assert time.time() - start < 5


def test_unknown_strategy():
    with pytest.raises(ConfigError, match="mirrored"):
        distribute.get_strategy("horovod")


def test_chief_writes_the_run_directory_itself(tmp_path):
    run = str(tmp_path / "run")
    assert distribute.worker_dir(tf.distribute.get_strategy(), run) == run
    os.makedirs(run)
    distribute.remove_worker_dir(run, run)
    assert os.path.isdir(run)


def test_other_workers_write_a_seeded_scratch_copy(tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("ckpt-00000002.keras", "ckpt-00000004.keras", ".tmp-ckpt-00000006.keras",
                 "index.json"):
        (run / "checkpoints" / name).write_text(name)
    stale = run / ".workertemp_worker_1" / "samples"
    stale.mkdir(parents=True)  # left by a killed worker
    monkeypatch.setattr(distribute, "is_chief", lambda strategy=None: False)
    strategy = types.SimpleNamespace(
        cluster_resolver=types.SimpleNamespace(task_type="worker", task_id=1))
    scratch = distribute.worker_dir(strategy, str(run))
    assert scratch == str(run / ".workertemp_worker_1")
    assert not stale.exists()
    assert sorted(os.listdir(os.path.join(scratch, "checkpoints"))) == [
        "ckpt-00000002.keras", "ckpt-00000004.keras", "index.json"]
    # Same checkpoints as the chief's: a resume picks the same step on every worker.
    assert os.path.samefile(os.path.join(scratch, "checkpoints", "ckpt-00000004.keras"),
                            run / "checkpoints" / "ckpt-00000004.keras")
    distribute.remove_worker_dir(str(run), scratch)
    assert not os.path.exists(scratch)
    assert (run / "checkpoints" / "ckpt-00000004.keras").read_text() == "ckpt-00000004.keras"


def test_multi_worker_input_is_sharded_by_data():
    dataset = tf.data.Dataset.range(8).batch(4)
    assert distribute.distribute_options(dataset, tf.distribute.get_strategy()) is dataset
    # A strategy object of the multi-worker type, without starting its servers.
    fake = tf.distribute.MultiWorkerMirroredStrategy.__new__(
        tf.distribute.MultiWorkerMirroredStrategy)
    sharded = distribute.distribute_options(dataset, fake)
    assert (sharded.options().experimental_distribute.auto_shard_policy
            == tf.data.experimental.AutoShardPolicy.DATA)
    assert [b.tolist() for b in sharded.as_numpy_iterator()] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def _fit_dcgan(strategy, sync_batch_norm):
    from gan_test_utils import IMAGE_SPEC, all_weights, compile_tiny, tiny_batch

    from ganzoo.config import ModelConfig
    from ganzoo.registry import get_model

    norm = {"sync_batch_norm": sync_batch_norm}
    config = ModelConfig(width=8, latent_dim=8, generator=dict(norm), discriminator=dict(norm))
    with strategy.scope():
        gan = compile_tiny(get_model("dcgan").from_data_spec(IMAGE_SPEC, config, seed=4))
    x, y = tiny_batch(IMAGE_SPEC, batch_size=8)
    gan.fit(tf.data.Dataset.from_tensors((x, y)).repeat(), steps_per_epoch=1, verbose=0)
    return all_weights(gan)


def test_per_replica_batch_norm_breaks_equivalence(mirrored_strategy):
    """`sync_batch_norm: false` normalises each replica's half batch on its own:
    a documented trade (no collectives in BN), no longer the one-device update."""
    single = _fit_dcgan(tf.distribute.get_strategy(), sync_batch_norm=False)
    mirrored = _fit_dcgan(mirrored_strategy, sync_batch_norm=False)
    assert max(float(abs(a - b).max()) for a, b in zip(single, mirrored)) > 1e-4


def test_global_batch_must_split_evenly(mirrored_strategy):
    distribute.check_batch_size(16, mirrored_strategy)
    with pytest.raises(ConfigError, match="batch_size=15 .* 2 replicas"):
        distribute.check_batch_size(15, mirrored_strategy)
