"""A run directory on a non-local file system (`ram://`, TF's in-memory one), end to end:
train, checkpoint, resume, export, evaluate, load; plus the atomic-write helper and the
best-effort lock there."""

import json
import os
import socket
import uuid

import numpy as np
import pytest
import tensorflow as tf

import ganzoo
from ganzoo import evaluate, export, files, finetune, presets, run_dir, run_lock, train_lib
from ganzoo.config import ConfigError

gfile = tf.io.gfile
TINY = ["model.width=8", "model.latent_dim=8", "train.batch_size=16", "train.steps_per_epoch=2",
        "train.sample_every=2", "train.checkpoint_every=2", "train.jit_compile=false"]


def _ram(name):
    return f"ram://{name}-{uuid.uuid4().hex[:8]}"


def _tree(root):
    """Every file under `root`, relative to it."""
    return {os.path.relpath(os.path.join(d, f), root)
            for d, _, names in gfile.walk(root) for f in names}


def test_train_resume_export_evaluate_and_load_on_ram(tmp_path):
    run = _ram("run")
    train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=2"]), run,
                  verbose=0)
    written = _tree(run)
    for name in ("config.yaml", "run.json", "model.keras", "samples.png",
                 "samples/step_00000002.png", "checkpoints/ckpt-00000002.keras",
                 "checkpoints/index.json", "saved_model/1/saved_model.pb",
                 "saved_model/1/assets.extra/tf_serving_warmup_requests"):
        assert name in written, "\n".join(sorted(written))
    assert any(n.startswith("logs/events") for n in written)
    # Nothing half-written is left, and the finished run released its lock.
    assert not [n for n in written if os.path.basename(n).startswith(files.TMP_PREFIX)]
    assert ".lock" not in written
    assert not os.path.exists(run.replace("ram://", ""))  # nothing went to a local folder

    # More steps resume from the ram:// checkpoint.
    result = train_lib.run(
        train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=4"]), run, verbose=0)
    assert result["steps"] == 4
    record = files.read_json(os.path.join(run, "run.json"))
    assert record["resumed_from_step"] == 2 and len(record["history"]) == 2
    assert run_dir.list_checkpoints(os.path.join(run, "checkpoints"))[-1].endswith(
        "ckpt-00000004.keras")

    # A ram:// run can seed a fine-tuning run, but not one inside itself.
    assert finetune.source_config(run)["model"]["name"] == "dcgan"
    with pytest.raises(ConfigError, match="inside --init_from"):
        train_lib._check_init_from(run, os.path.join(run, "finetuned"))

    # Loading: the GAN with its optimizers, the generator, the exported SavedModel.
    gan = ganzoo.load_gan(run)
    assert int(gan.g_optimizer.iterations) == 4
    latent = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    expected = np.asarray(gan.generator(latent, training=False))
    np.testing.assert_allclose(ganzoo.load_generator(run)(latent), expected, atol=1e-6)
    served = ganzoo.load_generator(os.path.join(run, "saved_model", "1"))
    np.testing.assert_allclose(served(latent), expected, atol=1e-5)

    # What the export CLI does (a subprocess cannot see ram://), from ram:// to ram:// with
    # the TF Serving config, and to a local folder.
    models = _ram("models")
    export.export_generator(ganzoo.load_gan(run, compile=False), f"{models}/dcgan/1")
    export.write_models_config(f"{models}/models.config", models)
    assert gfile.exists(f"{models}/dcgan/1/saved_model.pb")
    assert f'base_path: "{models}/dcgan"' in files.read_text(f"{models}/models.config")
    local = export.export_generator(gan, str(tmp_path / "export" / "1"))
    assert os.path.isfile(os.path.join(local, "saved_model.pb"))
    assert os.listdir(tmp_path / "export") == ["1"]  # no temporary directory left

    # Evaluation writes its metric card into the ram:// run.
    result = evaluate.evaluate(run, ["fid"], num_samples=64)
    assert files.read_json(os.path.join(run, "metrics.json")) == json.loads(json.dumps(result))
    assert result["card"]["run"] == run
    assert np.isfinite(result["metrics"]["fid"])


def test_preset_on_ram_verifies_its_checksum_and_loads():
    source = os.path.join(presets.builtin_dir(), "dcgan_digits")
    target = _ram("preset")
    gfile.makedirs(target)
    for name in presets.PRESET_FILES:
        gfile.copy(os.path.join(source, name), os.path.join(target, name))
    name = os.path.basename(target)
    presets.register_preset(name, target)
    try:
        assert presets.preset_dir(name) == target
        assert ganzoo.from_preset(name, compile=False).generate(2, seed=0).shape == (2, 16, 16, 1)
        model = os.path.join(target, "model.keras")
        assert files.sha256_of_file(model) == presets.load_card(name)["model_sha256"]
        with gfile.GFile(model, "rb") as f:
            data = f.read()
        with gfile.GFile(model, "wb") as f:
            f.write(data + b"x")  # changed after the card was written
        with pytest.raises(presets.PresetError, match="Checksum mismatch"):
            ganzoo.from_preset(name)
    finally:
        presets.unregister_preset(name)


@pytest.mark.parametrize("where", ["local", "ram"])
def test_atomic_write_keeps_the_old_file_when_the_write_fails(where, tmp_path):
    root = str(tmp_path) if where == "local" else _ram("atomic")
    path = os.path.join(root, "sub", "report.json")
    files.write_json(path, {"a": 1})
    with pytest.raises(RuntimeError):
        with files.atomic_path(path) as tmp:
            with gfile.GFile(tmp, "w") as f:
                f.write("{half")
            raise RuntimeError("crash while writing")
    assert files.read_json(path) == {"a": 1}
    assert gfile.listdir(os.path.join(root, "sub")) == ["report.json"]


def test_lock_on_ram_is_best_effort_but_refuses_another_hosts_run():
    run = _ram("locked")
    lock = run_lock.RunLock(run).acquire()
    assert files.read_json(os.path.join(run, ".lock"))["pid"] == os.getpid()
    lock.release()
    assert not gfile.exists(os.path.join(run, ".lock"))
    files.write_json(os.path.join(run, ".lock"), {"pid": 1, "host": socket.gethostname() + "x",
                                                  "started": "then", "argv": []})
    with pytest.raises(run_lock.RunLockedError, match="delete"):
        run_lock.RunLock(run).acquire()


def test_ram_file_system_still_lists_by_prefix():
    """Why `files.move` and `files.remove` glob instead of listing or renaming on ram://.

    When this fails, TensorFlow's ram:// lists and renames directories properly;
    `files._tree` and the ram:// branch of `files.remove` can then go.
    """
    root = _ram("quirk")
    files.atomic_write(f"{root}/assets.extra/x", "1")
    gfile.makedirs(f"{root}/assets")
    assert ".extra" in gfile.listdir(f"{root}/assets")  # a sibling, listed as a child
    gfile.rename(f"{root}/assets.extra", f"{root}/renamed")
    assert not gfile.exists(f"{root}/renamed/x") and gfile.exists(f"{root}/assets.extra/x")
    files.move(f"{root}/assets.extra", f"{root}/moved")
    assert files.read_text(f"{root}/moved/x") == "1"
    assert not gfile.exists(f"{root}/assets.extra/x")
    files.remove(root)
    assert not gfile.glob(f"{root}*")


@pytest.mark.parametrize("where", ["local", "ram"])
def test_an_unreadable_run_json_is_kept_not_replaced(where, tmp_path):
    """Its history is lost to the new run.json, so the old bytes are kept beside it."""
    folder = str(tmp_path) if where == "local" else f"ram://corrupt_{uuid.uuid4().hex}"
    tf.io.gfile.makedirs(folder)
    files.atomic_write(os.path.join(folder, "run.json"), '{"history": [truncated')
    run_dir.write_run_json(folder)
    (kept,) = tf.io.gfile.glob(os.path.join(folder, "run.json.corrupt-*"))
    assert files.read_text(kept) == '{"history": [truncated'
    assert len(files.read_json(os.path.join(folder, "run.json"))["history"]) == 1
