"""Preemption (`ganzoo.preemption`): SIGTERM/SIGINT save at the current step and exit 75.

- In process: handlers only in the main thread (also over an inherited
  SIG_IGN), the previous handlers come back; a signal mid-run raises `Preempted` after a
  checkpoint at that very step, run.json says why, the lock is released, and
  the same call resumes from there.
- The all-reduce that makes workers agree on the step, on a 2-replica strategy.
- e2e, `python -m ganzoo.train --deterministic`: SIGTERM mid-run exits 75 with a
  checkpoint at the last completed step, and the rerun finishes with weights
  and optimizer slots bit-identical to an uninterrupted run.
- A second signal kills at once, in the middle of a long step.
- e2e, two workers (`tools/launch_local.py`): SIGTERM to one worker stops both
  after the same step; only the chief writes the checkpoint.
"""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest

import ganzoo
from ganzoo import preemption, run_dir, train_lib

TINY = ["model.width=8", "model.latent_dim=8", "train.batch_size=16", "train.steps_per_epoch=8",
        "train.sample_every=1000", "train.checkpoint_every=16", "train.jit_compile=false"]


# ------------------------------------------------------------------- in process
def test_watcher_installs_in_the_main_thread_only_and_restores():
    before = {s: signal.getsignal(s) for s in preemption.SIGNALS}
    with preemption.SignalWatcher() as watcher:
        assert watcher.active
        assert all(signal.getsignal(s) == watcher._handle for s in preemption.SIGNALS)
    assert {s: signal.getsignal(s) for s in preemption.SIGNALS} == before
    seen = []

    def in_thread():
        with preemption.SignalWatcher() as w:
            seen.append(w.active)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen == [False]
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job
    try:
        with preemption.SignalWatcher() as watcher:
            assert signal.getsignal(signal.SIGINT) == watcher._handle
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_agreement_all_reduces_the_flag(mirrored_strategy):
    agree = preemption._agreement(mirrored_strategy)
    assert [agree(False), agree(True), agree(False)] == [False, True, False]
    assert not preemption._multi_worker(mirrored_strategy)  # one process: no collective


class _SignalAt(keras.callbacks.Callback):
    """Sends this process `sig` at the end of step `step` (as a cluster would, mid-run)."""

    def __init__(self, step, sig):
        super().__init__()
        self.at, self.sig = step, sig

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations.numpy()) == self.at:
            os.kill(os.getpid(), self.sig)


def test_signal_mid_run_saves_that_step_and_the_same_call_resumes(tmp_path):
    run = str(tmp_path / "run")
    config = train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=12"])
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(preemption.Preempted, match="SIGINT after step 5") as stopped:
        train_lib.run(config, run, verbose=0, extra_callbacks=[_SignalAt(5, signal.SIGINT)])
    assert signal.getsignal(signal.SIGINT) == before
    assert stopped.value.step == 5
    path = os.path.join(run, "checkpoints", "ckpt-00000005.keras")
    assert stopped.value.checkpoint == path
    assert int(ganzoo.load_gan(path).g_optimizer.iterations) == 5
    assert run_dir.read_index(os.path.join(run, "checkpoints"))["checkpoints"][
        "ckpt-00000005.keras"]["healthy"]
    assert not os.path.exists(os.path.join(run, ".lock"))
    ended = json.load(open(os.path.join(run, "run.json")))["ended"]
    assert ended["reason"] == "preempted" and ended["signal"] == "SIGINT"
    assert ended["step"] == 5 and ended["checkpoint"] == path
    assert not os.path.exists(os.path.join(run, "model.keras"))  # the run is not finished
    result = train_lib.run(config, run, verbose=0)
    assert result["steps"] == 12
    history = json.load(open(os.path.join(run, "run.json")))["history"]
    assert [(h["resumed_from_step"], h["ended"]["reason"]) for h in history] == [
        (0, "preempted"), (5, "completed")]


# -------------------------------------------------------------------------- e2e
STEPS = 40
# The CLI with a probe: prints every completed step and sleeps a little, so a
# signal lands mid-run; neither changes what is trained.
_PROBED_CLI = """
import sys, time, keras
from ganzoo import train, train_lib
class Probe(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print(f"probe: step {int(self.model.g_optimizer.iterations.numpy())}", flush=True)
        time.sleep(0.05)
run = train_lib.run
train_lib.run = lambda config, model_dir, **kw: run(config, model_dir, extra_callbacks=[Probe()])
sys.argv = ["ganzoo.train", *sys.argv[1:]]
train.run()
"""


def _args(run):
    return ["--deterministic", f"--steps={STEPS}", f"--model_dir={run}",
            *[a for s in TINY for a in ("--set", s)]]


class _Process:
    """A child process whose merged output is read line by line in the background."""

    def __init__(self, command):
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines, self._queue = [], queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern, timeout=120):
        """The first match of `pattern` in a new line (None if the process ends first)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.time()))
            except queue.Empty:
                break
            if line is None:
                return None
            if m := re.search(pattern, line):
                return m
        raise AssertionError(f"no {pattern!r} in {timeout}s:\n" + self.output())

    def wait(self, timeout=300):
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def output(self):
        return "\n".join(self.lines[-60:])

    def probed_steps(self):
        steps = (re.match(r"probe: step (\d+)$", line) for line in self.lines)
        return [int(m.group(1)) for m in steps if m]


def _state(run):
    gan = ganzoo.load_gan(os.path.join(run, "model.keras"))
    variables = [*gan.weights, *gan.d_optimizer.variables, *gan.g_optimizer.variables]
    return [keras.ops.convert_to_numpy(v) for v in variables]


@pytest.mark.e2e
def test_sigterm_saves_the_last_step_and_the_rerun_matches_an_uninterrupted_run(tmp_path):
    run, probed = str(tmp_path / "run"), [sys.executable, "-c", _PROBED_CLI]
    reference = _Process([sys.executable, "-m", "ganzoo.train", *_args(tmp_path / "reference")])
    # SIGTERM mid-epoch: the step in progress finishes, is saved, and the run exits 75.
    first = _Process([*probed, *_args(run)])
    first.wait_for(r"^probe: step (1[0-9])$")
    sent = time.time()
    first.proc.send_signal(signal.SIGTERM)
    assert first.wait() == preemption.EXIT_PREEMPTED, first.output()
    seconds = time.time() - sent
    last = first.probed_steps()[-1]
    assert 10 <= last < STEPS
    saved = os.path.join(run, "checkpoints", f"ckpt-{last:08d}.keras")
    assert f"Stopped by SIGTERM after step {last}; saved {saved}" in first.output()
    assert int(ganzoo.load_gan(saved).g_optimizer.iterations) == last
    ended = json.load(open(os.path.join(run, "run.json")))["ended"]
    assert (ended["reason"], ended["signal"], ended["step"]) == ("preempted", "SIGTERM", last)
    assert not os.path.exists(os.path.join(run, ".lock"))
    assert seconds < 20, seconds
    # The same command again resumes there and ends exactly where the uninterrupted run does.
    second = _Process([*probed, *_args(run)])
    assert second.wait() == 0, second.output()
    assert f"(step {last})" in next(line for line in second.lines if line.startswith("Resuming"))
    assert reference.wait() == 0, reference.output()
    expected, actual = _state(str(tmp_path / "reference")), _state(run)
    assert len(expected) == len(actual)
    for a, b in zip(expected, actual):
        np.testing.assert_array_equal(a, b)
    print(f"preemption e2e: SIGTERM -> exit {seconds:.1f}s, stopped after step {last}")


_LONG_STEP = """
import time
from ganzoo import preemption
with preemption.SignalWatcher():
    print("ready", flush=True)
    time.sleep(120)  # a step that does not end soon: the first signal only sets the flag
"""


def test_a_second_signal_exits_at_once():
    child = _Process([sys.executable, "-c", _LONG_STEP])
    child.wait_for("^ready$")
    child.proc.send_signal(signal.SIGINT)
    child.wait_for("SIGINT received: finishing the current step")
    sent = time.time()
    child.proc.send_signal(signal.SIGINT)
    assert child.wait(timeout=30) == -signal.SIGINT, child.output()
    assert time.time() - sent < 5


@pytest.mark.e2e
def test_sigterm_to_one_worker_stops_both_after_the_same_step(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(root, "tests"), os.environ.get("PYTHONPATH", "")]))
    sets = [a for s in ["model.width=8", "model.latent_dim=8", "train.steps_per_epoch=2",
                        "train.jit_compile=false", "train.checkpoint_every=100"]
            for a in ("--set", s)]
    launch = subprocess.Popen(
        [sys.executable, os.path.join(root, "tools", "launch_local.py"), "--num_workers=2",
         "--module=multi_worker_worker", "--", "--model=dcgan", "--batch_size=16",
         "--steps=400", f"--model_dir={run}", "--sleep_per_epoch=0.05", *sets],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, pid = [], None
    watchdog = threading.Timer(300, launch.kill)
    watchdog.start()
    try:
        for line in launch.stdout:
            lines.append(line.rstrip("\n"))
            if m := re.search(r"worker 1 started: pid (\d+)", line):
                pid = int(m.group(1))
            if re.search(r"\[worker 1\] probe: step 6$", line.rstrip()):
                os.kill(pid, signal.SIGTERM)  # one worker only, as a cluster may do
        code = launch.wait(timeout=60)
    finally:
        watchdog.cancel()
        if launch.poll() is None:
            launch.kill()
    out = "\n".join(lines)
    assert code == preemption.EXIT_PREEMPTED, out[-3000:]
    stops = {int(w): int(s) for w, s in re.findall(r"\[worker (\d)\] Stopped by .* after step "
                                                    r"(\d+)", out)}
    assert set(stops) == {0, 1} and stops[0] == stops[1], out[-3000:]
    assert "[worker 0] Stopped by a signal to another worker" in out
    step = stops[0]
    assert (run / "checkpoints" / f"ckpt-{step:08d}.keras").exists()
    assert json.load(open(run / "run.json"))["ended"]["step"] == step
    assert not [p for p in run.rglob("*") if "workertemp" in p.name]
    assert not (run / ".lock").exists()
