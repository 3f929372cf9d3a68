"""Data requirements: refused up front when training needs them, skipped when only the report does.

- `validation.unmet_requirement` names the need and the fix for each kind.
- Families declare them: cgan/acgan need labels; ssgan labels, enough of each
  class and a test split; infogan's report wants labels and a test split.
- cgan on an unlabeled folder is refused before the run directory exists.
- infogan on a labelled folder without `test/` trains, exits 0 and lists
  `q_test_accuracy` under `skipped` in report.json; a report that raises only warns.
"""

import json
import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from PIL import Image

from ganzoo import train as cli
from ganzoo import train_lib, validation
from ganzoo.config import ConfigError
from ganzoo.data import DataSpec
from ganzoo.data.digits import digits_arrays
from ganzoo.registry import list_models
from ganzoo.tasks import get_task

TINY = ["model.width=8", "model.latent_dim=8", "train.batch_size=16", "train.steps_per_epoch=2",
        "train.sample_every=1000", "train.checkpoint_every=2", "train.jit_compile=false"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """`labeled/<class>/` (8 digits of each of 0-9, no test split) and `unlabeled/`."""
    root = tmp_path_factory.mktemp("folders")
    images, labels = digits_arrays("train")
    pixels = np.round((images[..., 0] + 1) * 127.5).astype(np.uint8)
    for k in range(10):
        (root / "labeled" / str(k)).mkdir(parents=True)
        for i in np.flatnonzero(labels == k)[:8]:
            Image.fromarray(pixels[i]).save(root / "labeled" / str(k) / f"{i}.png")
    (root / "unlabeled").mkdir()
    for i in range(20):
        Image.fromarray(pixels[i]).save(root / "unlabeled" / f"{i}.png")
    return root


def _config(name, folder, *extra):
    return train_lib.resolve_config(name, overrides=[*TINY, *extra],
                                    **{"data.name": f"folder:{folder}"})


def test_unmet_requirement_names_the_need_and_the_fix(folders):
    R, unmet = validation.Requirements, validation.unmet_requirement
    unlabeled = DataSpec(f"folder:{folders}/unlabeled", (16, 16, 1))
    config = _config("dcgan", folders / "labeled")
    assert "sub-folder of images per class" in unmet(R(labels=True), unlabeled, config)
    assert "mnist" in unmet(R(labels=True), DataSpec("ring8", (2,)), config)
    labeled = DataSpec("x", (16, 16, 1), num_classes=3)
    assert unmet(R(labels=True, min_classes=3), labeled, config) is None
    assert unmet(R(min_classes=4), labeled, config) == (
        "at least 4 classes, and data set 'x' has 3")
    assert "vectors of shape (2,)" in unmet(R(images=True), DataSpec("v", (2,), 8), config)
    data = tf.data.Dataset.from_tensor_slices((np.zeros((5, 16, 16, 1), np.float32),
                                               np.array([0, 0, 1, 1, 2], np.int32)))
    assert unmet(R(examples_per_class=2), labeled, config, data) == (
        "2 training examples of every class, and class 2 of 'x' has 1")
    assert unmet(R(examples_per_class=1), labeled, config, data) is None
    reason = unmet(R(splits=("test",)), labeled, config)
    assert reason.startswith("a 'test' split: ") and "no 'test' split" in reason
    assert unmet(R(splits=("test",)), labeled, train_lib.resolve_config("dcgan")) is None


def test_families_declare_what_they_need():
    config = train_lib.resolve_config("dcgan")
    for name in list_models():  # every family answers, most with "nothing"
        assert isinstance(get_task(name).data_requirements(config), validation.Requirements)
    for name in ("cgan", "acgan"):
        assert get_task(name).data_requirements(config).labels
    ssgan = get_task("ssgan").data_requirements(
        train_lib.resolve_config("ssgan", overrides=["model.options.labels_per_class=3"]))
    assert ssgan.labels and ssgan.examples_per_class == 3 and ssgan.splits == ("test",)
    infogan = get_task("infogan")
    assert infogan.data_requirements(config) == validation.Requirements()
    assert set(infogan.report_requirements(config)) == {"code_accuracy", "q_test_accuracy"}


def test_cgan_on_an_unlabeled_folder_is_refused_before_the_run_directory(folders, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"cgan needs class labels, and data set .*unlabeled"):
        train_lib.run(_config("cgan", folders / "unlabeled"), str(run), verbose=0)
    assert not run.exists()


def test_infogan_without_a_test_split_trains_and_skips_that_measurement(folders, tmp_path,
                                                                         capsys):
    run = tmp_path / "run"
    flags.FLAGS.unparse_flags()
    sets = [a for s in TINY for a in ("--set", s)]
    argv = flags.FLAGS(["ganzoo.train", "--model=infogan", f"--dataset=folder:{folders}/labeled",
                        "--steps=2", f"--model_dir={run}", *sets])
    cli.main(argv)  # returns: exit status 0 (a failure raises SystemExit)
    captured = capsys.readouterr()
    assert "'q_test_accuracy' will be skipped" in captured.err  # said when the run starts
    assert "Trained 2 steps" in captured.out
    assert (run / "saved_model" / "1" / "saved_model.pb").exists()
    report = json.loads((run / "report.json").read_text())
    assert "code_accuracy" in report and "q_test_accuracy" not in report
    assert "no 'test' split" in report["skipped"]["q_test_accuracy"]
    assert json.loads((run / "run.json").read_text())["ended"]["reason"] == "completed"


def test_a_failing_report_only_warns(tmp_path, monkeypatch, capsys):
    def broken(self, gan, config, spec):
        raise OSError("the metrics server is down")

    monkeypatch.setattr(type(get_task("dcgan")), "report", broken)
    run = str(tmp_path / "run")
    result = train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=2"]),
                           run, verbose=0)
    assert result["steps"] == 2
    expected = {"skipped": {"run_report": "OSError: the metrics server is down"}}
    assert result["report"] == expected
    assert json.load(open(os.path.join(run, "report.json"))) == expected
    assert "run_report skipped" in capsys.readouterr().err


def test_a_run_does_not_warn_that_keras_ignores_shuffle(tmp_path):
    # The pipeline shuffles; fit(shuffle=True) on a Dataset only made Keras warn on every run.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY + ["train.steps=2"]),
                      str(tmp_path / "run"), verbose=0)
    assert not [w for w in caught if "shuffle=True" in str(w.message)]
