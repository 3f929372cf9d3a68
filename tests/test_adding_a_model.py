"""README "Adding a model": the SN-GAN file there trains through the real CLI, unedited."""

import json
import os
import pathlib
import re
import subprocess
import sys

import keras
import pytest

import ganzoo
from ganzoo import cli, registry, run_dir

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _readme_family_file():
    section = README.read_text().split("## Adding a model", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(# my_sngan\.py\n.*?)```", section, re.S)
    assert block, "README's 'Adding a model' section lost its my_sngan.py block"
    return block.group(1)


def test_the_readme_family_file_trains_exports_and_reloads(tmp_path, monkeypatch):
    (tmp_path / "my_sngan.py").write_text(_readme_family_file())
    run = tmp_path / "runs" / "sngan"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(README.parent))
    command = [sys.executable, "-m", "ganzoo.train", "--import_module=my_sngan", "--model=sngan",
               "--steps=2", f"--model_dir={run}", "--set", "model.width=8",
               "--set", "model.latent_dim=8", "--set", "train.batch_size=8"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run / "saved_model" / "1" / "saved_model.pb").exists()
    config = (run / "config.yaml").read_text()
    # The family's overrides reached the run, nested builder keys included.
    assert "name: sngan" in config and "loss: hinge" in config
    assert "spectral_norm: true" in config and "norm: none" in config
    assert json.loads((run / "run.json").read_text())["ended"]["reason"] == "completed"
    # Where the module is not imported, loading names the fix (Keras alone ends in a long
    # TypeError that prints the whole config).
    monkeypatch.delitem(keras.saving.get_custom_objects(), "ganzoo>SNGAN", raising=False)
    with pytest.raises(run_dir.UnknownClassError,
                       match=r"module 'my_sngan'.*pass --import_module=my_sngan"):
        ganzoo.load_gan(str(run))
    # The saved model reloads where the module is importable (`--import_module` imports it
    # the same way); in this process, with the registry restored afterwards.
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    monkeypatch.delitem(sys.modules, "my_sngan", raising=False)
    cli.import_modules(["my_sngan"])
    loaded = keras.models.load_model(str(run / "model.keras"))
    assert type(loaded).__name__ == "SNGAN" and loaded.generate(2).shape == (2, 16, 16, 1)
    monkeypatch.delitem(sys.modules, "my_sngan")


def test_a_module_that_cannot_be_imported_is_bad_input(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.import_modules(["no_such_family"])
    assert exited.value.code == 2
    assert "--import_module=no_such_family cannot be imported" in capsys.readouterr().err
