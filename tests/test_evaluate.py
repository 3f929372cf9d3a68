"""`ganzoo.evaluate` on a trained run: the metric card, and identical reruns."""

import json
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest

from ganzoo import data, evaluate, metrics, sample_files
from ganzoo.loading import load_gan


@pytest.fixture
def run_dir(tiny_dcgan_run):
    """A 4-step dcgan run on digits (tests/conftest.py)."""
    return tiny_dcgan_run


def test_writes_metrics_and_card(run_dir):
    result = evaluate.evaluate(run_dir, ["fid", "kid", "is", "pr", "classes"], num_samples=200)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        assert json.load(f) == json.loads(json.dumps(result))
    m, card = result["metrics"], result["card"]
    # The numbers are those of this run's generator (seed 0) against the first 200
    # images of the held-out test split, measured here from the pieces.
    test, _ = data.load("digits", "test")
    real = np.concatenate([x for x, _ in test.take(200).batch(200).as_numpy_iterator()])
    fake = load_gan(run_dir, compile=False).generate(200, seed=0)
    extractor = metrics.DigitsClassifierExtractor()
    real_out, fake_out = (metrics.compute_features(extractor, x) for x in (real, fake))
    real_f, fake_f = real_out["features"], fake_out["features"]
    kid, kid_std = metrics.kid_from_features(real_f, fake_f, seed=0)
    score, score_std = metrics.inception_score_from_logits(fake_out["logits"])
    precision, recall = metrics.precision_recall(real_f, fake_f)
    counts, kl = metrics.digits_class_histogram(fake_out["logits"])
    expected = {"fid": metrics.fid_from_features(real_f, fake_f), "kid": kid,
                "kid_std": kid_std, "inception_score": score, "inception_score_std": score_std,
                "precision": precision, "recall": recall, "class_kl": kl}
    assert {k: m[k] for k in expected} == pytest.approx(
        {k: float(v) for k, v in expected.items()}, rel=1e-6)
    assert m["class_counts"] == [int(c) for c in counts] and sum(m["class_counts"]) == 200
    # A 4-step generator is far from the data: 10x the FID of real training images
    # (measured 204 vs 4.5).
    train, _ = data.load("digits", "train")
    other = np.concatenate([x for x, _ in train.take(200).batch(200).as_numpy_iterator()])
    assert m["fid"] > 10 * metrics.fid_from_features(
        real_f, metrics.compute_features(extractor, other)["features"])
    assert card["extractor"] == "digits_classifier" and len(card["extractor_weights_sha256"]) == 64
    assert card["num_real"] == 200 and card["num_fake"] == 200 and card["real_split"] == "test"
    assert card["resize_method"] and card["seed"] == 0 and card["tensorflow"]
    assert card["step"] == 4  # the generator's training step


def test_same_seed_gives_identical_numbers(run_dir):
    a = evaluate.evaluate(run_dir, ["fid", "kid", "is", "pr"], num_samples=150, write=False)
    b = evaluate.evaluate(run_dir, ["fid", "kid", "is", "pr"], num_samples=150, write=False)
    assert a == b


def test_cli_and_bad_input(run_dir):
    out = subprocess.run([sys.executable, "-m", "ganzoo.evaluate", "--model_dir", run_dir,
                          "--metrics", "fid,bogus"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "bogus" in out.stderr
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        evaluate.evaluate(os.path.dirname(run_dir) + "/nothing", ["fid"])


def _cli(monkeypatch, capsys, model_dir, **flag_values):
    """`python -m ganzoo.evaluate` in-process: `main` with its flags' values; (status, stderr)."""
    values = dict(model_dir=model_dir, metrics="fid", num_samples=100, split="test",
                  extractor="auto", seed=0, inception_weights=None, samples=None, dataset=None,
                  image_size=None, data_dir=None, classes=None)
    monkeypatch.setattr(evaluate, "FLAGS", types.SimpleNamespace(**{**values, **flag_values}))
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(["ganzoo.evaluate"])
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("num_samples", [0, -5, 100_000_000, 2.5, True, "100"])
def test_bad_num_samples_is_refused_before_loading_anything(num_samples, tmp_path, monkeypatch,
                                                            capsys):
    def must_not_load(*args, **kwargs):
        raise AssertionError("loaded before checking num_samples")

    monkeypatch.setattr(evaluate, "load_run_config", must_not_load)
    monkeypatch.setattr(evaluate, "load_gan", must_not_load)
    with pytest.raises(ValueError, match=r"num_samples \(--num_samples\)"):
        evaluate.evaluate(str(tmp_path / "no_run"), ["fid"], num_samples=num_samples)
    status, err = _cli(monkeypatch, capsys, str(tmp_path / "no_run"), num_samples=num_samples)
    assert status == 2 and err.startswith("error: num_samples (--num_samples)")
    if isinstance(num_samples, int) and not isinstance(num_samples, bool):
        assert "2 to 1,000,000" in err


def test_out_of_memory_suggests_fewer_samples(run_dir, monkeypatch, capsys):
    def out_of_memory(extractor, images):
        raise MemoryError("Unable to allocate 7.45 GiB for an array with shape (1000000, 2048)")

    monkeypatch.setattr(evaluate.metrics_lib, "compute_features", out_of_memory)
    with pytest.raises(MemoryError, match=r"(?s)num_samples=300.*7.45 GiB.*smaller num_samples "
                                          r"\(--num_samples\), e.g. 30\."):
        evaluate.evaluate(run_dir, ["fid"], num_samples=300, write=False)
    status, err = _cli(monkeypatch, capsys, run_dir, num_samples=300)
    assert status == 2 and err.startswith("error: Out of memory") and "Traceback" not in err


def test_metric_names_may_be_spaced():
    assert evaluate._check_metrics("fid, kid ,is") == ["fid", "kid", "is"]
    assert evaluate._check_metrics([" pr", "classes "]) == ["pr", "classes"]
    with pytest.raises(ValueError, match=r"Unknown metric\(s\) \['fdi'\]; choose from fid"):
        evaluate._check_metrics("fid, fdi")
    with pytest.raises(ValueError, match="No metrics given; choose one or more of fid"):
        evaluate._check_metrics(" , ")


def test_a_file_is_not_a_run_directory(run_dir, tmp_path, monkeypatch, capsys):
    for path in (os.path.join(run_dir, "config.yaml"), os.path.join(run_dir, "model.keras")):
        with pytest.raises(ValueError, match=f"is a file, not a run directory; pass its run "
                                             f"directory '{run_dir}'"):
            evaluate.evaluate(path, ["fid"], num_samples=10)
    other = tmp_path / "notes.txt"
    other.write_text("not a run")
    status, err = _cli(monkeypatch, capsys, str(other))
    assert status == 2 and "is a file, not a run directory" in err and "config.yaml" in err
    assert "has no config.yaml" not in err


def test_another_domains_classifier_is_allowed_with_a_warning(run_dir, capsys):
    result = evaluate.evaluate(run_dir, ["fid"], num_samples=50, extractor="fmnist", write=False)
    assert result["card"]["extractor"].startswith("fmnist") and result["metrics"]["fid"] > 0
    warning = capsys.readouterr().err
    assert "--extractor=fmnist is the classifier of 'fashion_mnist'" in warning
    assert "the real data is 'digits'" in warning and "--extractor=auto picks digits" in warning
    evaluate.evaluate(run_dir, ["fid"], num_samples=50, extractor="digits", write=False)
    assert "warning" not in capsys.readouterr().err


def test_samples_made_elsewhere_score_as_the_run_that_made_them(run_dir, tmp_path, capsys,
                                                                monkeypatch):
    """`--samples` (another framework's GAN): a folder of PNGs or a .npz of the same
    images scores exactly as evaluating the run that generated them."""
    from ganzoo import generate

    gan = load_gan(run_dir, compile=False)
    metrics_ = ["fid", "kid", "pr", "classes"]
    expected = evaluate.evaluate(run_dir, metrics_, num_samples=120, seed=2, write=False)
    generate.write_samples(gan, str(tmp_path / "fakes"), 120, seed=2)  # uint8 PNGs
    generate.write_samples(gan, str(tmp_path / "fakes.npz"), 120, seed=2)  # float32
    from_npz = evaluate.evaluate_samples(str(tmp_path / "fakes.npz"), "digits", metrics_,
                                         seed=2)
    assert from_npz["metrics"] == expected["metrics"]
    card = from_npz["card"]
    assert card["samples"] == str(tmp_path / "fakes.npz") and card["num_fake"] == 120
    assert {k: v for k, v in card.items() if k != "samples"} == {
        k: v for k, v in expected["card"].items() if k not in ("run", "model", "step")}
    # The PNGs are the same images rounded to 8 bits: the same numbers to within that.
    from_pngs = evaluate.evaluate_samples(str(tmp_path / "fakes"), "digits", metrics_, seed=2)
    assert from_pngs["metrics"]["class_counts"] == expected["metrics"]["class_counts"]
    assert from_pngs["metrics"]["fid"] == pytest.approx(expected["metrics"]["fid"], rel=0.02)
    # The command: --samples with --dataset, the JSON alone on stdout.
    capsys.readouterr()
    monkeypatch.setattr(evaluate, "FLAGS", types.SimpleNamespace(
        model_dir=None, samples=str(tmp_path / "fakes"), dataset="digits", image_size=None,
        data_dir=None, classes=None, metrics="fid", num_samples=50, split="test",
        extractor="auto", seed=0, inception_weights=None))
    evaluate.main(["ganzoo.evaluate"])
    card = json.loads(capsys.readouterr().out)["card"]
    assert card["num_fake"] == card["num_real"] == 50 and card["real_data"] == "digits"


@pytest.mark.parametrize("make, flags, fragment", [
    (None, {}, "not both or neither"),
    (None, {"model_dir": "{tmp}", "samples": "x"}, "not both or neither"),
    (None, {"samples": "x"}, "--samples needs --dataset"),
    (None, {"samples": "{tmp}/none", "dataset": "digits"}, "No samples at"),
    ("empty", {"samples": "{tmp}/empty", "dataset": "digits"}, "holds no"),
    ("big", {"samples": "{tmp}/big.npy", "dataset": "digits"}, "must be finite and in [-1, 1]"),
    ("rgb", {"samples": "{tmp}/rgb.npy", "dataset": "digits"},
     "are [16, 16, 3] images but 'digits' holds [16, 16, 1]"),
    ("npz", {"samples": "{tmp}/other.npz", "dataset": "digits"}, "has no `images` array"),
])
def test_bad_samples_are_refused_by_name(make, flags, fragment, run_dir, tmp_path, monkeypatch,
                                         capsys):
    if make == "empty":
        (tmp_path / "empty").mkdir()
    elif make == "big":
        np.save(tmp_path / "big.npy", np.full([4, 16, 16, 1], 255.0, np.float32))
    elif make == "rgb":  # colour (channels differ): not a greyscale image saved as RGB
        np.save(tmp_path / "rgb.npy", np.arange(3, dtype=np.uint8)[None].repeat(4 * 256, 0)
                .reshape(4, 16, 16, 3))
    elif make == "npz":
        np.savez(tmp_path / "other.npz", x=np.zeros([4, 16, 16, 1]))
    flags = {k: v.format(tmp=tmp_path) for k, v in flags.items()}
    status, err = _cli(monkeypatch, capsys, flags.pop("model_dir", None), **flags)
    assert status == 2 and err.startswith("error: ") and fragment in err, err


def test_dataset_flags_are_for_samples_only(run_dir, monkeypatch, capsys):
    status, err = _cli(monkeypatch, capsys, run_dir, dataset="fashion_mnist")
    assert status == 2 and "--dataset is for --samples" in err


def test_read_samples_takes_what_other_frameworks_write(tmp_path):
    """Palette, RGBA, 16-bit and greyscale-as-RGB PNGs (torchvision's save_image) read as
    the images they show; [0, 1] floats, PyTorch's [N, C, H, W], mixed sizes and files
    that do not decode are refused by name."""
    from PIL import Image

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (16, 16), dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "a.png")
    Image.fromarray(np.stack([grey] * 3, -1)).save(tmp_path / "b.png")  # grey as RGB
    Image.fromarray(np.dstack([np.stack([grey] * 3, -1),
                               np.full((16, 16), 255, np.uint8)])).save(tmp_path / "c.png")
    Image.fromarray(grey).convert("P").save(tmp_path / "d.png")  # palette
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "e.png")  # 16-bit
    images = sample_files.read_samples(str(tmp_path), shape=(16, 16, 1))
    expected = grey.astype(np.float32)[None, ..., None] / 127.5 - 1
    np.testing.assert_allclose(images, np.repeat(expected, 5, 0), atol=1e-6)
    assert len(sample_files.read_samples(str(tmp_path), num_samples=2, shape=(16, 16, 1))) == 2
    assert sample_files.read_samples(str(tmp_path), shape=(16, 16, 3)).shape == (5, 16, 16, 3)
    for array, fragment in [
        (rng.random((4, 16, 16, 1)).astype(np.float32), "as [0, 1] images do"),
        (np.zeros((4, 3, 16, 16), np.uint8), "looks like [N, C, H, W]"),
        (np.zeros((4, 16, 16, 1), bool), "boolean images"),
        (np.full((4, 16, 16, 1), np.nan, np.float32), "1,024 values are NaN or infinite"),
        (np.ones((4, 16, 16, 1), np.uint8), "holding only 0 and 1"),
        (np.zeros((4, 256), np.uint8), "x.reshape(-1, 16, 16, 1)"),
    ]:
        with pytest.raises(ValueError, match=re.escape(fragment)):
            sample_files.read_samples(array, shape=(16, 16, 1))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "f.png")
    with pytest.raises(ValueError, match=r"f.png' is \[8, 8\] pixels but .*a.png' is \[16, 16\]"):
        sample_files.read_samples(str(tmp_path), shape=(16, 16, 1))
    (tmp_path / "f.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"f.png' is not a readable image"):
        sample_files.read_samples(str(tmp_path), shape=(16, 16, 1))


def test_evaluate_samples_compares_with_the_classes_asked_for(run_dir, tmp_path, capsys):
    from ganzoo import generate

    generate.write_samples(load_gan(run_dir, compile=False), str(tmp_path / "s.npz"), 60)
    result = evaluate.evaluate_samples(str(tmp_path / "s.npz"), "digits", ["fid"],
                                       num_samples=40, classes=[0, 1])
    card = result["card"]
    assert card["real_classes"] == [0, 1] and card["num_fake"] == 40
    assert card["num_real"] == 40  # from classes 0 and 1 only (test split)
    Image = __import__("PIL.Image", fromlist=["Image"])
    folder = tmp_path / "jpegs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(folder / f"{i}.jpg")
    evaluate.evaluate_samples(str(folder), "digits", ["fid"])
    assert "JPEG's lossy compression changes FID" in capsys.readouterr().err


def test_a_colour_folder_with_one_grey_sample_stays_colour(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(
            tmp_path / f"{i}.png")
    grey = rng.integers(0, 256, (16, 16), dtype=np.uint8)
    Image.fromarray(np.stack([grey] * 3, -1)).save(tmp_path / "3.png")  # R = G = B
    images = sample_files.read_samples(str(tmp_path), shape=(16, 16, 3))
    assert images.shape == (4, 16, 16, 3)
    np.testing.assert_allclose(images[3, ..., 1], grey / 127.5 - 1, atol=1e-6)
    sub = tmp_path / "nested"
    (sub / "class0").mkdir(parents=True)
    with pytest.raises(ValueError, match="sub-folders are not searched"):
        sample_files.read_samples(str(sub))


def test_a_preset_is_scored_without_rewriting_it(tmp_path):
    from ganzoo import preset_dirs

    folder = preset_dirs.preset_dir("dcgan_digits")
    before = sorted(os.listdir(folder))
    result = evaluate.evaluate("dcgan_digits", ["fid"], num_samples=100)
    assert result["card"]["model"] == "dcgan" and sorted(os.listdir(folder)) == before
    with pytest.raises(FileNotFoundError, match="No ganzoo run at .*nothing exists there"):
        evaluate.evaluate(str(tmp_path / "runs" / "none"), ["fid"])


@pytest.mark.parametrize("name", ["fashion-mnist", "FashionMNIST", "Fashion_MNIST"])
def test_a_misspelt_built_in_data_set_is_named(name):
    from ganzoo.config import ConfigError

    with pytest.raises(ConfigError, match="did you mean 'fashion_mnist' \\(built in\\)"):
        data.load(name, "test")
