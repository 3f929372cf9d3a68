"""End to end on real Fashion-MNIST: the README's lines train, evaluate and export a DCGAN.

The shipped config at width 32 for 1,000 steps (about a minute on 2 idle
cores): its samples must cover most classes as the shipped Fashion-MNIST
classifier reads them, and its fmnist-FID must be near the measured value
(seeds 0-2 on the AVX-512 bf16 EPYC, `python tools/e2e_steps.py --kind
dcgan_fashion_mnist`: classes with >= 2% of 10,000 samples 9 / 8 / 8 and fmnist-FID
1027 / 1005 / 1036 in float32; 8 / 8 / 9 and 1029 / 1008 / 1036 in bf16, which the
command trains in there by default; the ninth class sits at the 2% line. The untrained
generator scores ~1,800 and the 10,000-step config ~260, tools/results/fashion_mnist.md).
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf


@pytest.mark.e2e
def test_readme_lines_train_evaluate_export_a_fashion_mnist_dcgan(tmp_path):
    run = tmp_path / "dcgan_fashion_mnist"
    # From a directory without configs/, as after `pip install ganzoo`: the shipped
    # config is found by name.
    cmd = [sys.executable, "-m", "ganzoo.train", "--config=dcgan_fashion_mnist",
           "--steps=1000", "--set", "model.width=32", "--set", "train.sample_every=500",
           "--set", "train.checkpoint_every=500", f"--model_dir={run}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("samples.png", "model.keras", "config.yaml", "saved_model/1/saved_model.pb"):
        assert (run / name).exists(), name

    # The README's evaluate and export lines; 10,000 samples, as
    # tools/fashion_mnist_table.py scores them.
    cmd = [sys.executable, "-m", "ganzoo.evaluate", "--model_dir", str(run),
           "--metrics", "fid,kid,pr,classes", "--num_samples=10000"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((run / "metrics.json").read_text())
    assert json.loads(proc.stdout) == result  # stdout is the JSON alone
    scores = result["metrics"]
    print(json.dumps(scores))
    assert result["card"]["extractor"] == "fmnist_classifier"
    assert result["card"]["num_fake"] == result["card"]["num_real"] == 10_000
    covered = np.sum(np.asarray(scores["class_counts"]) >= 0.02 * 10_000)
    assert covered >= 8, scores["class_counts"]
    assert scores["fid"] < 1150

    export_dir = tmp_path / "export" / "1"
    cmd = [sys.executable, "-m", "ganzoo.export", "--model_dir", str(run),
           "--export_dir", str(export_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    served = tf.saved_model.load(str(export_dir)).signatures["generate_from_seed"]
    images = served(seed=tf.constant(0, tf.int64), num_images=tf.constant(4))["images"]
    assert images.shape == (4, 28, 28, 1)
