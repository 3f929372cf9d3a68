"""The EMA generator (`train.ema_decay`): the average, where it is used, save and resume."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import build_tiny, compile_tiny, fit_steps, tiny_batch

import ganzoo
from ganzoo import export as export_lib
from ganzoo import loading, train_lib
from ganzoo.config import ConfigError

DECAY = 0.75


def _weights(model):
    return [np.array(v.numpy()) for v in model.weights]


def _ema_model(name="dcgan", seed=0, **options):
    gan, spec = build_tiny(name, seed=seed, ema_decay=DECAY, **options)
    return compile_tiny(gan), spec


@pytest.mark.parametrize("name", ["dcgan", "cgan", "infogan"])
def test_first_step_copies_then_each_step_averages(name):
    gan, spec = _ema_model(name)
    fit_steps(gan, spec, steps=1)
    for ema, weight in zip(gan.ema_generator.weights, gan.generator.weights, strict=True):
        np.testing.assert_array_equal(ema.numpy(), weight.numpy(), err_msg=ema.path)
    previous = _weights(gan.ema_generator)
    fit_steps(gan, spec, steps=1, seed=1)
    trainable = {id(v) for v in gan.generator.trainable_weights}
    moved = 0
    for ema, weight, old in zip(gan.ema_generator.weights, gan.generator.weights, previous,
                                strict=True):
        if id(weight) in trainable:
            expected = DECAY * old + (1 - DECAY) * weight.numpy()
            np.testing.assert_allclose(ema.numpy(), expected, rtol=1e-6, atol=1e-7)
            moved += not np.array_equal(ema.numpy(), weight.numpy())
        else:  # batch-norm statistics are copied
            np.testing.assert_array_equal(ema.numpy(), weight.numpy())
    assert moved > 0


def test_averaging_starts_at_ema_start():
    gan, spec = _ema_model(ema_start=2)
    fit_steps(gan, spec, steps=2)
    for ema, weight in zip(gan.ema_generator.weights, gan.generator.weights, strict=True):
        np.testing.assert_array_equal(ema.numpy(), weight.numpy())
    fit_steps(gan, spec, steps=1)
    assert any(not np.array_equal(e.numpy(), w.numpy())
               for e, w in zip(gan.ema_generator.weights, gan.generator.weights))


def test_samples_export_and_loading_use_the_average(tmp_path):
    gan, spec = _ema_model()
    fit_steps(gan, spec, steps=3)
    assert gan.inference_generator is gan.ema_generator  # its statistics measured now
    latent = gan.sample_latent(4, seed=3)
    from_ema = np.asarray(gan.ema_generator(latent, training=False))
    from_g = np.asarray(gan.generator(latent, training=False))
    assert np.abs(from_ema - from_g).max() > 1e-4  # the two differ, so the checks below can fail
    np.testing.assert_allclose(gan.generate(4, seed=3), from_ema, atol=1e-6)

    export_dir = str(tmp_path / "export")
    export_lib.export_generator(gan, export_dir, warmup=False)
    served = tf.saved_model.load(export_dir).signatures["serving_default"]
    out = served(latent=tf.constant(latent))["images"].numpy()
    np.testing.assert_allclose(out, from_ema, atol=1e-5)

    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = loading.load_generator(path)
    np.testing.assert_allclose(np.asarray(loaded(latent, training=False)), from_ema, atol=1e-6)
    reloaded = keras.models.load_model(path)
    assert reloaded.ema_decay == DECAY and reloaded.ema_start == 0
    for a, b in zip(reloaded.ema_generator.weights, gan.ema_generator.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_average_gets_batch_norm_statistics_of_its_own_weights():
    gan, spec = _ema_model()
    fit_steps(gan, spec, steps=3)
    norms = [la for la in gan.ema_generator.layers
             if isinstance(la, keras.layers.BatchNormalization)]
    assert norms
    copied = [la.moving_mean.numpy() for la in norms]  # G's, copied by the update
    latent = tf.random.stateless_normal([512, gan.latent_dim], seed=[gan.seed, 7919],
                                        alg="philox")
    # Training mode with the averaged weights: the statistics they produce.
    gan.ema_generator.trainable = True
    expected = keras.Model(gan.ema_generator.input, [la.input for la in norms])(
        latent, training=True)
    gan.ema_generator.trainable = False
    gan.inference_generator  # noqa: B018 (the property measures them)
    for layer, x, old in zip(norms, expected, copied, strict=True):
        mean = np.mean(np.asarray(x), axis=tuple(range(np.ndim(x) - 1)))
        np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-5)
        assert not np.allclose(layer.moving_mean.numpy(), old)
        assert layer.momentum == 0.9
    assert not gan.ema_generator.trainable


def test_off_by_default_and_the_generator_is_g():
    gan, _ = build_tiny("dcgan")
    assert gan.ema_decay == 0 and gan.ema_generator is None
    assert gan.inference_generator is gan.generator


def test_resume_continues_the_average_exactly(tmp_path):
    """3 steps, save, reload, 2 more == 5 steps in one go (the average included)."""
    x, y = tiny_batch(build_tiny("dcgan")[1], batch_size=8)
    data = tf.data.Dataset.from_tensors((x, y)).repeat()

    straight, _ = _ema_model()
    straight.fit(data, steps_per_epoch=5, epochs=1, verbose=0)

    first, _ = _ema_model()
    first.fit(data, steps_per_epoch=3, epochs=1, verbose=0)
    path = str(tmp_path / "step3.keras")
    first.save(path)
    resumed = keras.models.load_model(path)
    assert int(resumed.g_optimizer.iterations.numpy()) == 3
    resumed.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
    for a, b in zip(resumed.ema_generator.weights, straight.ema_generator.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)


def test_config_keys_reach_the_model_and_bad_values_are_refused():
    config = train_lib.resolve_config("dcgan", **{"train.ema_decay": 0.999,
                                                  "train.ema_start": 100})
    spec = ganzoo.data.DataSpec("tiny", (16, 16, 1), num_classes=10, num_examples=32)
    config.model.width, config.model.latent_dim = 8, 8
    gan = train_lib.build_model(config, spec)
    assert (gan.ema_decay, gan.ema_start) == (0.999, 100)
    assert gan.get_config()["ema_decay"] == 0.999
    for key, value, needle in (("train.ema_decay", 1.0, "[0, 1)"),
                               ("train.ema_decay", -0.1, "[0, 1)"),
                               ("train.ema_start", -1, ">= 0")):
        with pytest.raises(ConfigError, match=re.escape(key) + ".*" + re.escape(needle)):
            train_lib.resolve_config("dcgan", **{key: value})
