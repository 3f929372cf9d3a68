"""`ganzoo.evaluate` on a trained run: the metric card, and identical reruns."""

import json
import os
import subprocess
import sys

import pytest

from ganzoo import evaluate, train_lib

TINY = ["model.width=8", "model.latent_dim=8", "train.batch_size=16", "train.steps=4",
        "train.steps_per_epoch=2"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("eval") / "run")
    train_lib.run(train_lib.resolve_config("dcgan", overrides=TINY), path, verbose=0)
    return path


def test_writes_metrics_and_card(run_dir):
    result = evaluate.evaluate(run_dir, ["fid", "kid", "is", "pr", "classes"], num_samples=200)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        assert json.load(f) == json.loads(json.dumps(result))
    m, card = result["metrics"], result["card"]
    assert m["fid"] > 0 and 1.0 <= m["inception_score"] <= 10.0
    assert 0.0 <= m["precision"] <= 1.0 and 0.0 <= m["recall"] <= 1.0
    assert sum(m["class_counts"]) == 200 and m["class_kl"] >= 0
    assert card["extractor"] == "digits_classifier" and len(card["extractor_weights_sha256"]) == 64
    assert card["num_real"] == 200 and card["num_fake"] == 200 and card["real_split"] == "test"
    assert card["resize_method"] and card["seed"] == 0 and card["tensorflow"]


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
