"""`--deterministic`: reruns give bit-identical weights, and so does stop + resume.

Determinism (`tf.config.experimental.enable_op_determinism`) is process-wide
and cannot be turned off again, so the runs happen in child processes: one
through the CLI, one through `train_lib` (an uninterrupted run and a 2-step run
resumed to the end). Measured on this 2-core CPU: max |difference| 0.0 for
weights and both optimizers' slots, with and without --deterministic (CPU
kernels of this tiny DCGAN are deterministic already; the flag matters for GPU
kernels and for ops such as scatter/segment sums).
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import ganzoo

STEPS = 6
TINY = ["model.width=8", "model.latent_dim=8", "train.batch_size=16", "train.steps_per_epoch=2",
        "train.sample_every=1000", "train.checkpoint_every=2", "train.jit_compile=false"]

_LIBRARY_RUNS = """
import sys
from ganzoo import train_lib
root, steps, sets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def go(name, n):
    config = train_lib.resolve_config("dcgan", overrides=sets + [f"train.steps={n}"],
                                      **{"train.deterministic": True})
    train_lib.run(config, f"{root}/{name}", verbose=0)
go("straight", steps)
go("resumed", 2)
go("resumed", steps)
"""


def _state(run):
    gan = ganzoo.load_gan(os.path.join(run, "model.keras"))
    variables = [*gan.weights, *gan.d_optimizer.variables, *gan.g_optimizer.variables]
    return [keras.ops.convert_to_numpy(v) for v in variables]


@pytest.mark.e2e
def test_deterministic_reruns_and_resume_are_bit_identical(tmp_path):
    cli = subprocess.run(
        [sys.executable, "-m", "ganzoo.train", "--deterministic", f"--steps={STEPS}",
         f"--model_dir={tmp_path / 'cli'}", *[a for s in TINY for a in ("--set", s)]],
        capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr[-3000:]
    library = subprocess.run([sys.executable, "-c", _LIBRARY_RUNS, str(tmp_path), str(STEPS),
                              *TINY], capture_output=True, text=True, timeout=300)
    assert library.returncode == 0, library.stderr[-3000:]
    reference = _state(str(tmp_path / "cli"))
    for name in ("straight", "resumed"):
        other = _state(str(tmp_path / name))
        assert len(other) == len(reference)
        for a, b in zip(reference, other):
            np.testing.assert_array_equal(a, b, err_msg=name)
    record = json.load(open(tmp_path / "cli" / "run.json"))
    assert record["deterministic"] is True
    assert "-m ganzoo.train --deterministic" in record["command"]
    resumed = json.load(open(tmp_path / "resumed" / "run.json"))
    assert [h["resumed_from_step"] for h in resumed["history"]] == [0, 2]
