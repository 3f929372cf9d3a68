"""The CLI and the run directory: fast failures, outputs, resume."""

import json
import os
import subprocess
import sys
import time
import types

import numpy as np
import pytest
import tensorflow as tf
import yaml

import ganzoo
from ganzoo import hardware, tasks, train_lib
from ganzoo.config import ConfigError

TINY = ["model.width=8", "model.latent_dim=8", "train.batch_size=16", "train.steps_per_epoch=2",
        "train.sample_every=2", "train.checkpoint_every=2", "train.jit_compile=false"]


def _cli(*args, timeout=120):
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "ganzoo.train", *args], capture_output=True,
                          text=True, timeout=timeout)
    return proc, time.time() - start


def test_a_run_resumes_on_another_device_count(tmp_path):
    # 1 device for 2 steps, then 2 replicas (2 logical CPUs, a fresh process) up to 4.
    run, sets = tmp_path / "run", [a for s in TINY for a in ("--set", s)]
    proc, _ = _cli("--steps=2", f"--model_dir={run}", *sets, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc, _ = _cli("--steps=4", "--strategy=mirrored", "--num_cpu_devices=2",
                   f"--model_dir={run}", *sets, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Trained to step 4 (2 steps, resumed at step 2)" in proc.stdout
    config = yaml.safe_load((run / "config.yaml").read_text())["train"]
    assert (config["strategy"], config["num_cpu_devices"]) == ("mirrored", 2)


def test_unknown_model_fails_fast_with_the_list(tmp_path):
    proc, seconds = _cli("--model=nope", f"--model_dir={tmp_path / 'run'}")
    assert proc.returncode != 0
    assert "Unknown model 'nope'" in proc.stderr and "dcgan" in proc.stderr
    assert seconds < 60
    assert not (tmp_path / "run").exists()


def test_offline_tfds_fails_fast_and_says_what_to_do(tmp_path):
    proc, seconds = _cli("--dataset=mnist", f"--data_dir={tmp_path / 'tfds'}",
                         f"--model_dir={tmp_path / 'run'}")
    assert proc.returncode != 0
    assert "mnist" in proc.stderr and "data_dir" in proc.stderr
    assert "digits" in proc.stderr  # points at the offline default
    assert seconds < 60
    assert not (tmp_path / "run").exists()


def test_bad_set_key_fails_before_training(tmp_path):
    proc, _ = _cli("--set", "train.stepz=3", f"--model_dir={tmp_path / 'run'}")
    assert proc.returncode != 0 and "train.stepz" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_run_directory_contents_and_resume(tmp_path):
    run_dir = str(tmp_path / "run")
    config = train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=4"])
    result = train_lib.run(config, run_dir, verbose=0)
    assert result["steps"] == 4
    for name in ("config.yaml", "run.json", "model.keras", "samples.png",
                 "saved_model/1/saved_model.pb", "checkpoints/ckpt-00000004.keras"):
        assert os.path.exists(os.path.join(run_dir, name)), name
    assert os.listdir(os.path.join(run_dir, "samples"))
    assert any(f.startswith("events") for f in os.listdir(os.path.join(run_dir, "logs")))
    # Re-running with more steps resumes from the checkpoint instead of restarting.
    config = train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=6"])
    result = train_lib.run(config, run_dir, verbose=0)
    assert result["steps"] == 6
    gan = ganzoo.load_gan(run_dir)
    assert int(gan.g_optimizer.iterations) == 6


def test_finished_run_checkpoints_its_last_step_and_extends_from_it(tmp_path):
    """The last step is saved even when it is no checkpoint interval (here 3 of every 2)."""
    run_dir = str(tmp_path / "run")
    overrides = TINY + ["train.steps_per_epoch=1", "train.steps=3"]
    train_lib.run(train_lib.resolve_config("dcgan", overrides=overrides), run_dir, verbose=0)
    saved = sorted(os.listdir(os.path.join(run_dir, "checkpoints")))
    assert "ckpt-00000003.keras" in saved, saved
    result = train_lib.run(train_lib.resolve_config("dcgan", overrides=overrides[:-1] + [
        "train.steps=4"]), run_dir, verbose=0)
    with open(os.path.join(run_dir, "run.json")) as f:
        record = json.load(f)
    assert record["resumed_from_step"] == 3
    assert result["steps"] == 4
    # The fast-path choice and its reason (TINY sets jit_compile); the precision is
    # `auto`'s choice on this CPU, kept on resume (test_mixed_precision.py).
    speed = record["speed"]
    assert speed["jit_compile"] is False
    assert speed["jit_compile_reason"] == "set by train.jit_compile"
    config = train_lib.resolve_config("dcgan", overrides=overrides)
    mode, _ = hardware.default_precision(tf.distribute.get_strategy(),
                                          tasks.get_task("dcgan"), config)
    assert speed["mixed_precision"] == mode
    assert speed["mixed_precision_reason"].startswith("resumed")
    # Left to the default, a CPU with oneDNN on takes graph mode with AVX-512
    # and XLA without it (tools/results/step_rate.md); multi-replica CPU runs
    # never take XLA.
    jit, reason = hardware.fast_path(tf.distribute.get_strategy())
    if hardware.cpu_has_avx512() is False:
        assert jit is True and "without AVX-512" in reason
    else:
        assert jit is False and "oneDNN on" in reason


def test_fast_path_by_cpu(monkeypatch):
    one, two = tf.distribute.get_strategy(), types.SimpleNamespace(num_replicas_in_sync=2)
    monkeypatch.setattr(hardware, "cpu_has_avx512", lambda: False)
    assert hardware.fast_path(one)[0] is True
    assert hardware.fast_path(two) == (False, "XLA does not support multi-replica CPU "
                                               "strategies")
    # A family whose step was no faster under XLA there keeps graph mode.
    for name, jit in (("ssgan", False), ("acgan", False), ("cgan", True), ("dcgan", True)):
        config = train_lib.resolve_config(name)
        assert hardware.fast_path(one, tasks.get_task(name), config)[0] is jit, name
    monkeypatch.setattr(hardware, "cpu_has_avx512", lambda: True)
    assert hardware.fast_path(one)[0] is False
    monkeypatch.setattr(hardware, "cpu_has_avx512", lambda: None)  # unknown: as measured
    assert hardware.fast_path(one)[0] is False
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert hardware.fast_path(one)[0] is True


def test_resume_with_incompatible_config_is_refused_and_keeps_the_run(tmp_path):
    run_dir = str(tmp_path / "run")
    train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=2"]),
                  run_dir, verbose=0)
    before = {p: os.path.getmtime(os.path.join(run_dir, p)) for p in os.listdir(run_dir)}
    changed = train_lib.resolve_config("dcgan", overrides=TINY + ["model.width=16"])
    with pytest.raises(ConfigError, match="model.width"):
        train_lib.run(changed, run_dir, verbose=0)
    after = {p: os.path.getmtime(os.path.join(run_dir, p)) for p in os.listdir(run_dir)}
    assert before == after


def test_resume_continues_the_same_trajectory(tmp_path):
    """4 steps in one go == 2 steps, stop, resume for 2 more (same data, noise, state)."""
    straight = train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=4"]),
                             str(tmp_path / "a"), verbose=0)["model"]
    train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=2"]),
                  str(tmp_path / "b"), verbose=0)
    resumed = train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=4"]),
                            str(tmp_path / "b"), verbose=0)["model"]
    for a, b in zip(straight.generator.weights, resumed.generator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_load_generator_from_run_keras_and_saved_model(tmp_path):
    run_dir = str(tmp_path / "run")
    gan = train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=2"]),
                        run_dir, verbose=0)["model"]
    latent = gan.sample_latent(3, seed=1)
    expected = gan.generator(latent, training=False).numpy()
    for path in (run_dir, os.path.join(run_dir, "model.keras"),
                 os.path.join(run_dir, "saved_model", "1")):
        generator = ganzoo.load_generator(path)
        np.testing.assert_allclose(np.asarray(generator(latent)), expected, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="run directory"):
        ganzoo.load_generator(str(tmp_path / "missing"))
