"""`ganzoo.loading` on bad files: truncated `.keras` archives, a run with a corrupt model.keras."""

import json
import os
import shutil
import types
import uuid

import numpy as np
import pytest
import tensorflow as tf

import ganzoo
from ganzoo import evaluate, export, run_dir
from ganzoo.loading import check_keras_archive, load_run_config, resolve_model_file


@pytest.fixture
def trained(tiny_dcgan_run):
    """A 4-step dcgan run with checkpoints at steps 2 and 4 (tests/conftest.py)."""
    return tiny_dcgan_run


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the trained run that a test may damage."""
    return shutil.copytree(trained, str(tmp_path / "run"))


def _truncate(path, size=5000):
    with open(path, "rb") as f:
        head = f.read(size)
    with open(path, "wb") as f:
        f.write(head)


def _checkpoints(run):
    folder = os.path.join(run, "checkpoints")
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".keras"))


def test_truncated_keras_file_is_named_not_reported_missing(trained, tmp_path, monkeypatch,
                                                            capsys):
    broken = str(tmp_path / "broken.keras")
    shutil.copy(os.path.join(trained, "model.keras"), broken)
    _truncate(broken)
    message = (r"'.*broken.keras' is not a valid .keras archive \(truncated or corrupt, "
               r"5,000 bytes\); copy it again from its source")
    for load in (ganzoo.load_gan, ganzoo.load_generator):
        with pytest.raises(ValueError, match=message):
            load(broken)
    # The same through gfile on a non-local file system.
    ram = f"ram://loading-{uuid.uuid4().hex[:8]}/broken.keras"
    tf.io.gfile.copy(broken, ram)
    with pytest.raises(ValueError, match=r"'ram://.*' is not a valid .keras archive"):
        ganzoo.load_gan(ram, compile=False)
    check_keras_archive(os.path.join(trained, "model.keras"))  # a good one passes
    # `python -m ganzoo.export --model_dir=broken.keras` (the report): exit 2 with the message.
    monkeypatch.setattr(export, "FLAGS", types.SimpleNamespace(
        model_dir=broken, export_dir=str(tmp_path / "export"), overwrite=False,
        max_images_per_request=16, models_config=None, serving_base_path=None))
    with pytest.raises(SystemExit) as exit_info:
        export.main(["ganzoo.export"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "not a valid .keras archive" in err
    assert "File not found" not in err and not os.path.exists(tmp_path / "export")


def test_truncated_checkpoint_file_suggests_its_run(run_copy):
    checkpoint = _checkpoints(run_copy)[-1]
    _truncate(checkpoint)
    with pytest.raises(ValueError, match=f"pass the run directory '{run_copy}' instead"):
        ganzoo.load_gan(checkpoint)


def test_corrupt_model_keras_falls_back_to_the_newest_good_checkpoint(run_copy, capsys,
                                                                     monkeypatch):
    checkpoints = _checkpoints(run_copy)
    assert len(checkpoints) >= 2, checkpoints
    newest, previous = checkpoints[-1], checkpoints[-2]
    _truncate(newest, 3000)  # a newest checkpoint that is corrupt too is skipped
    final = os.path.join(run_copy, "model.keras")
    _truncate(final)
    gan = ganzoo.load_gan(run_copy)
    warning = capsys.readouterr().err  # the warnings go to stderr, never stdout
    assert final in warning and previous in warning and "not a valid .keras archive" in warning
    assert f"checkpoint(s) {newest} are unreadable" in warning
    # `python -m ganzoo.evaluate` on that run: the same warnings, and stdout is its JSON alone.
    monkeypatch.setattr(evaluate, "FLAGS", types.SimpleNamespace(
        model_dir=run_copy, metrics="fid", num_samples=50, split="test", extractor="auto",
        seed=0, inception_weights=None, samples=None, dataset=None, image_size=None,
        data_dir=None, classes=None))
    evaluate.main(["ganzoo.evaluate"])
    captured = capsys.readouterr()
    assert json.loads(captured.out)["card"]["step"] == run_dir._step_of(previous)
    assert "not a valid .keras archive" in captured.err
    expected = ganzoo.load_gan(previous, compile=False).generate(3, seed=1)
    np.testing.assert_array_equal(np.asarray(gan.generate(3, seed=1)), np.asarray(expected))
    generator = ganzoo.load_generator(run_copy)  # the same fallback
    latent = gan.sample_latent(2, seed=0)
    np.testing.assert_allclose(np.asarray(generator(latent)),
                               np.asarray(gan.inference_generator(latent)), atol=1e-6)


def test_corrupt_model_keras_without_a_good_checkpoint_is_a_clear_error(run_copy):
    for path in _checkpoints(run_copy):
        _truncate(path, 3000)
    _truncate(os.path.join(run_copy, "model.keras"))
    with pytest.raises(ValueError, match=r"(?s)model.keras' is not a valid .keras archive "
                                         r"\(truncated or corrupt, 5,000 bytes\); the run has "
                                         r"no checkpoint that loads"):
        ganzoo.load_gan(run_copy)


def test_a_plain_file_is_not_a_run_or_keras_file(trained):
    with pytest.raises(ValueError, match=f"config.yaml' is a file, not a run directory or "
                                         f".keras file; pass its run directory '{trained}'"):
        resolve_model_file(os.path.join(trained, "config.yaml"))


def test_an_exported_saved_model_is_named_as_such(trained):
    exported = os.path.join(trained, "saved_model", "1")
    for load in (ganzoo.load_gan, load_run_config):  # load_run_config: evaluate's first step
        with pytest.raises(ValueError, match=f"is an exported SavedModel .* pass its run "
                                             f"directory '{trained}', or .*load_generator"):
            load(exported)
    assert ganzoo.load_generator(exported) is not None  # what it is for
