"""The exported generator SavedModel: same images, TF Serving signature."""

import os
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import build_tiny, compile_tiny

from ganzoo import export
from ganzoo.loading import load_gan


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    gan, _ = build_tiny("dcgan")
    compile_tiny(gan)
    path = str(tmp_path_factory.mktemp("export") / "models" / "dcgan" / "1")
    export.export_generator(gan, path)
    return gan, path


def test_reloaded_saved_model_gives_the_same_images(exported):
    gan, path = exported
    latent = gan.sample_latent(5, seed=3)
    signature = tf.saved_model.load(path).signatures["serving_default"]
    images = signature(latent=tf.constant(latent))["images"].numpy()
    np.testing.assert_allclose(images, gan.generator(latent, training=False).numpy(), atol=1e-6)
    # Dynamic batch size.
    assert signature(latent=tf.constant(latent[:1]))["images"].shape[0] == 1


def test_saved_model_cli_lists_the_signature(exported):
    _, path = exported
    cli = shutil.which("saved_model_cli") or os.path.join(os.path.dirname(sys.executable),
                                                          "saved_model_cli")
    out = subprocess.run([cli, "show", "--dir", path, "--tag_set", "serve",
                          "--signature_def", "serving_default"],
                         capture_output=True, text=True, timeout=120).stdout
    assert "inputs['latent']" in out and "DT_FLOAT" in out and "(-1, 8)" in out
    assert "outputs['images']" in out and "(-1, 16, 16, 1)" in out
    assert "Method name is: tensorflow/serving/predict" in out


def test_default_limit_is_1024_images_per_request(exported):
    gan, path = exported
    loaded = tf.saved_model.load(path)
    assert int(loaded.max_images_per_request[0].numpy()) == export.DEFAULT_MAX_IMAGES_PER_REQUEST
    assert export.DEFAULT_MAX_IMAGES_PER_REQUEST == 1024
    fn, seed = loaded.signatures["generate_from_seed"], tf.constant(0, tf.int64)
    assert fn(seed=seed, num_images=tf.constant(1024))["images"].shape[0] == 1024
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than 1024"):
        fn(seed=seed, num_images=tf.constant(1025))
    with pytest.raises(tf.errors.InvalidArgumentError, match="latent has more than 1024 rows"):
        loaded.signatures["serving_default"](latent=tf.zeros([1025, gan.latent_dim]))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ganzoo.export", *args], capture_output=True,
                          text=True, timeout=300)


def test_cli_sets_the_limit(exported, tmp_path):
    gan, _ = exported
    gan.save(tmp_path / "gan.keras")
    path = tmp_path / "models" / "dcgan" / "1"
    proc = _cli("--model_dir", str(tmp_path / "gan.keras"), "--export_dir", str(path),
                "--max_images_per_request", "3", "--models_config", str(tmp_path / "m.config"),
                "--serving_base_path", "/models")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "at most 3 images per request" in proc.stdout
    assert 'base_path: "/models/dcgan"' in (tmp_path / "m.config").read_text()
    loaded = tf.saved_model.load(str(path))
    assert int(loaded.max_images_per_request[0].numpy()) == 3
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than 3"):
        loaded.signatures["generate_from_seed"](seed=tf.constant(0, tf.int64),
                                                num_images=tf.constant(4))
    proc = _cli("--model_dir", str(tmp_path / "gan.keras"), "--export_dir",
                str(tmp_path / "other" / "1"), "--max_images_per_request", "0")
    assert proc.returncode == 2 and "error: max_images_per_request" in proc.stderr, proc.stderr
    assert not os.path.exists(tmp_path / "other" / "1")


def test_export_never_overwrites_silently(exported):
    gan, path = exported
    with pytest.raises(FileExistsError, match="version"):
        export.export_generator(gan, path)


def test_export_without_tensorflow_serving_api_skips_only_the_warmup(exported, tmp_path,
                                                                     monkeypatch):
    gan, _ = exported
    # A None entry in sys.modules makes `import tensorflow_serving...` raise ImportError.
    monkeypatch.setitem(sys.modules, "tensorflow_serving", None)
    monkeypatch.setitem(sys.modules, "tensorflow_serving.apis", None)
    path = export.export_generator(gan, str(tmp_path / "m" / "1"))
    assert not os.path.exists(os.path.join(path, "assets.extra"))
    latent = gan.sample_latent(2, seed=1)
    images = tf.saved_model.load(path).signatures["serving_default"](latent=tf.constant(latent))
    np.testing.assert_allclose(images["images"].numpy(), gan.generate(2, seed=1), atol=1e-6)


@pytest.fixture
def run_dir(exported, tmp_path):
    """A run directory as `ganzoo.train` leaves it (model, checkpoint, config, run.json)."""
    gan, _ = exported
    run = tmp_path / "runs" / "run1"
    (run / "checkpoints").mkdir(parents=True)
    gan.save(run / "model.keras")
    shutil.copy(run / "model.keras", run / "checkpoints" / "ckpt-00000001.keras")
    (run / "config.yaml").write_text("model:\n  name: dcgan\n")
    (run / "run.json").write_text("{}\n")
    return run


def _snapshot(directory):
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_export_never_replaces_a_run_or_a_folder_that_is_not_an_export(exported, run_dir):
    gan, path = exported
    before = _snapshot(run_dir.parent)
    other = run_dir.parent.parent / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    # An export with the user's own file in it is not only an export.
    shutil.copytree(path, other / "1")
    (other / "1" / "notes.txt").write_text("mine too")
    cases = [(run_dir, str(run_dir)), (run_dir.parent, str(run_dir)), (run_dir, None),
             (run_dir.parent, None), (other, None), (other / "1", None)]
    for target, model_dir in cases:
        for overwrite in (False, True):
            with pytest.raises(FileExistsError, match="refusing to replace it") as e:
                export.export_generator(gan, str(target), overwrite=overwrite,
                                        model_dir=model_dir)
            assert "version folder" in str(e.value) and "overwrite" not in str(e.value)
    assert _snapshot(run_dir.parent) == before
    assert (other / "notes.txt").read_text() == "mine"
    assert (other / "1" / "notes.txt").read_text() == "mine too"
    assert not [p for p in run_dir.parent.parent.rglob(".tmp-*")]
    reloaded = load_gan(str(run_dir), compile=False)
    np.testing.assert_allclose(reloaded.generate(2, seed=1), gan.generate(2, seed=1), atol=1e-6)
    # A previous export is still replaced, in a run directory too (as `ganzoo.train` does).
    inside = run_dir / "saved_model" / "1"
    export.export_generator(gan, str(inside), model_dir=str(run_dir))
    assert export.export_generator(gan, str(inside), overwrite=True,
                                   model_dir=str(run_dir)) == str(inside)
    assert os.path.exists(inside / "saved_model.pb")


def test_export_never_replaces_a_file(exported, tmp_path):
    gan, _ = exported
    target = tmp_path / "f.txt"
    target.write_text("hi\n")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="is an existing file, not a directory"):
            export.export_generator(gan, str(target), overwrite=overwrite)
    with pytest.raises(FileExistsError, match="which is a file"):
        export.export_generator(gan, str(target / "1"))
    assert target.read_text() == "hi\n"
    assert sorted(os.listdir(tmp_path)) == ["f.txt"]


def test_export_refuses_an_empty_or_root_export_dir(exported):
    gan, _ = exported
    for bad in ("", " ", "/", "ram://"):
        with pytest.raises(ValueError, match="export_dir .*version folder"):
            export.export_generator(gan, bad, overwrite=True)


def test_models_config_must_be_a_file_and_its_folders_are_made(tmp_path):
    for bad, message in [("", "is empty"), (str(tmp_path), "is a directory")]:
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            export.write_models_config(bad, str(tmp_path))
    assert os.listdir(tmp_path) == []
    # An existing file that is not a models config (a run's config.yaml) is not replaced.
    other = tmp_path / "config.yaml"
    other.write_text("model:\n  name: dcgan\n")
    with pytest.raises(ValueError, match="not a TF Serving model_config_list file"):
        export.write_models_config(str(other), str(tmp_path))
    assert other.read_text() == "model:\n  name: dcgan\n"
    previous = tmp_path / "models.config"
    previous.write_text("model_config_list {\n}\n")
    export.write_models_config(str(previous), str(tmp_path))  # one of its own is rewritten
    # Missing folders are made, as for --export_dir (README: run from any directory).
    (tmp_path / "models" / "dcgan_digits").mkdir(parents=True)
    (tmp_path / "afile").write_text("")  # a file where a folder would have to be made
    with pytest.raises(ValueError, match="afile' is a file, so no folder can be made"):
        export.write_models_config(str(tmp_path / "afile" / "sub" / "m.config"), str(tmp_path))
    new = tmp_path / "no" / "m.config"
    assert export.write_models_config(str(new), str(tmp_path / "models"), "/models") == [
        "dcgan_digits"]
    assert 'base_path: "/models/dcgan_digits"' in new.read_text()


@pytest.mark.parametrize("flag_values, message", [
    ({"export_dir": "{run}", "overwrite": True}, "holds a training run|is or contains the model"),
    ({"export_dir": "{out}", "models_config": "{tmp}"}, "models_config .* is a directory"),
    ({"export_dir": "{out}", "models_config": ""}, "models_config .* is empty"),
    ({"export_dir": ""}, "export_dir .* is empty"),
])
def test_cli_refuses_bad_paths_before_writing_anything(run_dir, tmp_path, flag_values, message,
                                                       monkeypatch, capsys):
    # In process (export.main with its flags' values; test_cli_sets_the_limit runs the
    # real command): a subprocess per case cost 4 s of import.
    before = _snapshot(tmp_path)
    out = tmp_path / "models" / "dcgan" / "1"
    values = {"model_dir": str(run_dir), "overwrite": False, "models_config": None,
              "max_images_per_request": export.DEFAULT_MAX_IMAGES_PER_REQUEST,
              "serving_base_path": None}
    values.update({k: v.format(run=run_dir, out=out, tmp=tmp_path) if isinstance(v, str) else v
                   for k, v in flag_values.items()})
    monkeypatch.setattr(export, "FLAGS", types.SimpleNamespace(**values))
    with pytest.raises(SystemExit) as info:
        export.main([])
    stderr = capsys.readouterr().err
    assert info.value.code == 2, stderr[-3000:]
    error = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert error and re.search(message, error[0]), stderr[-3000:]
    assert "--overwrite" not in error[0]
    assert _snapshot(tmp_path) == before and not out.parent.exists()
    assert load_gan(str(run_dir), compile=False).latent_dim == 8
