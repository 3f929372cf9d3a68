"""Fine-tuning: FreezeD, --init_from runs from presets and run directories, data.classes."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from gan_test_utils import build_tiny, compile_tiny, fit_steps

import ganzoo
from ganzoo import data, finetune, presets, train_lib
from ganzoo.config import ConfigError
from ganzoo.metrics import control
from ganzoo.presets import PresetError

# A few hundred steps at the preset's own learning rate, FreezeD on D's first
# block: measured 0.43 -> 0.65 of samples classified 0-4 (300 steps: 0.59).
FINETUNE_STEPS = 500


def test_frozen_blocks_stay_bit_identical():
    gan, spec = build_tiny("dcgan")
    compile_tiny(gan)
    finetune.prepare(gan, freeze_d_blocks=1, learning_rate_scale=0.5)
    assert np.isclose(float(gan.d_optimizer.learning_rate), 1e-4)
    frozen = [w for layer in finetune.discriminator_blocks(gan.discriminator)[0]
              for w in layer.weights]
    before = [w.numpy().copy() for w in frozen]
    rest = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    fit_steps(gan, spec, steps=2)
    for old, w in zip(before, frozen):
        np.testing.assert_array_equal(old, w.numpy())
    assert any(not np.array_equal(o, w.numpy())
               for o, w in zip(rest, gan.discriminator.trainable_weights))
    with pytest.raises(ValueError, match="freeze_d_blocks"):
        finetune.prepare(gan, freeze_d_blocks=99)


# ------------------------------------------------------------ --init_from runs
TINY_RUN = ["train.steps=2", "train.batch_size=16", "train.steps_per_epoch=2",
            "train.sample_every=2", "train.checkpoint_every=2", "train.jit_compile=false"]


def _tree_digest(path):
    """sha256 and mtime of every file under `path`."""
    out = {}
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                out[full] = (hashlib.sha256(f.read()).hexdigest(), os.stat(full).st_mtime_ns)
    return out


def _first_d_block(gan):
    return [w.numpy() for layer in finetune.discriminator_blocks(gan.discriminator)[0]
            for w in layer.weights]


def test_init_from_preset_cli_then_from_run_dir(tmp_path):
    source = presets.preset_dir("dcgan_digits")
    before = _tree_digest(source)
    preset_gan = ganzoo.from_preset("dcgan_digits", compile=False)
    first = tmp_path / "from_preset"
    proc = subprocess.run(
        [sys.executable, "-m", "ganzoo.train", "--init_from=dcgan_digits", "--freeze_d_blocks=1",
         "--learning_rate_scale=0.5", f"--model_dir={first}",
         *[f"--set={s}" for s in TINY_RUN]], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Initialized from dcgan_digits (its step 3000)" in proc.stdout  # the preset's card
    config = yaml.safe_load((first / "config.yaml").read_text())
    assert config["train"]["init_from"] == "dcgan_digits"
    assert config["model"] == yaml.safe_load(open(os.path.join(source, "config.yaml")))["model"]
    tuned = ganzoo.load_gan(str(first))
    assert int(tuned.g_optimizer.iterations.numpy()) == 2
    assert np.isclose(float(tuned.g_optimizer.learning_rate), 1e-4)  # 2e-4 x 0.5
    for old, new in zip(_first_d_block(preset_gan), _first_d_block(tuned)):
        np.testing.assert_array_equal(old, new)  # frozen: still the preset's weights
    assert _tree_digest(source) == before  # the preset is only read

    # From a run directory, through the library the CLI calls.
    run_before = _tree_digest(first)
    second = tmp_path / "from_run"
    config = train_lib.resolve_config(init_from=str(first), overrides=TINY_RUN,
                                      **{"train.freeze_d_blocks": 1})
    result = train_lib.run(config, str(second), verbose=0)
    for old, new in zip(_first_d_block(preset_gan), _first_d_block(result["model"])):
        np.testing.assert_array_equal(old, new)
    assert finetune.initialize_from(result["model"], str(first)) == 2  # the source's step
    assert _tree_digest(first) == run_before


def test_init_from_refuses_other_families_shapes_and_its_own_directory(tmp_path):
    config = train_lib.resolve_config(init_from="dcgan_digits",
                                      overrides=[*TINY_RUN, "model.width=16"])
    with pytest.raises(ConfigError, match="discriminator shapes differ|generator shapes differ"):
        train_lib.run(config, str(tmp_path / "a"), verbose=0)
    config = train_lib.resolve_config("wgan_gp", init_from="dcgan_digits",
                                      overrides=[*TINY_RUN, "model.width=32"])
    with pytest.raises(ConfigError, match="holds a DCGAN model, but this run builds a WGANGP"):
        train_lib.run(config, str(tmp_path / "b"), verbose=0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    run = tmp_path / "run"
    train_lib.run(train_lib.resolve_config(init_from="dcgan_digits", overrides=TINY_RUN),
                  str(run), verbose=0)
    config = train_lib.resolve_config(init_from=str(run), overrides=TINY_RUN)
    with pytest.raises(ConfigError, match="needs its own new run directory"):
        train_lib.run(config, str(run / "inner"), verbose=0)
    with pytest.raises(PresetError, match="Unknown preset 'nope'"):
        train_lib.resolve_config(init_from="nope")


def test_data_classes_keeps_only_those_labels():
    ds, spec = data.load("digits", "train")
    subset, sub_spec = data.select_classes(ds, spec, [0, 1, 2, 3, 4])
    labels = np.array([int(y) for _, y in subset.as_numpy_iterator()])
    assert set(labels) == {0, 1, 2, 3, 4} and len(labels) == sub_spec.num_examples
    assert sub_spec.num_classes == 10 and 0 < sub_spec.num_examples < spec.num_examples
    with pytest.raises(ConfigError, match=r"outside \[0, 9\]"):
        data.select_classes(ds, spec, [3, 12])
    with pytest.raises(ConfigError, match="data.classes"):
        train_lib.resolve_config(overrides=["data.classes=[]"])
    with pytest.raises(ConfigError, match="data.classes"):
        train_lib.resolve_config(overrides=["data.classes=[1, 1.5]"])


@pytest.mark.e2e
def test_finetune_dcgan_preset_on_digits_0_to_4_shifts_its_classes(tmp_path):
    """Fine-tuning on digits 0-4 only moves the samples' class histogram (judged
    by the shipped digits CNN, trained on real data only) toward 0-4; FreezeD's
    frozen D block stays bit-identical."""
    classifier = control.reference_classifier("digits")
    preset_gan = ganzoo.from_preset("dcgan_digits", compile=False)
    before = np.bincount(classifier.predict(preset_gan.generate(1000, seed=1)), minlength=10)
    config = train_lib.resolve_config(
        init_from="dcgan_digits",
        overrides=["data.classes=[0, 1, 2, 3, 4]", f"train.steps={FINETUNE_STEPS}",
                   "train.freeze_d_blocks=1", "train.steps_per_epoch=100",
                   "train.sample_every=1000", "train.checkpoint_every=1000"])
    gan = train_lib.run(config, str(tmp_path / "run"), verbose=0)["model"]
    after = np.bincount(classifier.predict(gan.generate(1000, seed=1)), minlength=10)
    low_before, low_after = before[:5].sum() / 1000, after[:5].sum() / 1000
    print(f"fraction of samples classified 0-4: {low_before:.3f} -> {low_after:.3f}; "
          f"histogram before {before.tolist()}, after {after.tolist()}")
    # Margins of about 0.05 on each side of the measured run (0.43 -> 0.65).
    assert low_before < 0.5 and low_after >= 0.6 and low_after - low_before >= 0.15
    for old, new in zip(_first_d_block(preset_gan), _first_d_block(gan)):
        np.testing.assert_array_equal(old, new)
