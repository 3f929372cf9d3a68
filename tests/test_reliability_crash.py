"""Crash safety: the run lock, atomic finite-only checkpoints, corrupt-file fallback,
and a training process killed with SIGKILL mid-save and mid-epoch that resumes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from gan_test_utils import build_tiny, compile_tiny

import ganzoo
from ganzoo import run_dir, run_lock


def _tiny_gan():
    gan, _ = build_tiny("dcgan")
    return compile_tiny(gan)


# ------------------------------------------------------------------ the lock
def test_lock_refuses_a_live_process_and_names_it(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder = {"pid": sleeper.pid, "host": socket.gethostname(), "boot": run_lock._boot_id(),
                  "proc_start": run_lock._proc_start(sleeper.pid), "started": "then",
                  "argv": ["python", "-m", "ganzoo.train", "--model_dir=x"]}
        (tmp_path / ".lock").write_text(json.dumps(holder))
        with pytest.raises(run_lock.RunLockedError, match=f"pid {sleeper.pid}") as error:
            run_lock.RunLock(str(tmp_path)).acquire()
        assert "--model_dir" in str(error.value) and socket.gethostname() in str(error.value)
        # Another host's lock cannot be checked: refused, with how to clear it.
        (tmp_path / ".lock").write_text(json.dumps({**holder, "host": "elsewhere"}))
        with pytest.raises(run_lock.RunLockedError, match="delete"):
            run_lock.RunLock(str(tmp_path)).check()
    finally:
        sleeper.kill()
        sleeper.wait()
    # The same lock once its process is gone: stale, taken over with a warning.
    (tmp_path / ".lock").write_text(json.dumps(holder))
    lock = run_lock.RunLock(str(tmp_path)).acquire()
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / ".lock").exists()


def test_recycled_pid_is_stale(tmp_path, capsys):
    # The parent process is alive; with its own start time the lock is busy.
    parent = os.getppid()
    holder = {"pid": parent, "host": socket.gethostname(), "boot": run_lock._boot_id(),
              "proc_start": run_lock._proc_start(parent), "started": "then", "argv": []}
    (tmp_path / ".lock").write_text(json.dumps(holder))
    with pytest.raises(run_lock.RunLockedError, match=f"pid {parent}"):
        run_lock.RunLock(str(tmp_path)).acquire()
    # The same live pid with another start time is a recycled pid: the lock is stale.
    (tmp_path / ".lock").write_text(json.dumps({**holder, "proc_start": "1"}))
    lock = run_lock.RunLock(str(tmp_path)).acquire()
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert "stale lock" in capsys.readouterr().err
    lock.release()
    assert not (tmp_path / ".lock").exists()


# ----------------------------------------------------------- checkpoints
def test_non_finite_state_is_never_saved(tmp_path):
    gan = _tiny_gan()
    directory = str(tmp_path)
    good = run_dir.save_checkpoint(gan, directory, 2, keep=2, logs={"d_loss": 1.0})
    before = open(good, "rb").read()
    assert run_dir.save_checkpoint(gan, directory, 4, keep=2, logs={"d_loss": float("nan")}) is None
    weight = gan.discriminator.trainable_weights[0]
    weight.assign(np.full(weight.shape, np.inf, "float32"))
    assert run_dir.save_checkpoint(gan, directory, 4, keep=2, logs={"d_loss": 1.0}) is None
    assert sorted(os.listdir(directory)) == [os.path.basename(good), "index.json"]
    assert open(good, "rb").read() == before


def test_keeps_last_n_newest_healthy_and_best(tmp_path):
    gan, directory = _tiny_gan(), str(tmp_path)
    losses = {1: 0.5, 2: 0.2, 3: 0.9, 4: 0.8, 5: 0.7}
    for step, loss in losses.items():
        run_dir.save_checkpoint(gan, directory, step, keep=2, logs={"g_loss": loss},
                                healthy=step <= 3, best_metric="g_loss", best_mode="min")
    names = sorted(p for p in os.listdir(directory) if p.startswith("ckpt-"))
    # Last 2 (4, 5, both unhealthy) plus the newest healthy one (3); best (2) as best.keras.
    assert names == ["ckpt-00000003.keras", "ckpt-00000004.keras", "ckpt-00000005.keras"]
    index = run_dir.read_index(directory)
    assert index["best"]["step"] == 2 and index["best"]["value"] == 0.2
    assert os.path.exists(os.path.join(directory, "best.keras"))
    assert [os.path.basename(p) for p in run_dir.healthy_checkpoints(directory)] == [
        "ckpt-00000003.keras"]


def test_corrupt_newest_checkpoint_falls_back_to_the_previous(tmp_path, capsys):
    gan, directory = _tiny_gan(), str(tmp_path)
    first = run_dir.save_checkpoint(gan, directory, 2, keep=3)
    newest = run_dir.save_checkpoint(gan, directory, 4, keep=3)
    with open(newest, "r+b") as f:
        f.truncate(os.path.getsize(newest) // 2)  # a torn write
    model, path, skipped = run_dir.load_latest([first, newest])
    assert path == first and skipped == [newest] and model is not None
    assert "unreadable" in capsys.readouterr().err
    run_dir.quarantine(skipped)
    assert os.path.exists(newest + ".corrupt") and not os.path.exists(newest)
    with pytest.raises(RuntimeError, match="None of the checkpoints"):
        run_dir.load_latest([newest + ".corrupt"])


def test_run_json_keeps_a_history(tmp_path):
    run_dir.write_run_json(str(tmp_path), {"resumed_from_step": 0})
    run_dir.write_run_json(str(tmp_path), {"resumed_from_step": 8})
    record = json.loads((tmp_path / "run.json").read_text())
    assert [h["resumed_from_step"] for h in record["history"]] == [0, 8]
    assert record["resumed_from_step"] == 8 and record["command"] and record["tensorflow"]


# ------------------------------------------------------ killed processes
STEPS, EVERY = 24, 4
CMD = [sys.executable, "-m", "ganzoo.train", f"--steps={STEPS}", "--jit_compile=false",
       "--set", "model.width=8", "--set", "model.latent_dim=8", "--set", "train.batch_size=16",
       "--set", "train.steps_per_epoch=2", "--set", f"train.checkpoint_every={EVERY}",
       "--set", "train.sample_every=1000", "--set", "train.keep_checkpoints=2"]


def _train(run, **env):
    proc = subprocess.run([*CMD, f"--model_dir={run}"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})
    resumed = [int(line.rsplit("step ", 1)[1].rstrip(")")) for line in proc.stdout.splitlines()
               if line.startswith("Resuming from")]
    return proc, (resumed[0] if resumed else 0)


def _steps(run):
    return [run_dir._step_of(p) for p in run_dir.list_checkpoints(
        os.path.join(run, "checkpoints"))]


def _scalar_steps(run, tag="d_loss"):
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(os.path.join(run, "logs"),
                                             size_guidance={"tensors": 0})
    acc.Reload()
    return sorted({e.step for e in acc.Tensors(tag)})


@pytest.mark.e2e
def test_sigkill_during_save_and_during_a_step_then_resume(tmp_path):
    run = str(tmp_path / "run")
    start = time.time()
    # 1. Killed after the temporary file of step 8's checkpoint is written, before the rename.
    proc, resumed = _train(run, GANZOO_TEST_CRASH_IN_SAVE="8")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert _steps(run) == [0, 4] and resumed == 0
    assert os.path.exists(os.path.join(run, "checkpoints", ".tmp-ckpt-00000008.keras"))
    assert os.path.exists(os.path.join(run, ".lock"))  # left behind by the dead process
    # 2. Restarted with the same command: resumes from 4 (4 steps = one interval repeated),
    #    and is killed at the start of the batch after step 14, mid-epoch.
    proc, resumed = _train(run, GANZOO_TEST_CRASH_AT_STEP="14")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert resumed == 4 and 8 - resumed <= EVERY
    assert "stale lock" in proc.stderr
    assert _steps(run) == [8, 12]
    assert not os.path.exists(os.path.join(run, "checkpoints", ".tmp-ckpt-00000008.keras"))
    # 3. The same command again finishes the run: 2 steps (14 - 12) repeated.
    proc, resumed = _train(run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert resumed == 12 and 14 - resumed <= EVERY
    assert f"Trained to step {STEPS} (" in proc.stdout  # resumed after the crash
    for path in run_dir.list_checkpoints(os.path.join(run, "checkpoints")):
        assert int(ganzoo.load_gan(path).g_optimizer.iterations) == run_dir._step_of(path)
    assert int(ganzoo.load_gan(run).g_optimizer.iterations) == STEPS
    assert not os.path.exists(os.path.join(run, ".lock"))
    # TensorBoard continues at the right steps: every epoch end 2..24, nothing past the end.
    assert _scalar_steps(run) == list(range(2, STEPS + 1, 2))
    history = json.load(open(os.path.join(run, "run.json")))["history"]
    assert [h["resumed_from_step"] for h in history] == [0, 4, 12]
    print(f"crash test: {time.time() - start:.0f}s for 3 processes")
