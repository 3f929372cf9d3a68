"""Serving signatures of an exported generator: reloaded three ways, listed, warmed up."""

import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from gan_test_utils import build_tiny

from ganzoo import export
from ganzoo.serving import warmup

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "dcgan_saved_model_cli.txt")
LIMIT = 4  # max_images_per_request of these exports


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    gan, _ = build_tiny("dcgan")
    path = str(tmp_path_factory.mktemp("serving") / "models" / "dcgan" / "1")
    export.export_generator(gan, path, max_images_per_request=LIMIT)
    return gan, path


def expected(gan, name, latent):
    images = gan.generator(latent, training=False).numpy()
    if name == "generate_uint8":
        from ganzoo.images import to_uint8

        return to_uint8(images)
    return images


@pytest.mark.parametrize("name", ["serving_default", "generate_uint8"])
def test_latent_signatures_match_the_model(exported, name):
    gan, path = exported
    latent = gan.sample_latent(3, seed=5)
    loaded = tf.saved_model.load(path).signatures[name](latent=tf.constant(latent))["images"]
    layer = keras.layers.TFSMLayer(path, call_endpoint=name)(latent)["images"]
    want = expected(gan, name, latent)
    assert loaded.dtype.as_numpy_dtype == want.dtype
    np.testing.assert_allclose(np.asarray(loaded), want, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(layer), np.asarray(loaded))


def test_seed_signature_equals_generate(exported):
    gan, path = exported
    fn = tf.saved_model.load(path).signatures["generate_from_seed"]
    images = fn(seed=tf.constant(7, tf.int64), num_images=tf.constant(4))["images"]
    np.testing.assert_array_equal(images.numpy(), gan.generate(4, seed=7))


def test_bad_inputs_are_refused(exported):
    _, path = exported
    signatures = tf.saved_model.load(path).signatures
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch of 0 rows"):
        signatures["serving_default"](latent=tf.zeros([0, 8]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_images"):
        signatures["generate_from_seed"](seed=tf.constant(0, tf.int64),
                                         num_images=tf.constant(0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float"):
        signatures["serving_default"](latent=tf.zeros([2, 8], tf.int32))


def test_requests_are_bounded_by_the_limit_set_at_export(exported):
    gan, path = exported
    loaded = tf.saved_model.load(path)
    assert int(loaded.max_images_per_request[0].numpy()) == LIMIT
    signatures = loaded.signatures
    seed = tf.constant(3, tf.int64)
    images = signatures["generate_from_seed"](seed=seed, num_images=tf.constant(LIMIT))
    np.testing.assert_array_equal(images["images"].numpy(), gan.generate(LIMIT, seed=3))
    # Refused in the graph before anything is allocated: 1e9 images once asked for 400 GB.
    for n in (LIMIT + 1, 10**9, 2**31 - 1):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=f"num_images is more than {LIMIT}.*serves 1 to {LIMIT}"):
            signatures["generate_from_seed"](seed=seed, num_images=tf.constant(n))
    for n in (0, -5):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=f"num_images must be at least 1.*serves 1 to {LIMIT}"):
            signatures["generate_from_seed"](seed=seed, num_images=tf.constant(n))
    latent = gan.sample_latent(LIMIT + 1, seed=0)
    for name in ("serving_default", "generate_uint8"):
        assert signatures[name](latent=tf.constant(latent[:LIMIT]))["images"].shape[0] == LIMIT
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=f"latent has more than {LIMIT} rows.*serves 1 to {LIMIT}"):
            signatures[name](latent=tf.constant(latent))


def test_a_limit_must_be_a_positive_integer(exported, tmp_path):
    gan, _ = exported
    for bad in (0, -1, 2.5, True, 2**31):
        with pytest.raises(ValueError, match="max_images_per_request"):
            export.export_generator(gan, str(tmp_path / "m" / "1"), max_images_per_request=bad)
    assert not (tmp_path / "m" / "1").exists()


def test_saved_model_cli_matches_golden(exported):
    _, path = exported
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    out = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True,
                         text=True, timeout=120).stdout
    keep = re.compile(r"signature_def\['|inputs\['|outputs\['|dtype:|shape:|Method name")
    lines = [line.strip() for line in out.splitlines() if keep.search(line)]
    # Skip the volatile init-op block: the listing starts at the first real signature.
    first = next(i for i, line in enumerate(lines)
                 if line.startswith("signature_def['") and "_init_op" not in line)
    listing = "\n".join(lines[first:]) + "\n"
    if os.environ.get("GANZOO_UPDATE_GOLDEN"):
        os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
        with open(GOLDEN, "w") as f:
            f.write(listing)
    with open(GOLDEN) as f:
        assert listing == f.read()


def test_warmup_records_match_the_signatures(exported):
    gan, path = exported
    logs = warmup.read_warmup_requests(path)
    signatures = tf.saved_model.load(path).signatures
    assert sorted(log.predict_log.request.model_spec.signature_name for log in logs) == sorted(
        export.GENERATOR_SIGNATURES)
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == "dcgan"
        fn = signatures[request.model_spec.signature_name]
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        assert set(inputs) == set(fn.structured_input_signature[1])
        assert fn(**{k: tf.constant(v) for k, v in inputs.items()})["images"].shape[0] == 1


def test_models_config_lists_every_model(exported, tmp_path):
    _, path = exported
    root = os.path.dirname(os.path.dirname(path))
    config = tmp_path / "models.config"
    assert export.write_models_config(str(config), root, "/models") == ["dcgan"]
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    parsed = text_format.Parse(config.read_text(), model_server_config_pb2.ModelServerConfig())
    assert parsed.model_config_list.config[0].base_path == "/models/dcgan"


def test_conditional_seed_signature_equals_generate(tmp_path):
    gan, _ = build_tiny("cgan")
    path = export.export_generator(gan, str(tmp_path / "models" / "cgan" / "1"),
                                   max_images_per_request=LIMIT)
    signatures = tf.saved_model.load(path).signatures
    assert set(export.GENERATOR_SIGNATURES) <= set(signatures)
    labels = np.array([0, 3, 9], np.int32)
    images = signatures["generate_from_seed"](seed=tf.constant(2, tf.int64),
                                              num_images=tf.constant(3),
                                              labels=tf.constant(labels))["images"]
    np.testing.assert_array_equal(images.numpy(), gan.generate(3, seed=2, labels=labels))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_images rows"):
        signatures["generate_from_seed"](seed=tf.constant(2, tf.int64),
                                         num_images=tf.constant(2), labels=tf.constant(labels))
    # Every batched input is bounded, the labels too.
    many = np.zeros([LIMIT + 1], np.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"labels has more than {LIMIT}"):
        signatures["serving_default"](latent=tf.constant(gan.sample_latent(LIMIT)),
                                      labels=tf.constant(many))
