"""The 2014 GAN on images and 2-D vectors, its MLP networks and its run hooks.

The generic smoke test (tests/test_models.py) trains vanilla on images with
every loss, the paper's three generator costs included; here: the three costs
on 2-D vectors, k > 1, scatter plots, mode metrics, a run on ring8, and the
anti-collapse switches of the networks (minibatch discrimination, VBN and
reference-BN generators).
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import IMAGE_SPEC, all_weights, fit_steps

from ganzoo import train_lib
from ganzoo.config import ConfigError, ModelConfig
from ganzoo.data import DataSpec, toy
from ganzoo.layers import MinibatchDiscrimination, ReferenceBatchWrapper
from ganzoo.metrics import mode_coverage
from ganzoo.models.vanilla import VanillaGAN

RING_SPEC = DataSpec("ring8", (2,), num_classes=8, num_examples=32)
PAPER_COSTS = ("minimax", "non_saturating", "maximum_likelihood")


def build(spec, generator=None, discriminator=None, **options):
    config = ModelConfig(name="vanilla", architecture="mlp", width=8, latent_dim=4,
                         generator=dict(generator or {}),
                         discriminator=dict(discriminator or {}), options=options)
    return VanillaGAN.from_data_spec(spec, config, seed=0)


@pytest.mark.parametrize("loss", PAPER_COSTS)
def test_one_step_on_vectors_with_each_generator_cost(loss):
    spec = RING_SPEC
    gan = build(spec)
    gan.compile(loss=loss)
    before = all_weights(gan)
    logs = fit_steps(gan, spec, steps=1)
    assert all(np.isfinite(v) for v in logs.values()), logs
    g_changed = [not np.array_equal(a, b) for a, b in
                 zip(before[:len(gan.generator.weights)], all_weights(gan))]
    assert any(g_changed)
    assert gan.generate(3, seed=0).shape == (3, 2)
    # A linear output for vectors (the mixtures are not in [-1, 1]), tanh for images.
    assert gan.generator.get_layer("output").activation.__name__ == "linear"
    image_gan = build(IMAGE_SPEC)
    assert image_gan.generator.get_layer("output").activation.__name__ == "tanh"
    assert image_gan.generate(2).shape == (2, *IMAGE_SPEC.shape)


def test_paper_discriminator_is_maxout_with_dropout():
    gan = build(IMAGE_SPEC)
    names = [type(layer).__name__ for layer in gan.discriminator.layers]
    dropout = [layer.rate for layer in gan.discriminator.layers
               if getattr(layer, "kind", None) == "dropout"]
    assert names.count("Maxout") == 2 and dropout == [0.2, 0.5, 0.5]
    maxout = gan.discriminator.get_layer("maxout_1")
    assert maxout.pieces == 5 and maxout.output.shape[-1] == 8


def test_k_discriminator_steps():
    gan = build(RING_SPEC, d_steps=2)
    gan.compile()
    fit_steps(gan, RING_SPEC, steps=1)
    assert int(gan.d_optimizer.iterations) == 2 and int(gan.g_optimizer.iterations) == 1


def test_mixture_is_detected_and_drawn_as_a_scatter_plot():
    gan = build(RING_SPEC)
    assert gan.mixture == "ring8"
    assert build(DataSpec("points", (2,))).mixture is None
    picture = gan.sample_grid(seed=0)
    assert picture.shape == (256, 256, 3) and picture.dtype == np.uint8
    red = (picture[..., 0] > 150) & (picture[..., 1] < 80)
    assert red.sum() > 8 * 4  # the eight mode crosses
    stats = gan.mode_coverage(num_samples=100)
    assert {"modes", "high_quality", "reverse_kl", "num_modes", "counts"} <= set(stats)
    assert stats["num_modes"] == 8 and len(stats["counts"]) == 8
    with pytest.raises(ValueError, match="mixture"):
        build(DataSpec("points", (2,))).mode_coverage()


def test_minibatch_discrimination_switch_in_every_builder():
    md = {"num_kernels": 4, "kernel_dim": 3}
    gan = build(RING_SPEC, discriminator={"minibatch_discrimination": md})
    layer = gan.discriminator.get_layer("minibatch_discrimination")
    assert isinstance(layer, MinibatchDiscrimination) and layer.num_kernels == 4
    from gan_test_utils import build_tiny

    dcgan, _ = build_tiny("dcgan")
    config = ModelConfig(width=8, latent_dim=4, discriminator={"minibatch_discrimination": md})
    dcgan = type(dcgan).from_data_spec(IMAGE_SPEC, config)
    assert dcgan.discriminator.get_layer("minibatch_discrimination").kernel_dim == 3
    gan.compile()
    assert np.isfinite(fit_steps(gan, RING_SPEC, steps=1)["d_loss"])


@pytest.mark.parametrize("norm", ["vbn", "reference_bn"])
def test_reference_batch_generator_generates_saves_and_exports(norm, tmp_path):
    gan = build(RING_SPEC, generator={"norm": norm, "reference_size": 6})
    assert any(isinstance(layer, ReferenceBatchWrapper) for layer in gan.generator.layers)
    gan.compile()
    fit_steps(gan, RING_SPEC, steps=1)
    # An example's output does not depend on the rest of its batch.
    a = gan.generate(5, seed=1)
    np.testing.assert_allclose(gan.generate(2, seed=1), a[:2], atol=1e-5)
    gan.save(tmp_path / "gan.keras")
    np.testing.assert_array_equal(
        keras.models.load_model(tmp_path / "gan.keras").generate(5, seed=1), a)
    if norm != "vbn":
        return
    from ganzoo import export

    export.export_generator(gan, str(tmp_path / "export"))
    served = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    out = served(latent=tf.constant(gan.sample_latent(5, seed=1)))["images"].numpy()
    np.testing.assert_allclose(out, a, atol=1e-5)


def test_unknown_generator_norm_is_a_config_error():
    with pytest.raises(ConfigError, match="vbn"):
        build(RING_SPEC, generator={"norm": "virtual"})


def test_run_on_ring8_writes_scatter_plots_metrics_and_report(tmp_path):
    config = train_lib.resolve_config("vanilla", **{
        "data.name": "ring8", "model.width": 8, "model.latent_dim": 4, "train.steps": 4,
        "train.batch_size": 8, "train.steps_per_epoch": 2, "train.sample_every": 2,
        "train.checkpoint_every": 4,
    })
    result = train_lib.run(config, str(tmp_path), verbose=0)
    scatters = sorted(os.listdir(tmp_path / "samples"))
    assert "scatter_00000002.png" in scatters and "scatter_00000004.png" in scatters
    with open(tmp_path / "report.json") as f:
        report = json.load(f)
    assert report["num_modes"] == 8
    # The report's metrics are those of the trained generator, recounted here.
    centers, std = toy.mixture_params("ring8")
    samples = result["model"].generate(mode_coverage.NUM_EVAL_SAMPLES, seed=config.train.seed)
    stats = mode_coverage.mode_coverage(samples, centers, std)
    assert report["modes"] == stats["modes"] and report["counts"] == stats["counts"].tolist()
    assert report["high_quality"] == pytest.approx(stats["high_quality"])
    # NaN when no sample is of high quality (4 steps of training).
    assert report["reverse_kl"] == pytest.approx(stats["reverse_kl"], nan_ok=True)
    assert sum(report["counts"]) == round(report["high_quality"] * len(samples))
    assert [row[0] for row in report["history"]] == [2, 4]
    assert report["history"][-1][1:] == pytest.approx(
        [report["modes"], report["high_quality"], report["reverse_kl"]], nan_ok=True)  # the end
    assert json.dumps(result["report"], sort_keys=True) == json.dumps(report, sort_keys=True)
    logs = os.listdir(tmp_path / "logs")
    assert logs, "no TensorBoard events written"
