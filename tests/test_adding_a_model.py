"""README "Adding a model": the SN-GAN file there trains through the real CLI, unedited."""

import json
import os
import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _readme_family_file():
    section = README.read_text().split("## Adding a model", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```python\n(# my_sngan\.py\n.*?)```", section, re.S)
    assert block, "README's 'Adding a model' section lost its my_sngan.py block"
    return block.group(1)


def test_the_readme_family_file_trains_exports_and_reloads(tmp_path):
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
    # The saved model reloads where the module is importable (as `--import_module` does).
    check = ("import sys, my_sngan, keras; m = keras.models.load_model(sys.argv[1]); "
             "print(type(m).__name__, m.generate(2).shape)")
    loaded = subprocess.run([sys.executable, "-c", check, str(run / "model.keras")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert "SNGAN (2, 16, 16, 1)" in loaded.stdout

    missing = subprocess.run([*command[:3], "--import_module=no_such_family", "--model=sngan"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert missing.returncode == 2
    assert "--import_module=no_such_family cannot be imported" in missing.stderr
