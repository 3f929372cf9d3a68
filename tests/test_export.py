"""The exported generator SavedModel: same images, TF Serving signature."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import build_tiny, compile_tiny

from ganzoo import export


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
