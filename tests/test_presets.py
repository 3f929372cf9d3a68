"""Shipped presets: offline load in < 5 s, the card's samples (bit-exact on the CPU
type that made them, else per-image statistics within 1e-4), re-evaluated card
metrics; unknown names, offline URLs and bad checksums fail clearly."""

import functools
import http.server
import json
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest

import ganzoo
from ganzoo import presets
from ganzoo.presets import PresetError

SHIPPED = presets._builtin_names()
FAMILIES = {"dcgan", "wgan", "wgan_gp", "ssgan", "vanilla", "cgan", "acgan", "infogan"}

# Re-evaluation tolerances. The samples are asserted bit-identical first and the
# extractor's weights hash is in the card, so the features can differ only by
# float summation order (thread count, oneDNN blocking); FID's 128-d covariance
# square root amplifies that to ~1e-6 relative at most. Accuracies are counts of
# argmax decisions: allow one flipped decision per metric on a near-tie.
REL_TOL = 1e-4
COUNT_TOL = {"class_accuracy": 1 / 1000, "code_accuracy": 1 / 1000,
             "q_test_accuracy": 1 / 360, "test_error": 1 / 360,
             # With as many real as fake samples every KID subset holds all of
             # them: the spread is 0, written as float noise (1e-13) by older cards.
             "kid_std": 1e-9}


@pytest.fixture
def offline(monkeypatch):
    """No network: any socket connection attempt fails at once."""
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_one_preset_per_family_is_shipped():
    cards = ganzoo.list_presets(with_cards=True)
    assert {card["family"] for card in cards.values()} >= FAMILIES
    for name in SHIPPED:
        path = presets.preset_dir(name, verify=False)
        assert sorted(os.listdir(path)) == ["card.json", "config.yaml", "model.keras"]
        # A few megabytes: 16x16 digits presets are 1.4-4.1 MB, 28x28 Fashion-MNIST
        # 4.5-6.2 MB (G's first layer grows with the 7x7 start map; infogan's two
        # fully-connected layers are the largest, at 3/16 of the paper's width).
        assert cards[name]["model_bytes"] < 6.5e6, name


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_loads_offline_fast_and_reproduces_its_card(name, offline):
    start = time.perf_counter()
    gan = ganzoo.from_preset(name)
    seconds = time.perf_counter() - start
    print(f"{name}: loaded in {seconds:.2f} s")
    assert seconds < 5, f"{name} took {seconds:.2f} s to load"
    card = presets.load_card(name)
    assert card["name"] == name and card["family"] in ganzoo.list_models()
    assert int(gan.g_optimizer.iterations.numpy()) == card["training"]["steps"]
    s = card["samples"]
    assert presets.samples_match(gan, s), "the preset no longer generates its card's samples"

    old = card["evaluation"]
    new = presets.evaluate_preset(gan, presets.preset_dir(name), old["card"]["seed"])
    version_keys = ("ganzoo", "tensorflow")
    assert ({k: v for k, v in new["card"].items() if k not in version_keys}
            == {k: v for k, v in old["card"].items() if k not in version_keys})
    for section in ("metrics", "report"):
        for key, value in old[section].items():
            if isinstance(value, float):
                tol = COUNT_TOL.get(key, 0.0)
                assert new[section][key] == pytest.approx(value, rel=REL_TOL, abs=tol), key


@pytest.mark.parametrize("name", ["dcgan_digits", "dcgan_fashion_mnist"])
def test_load_generator_takes_a_preset_name(name, offline):
    gan = ganzoo.from_preset(name, compile=False)
    generator = ganzoo.load_generator(name)
    latent = gan.sample_latent(4, seed=3)
    np.testing.assert_array_equal(np.asarray(generator(latent, training=False)),
                                  np.asarray(gan.generator(latent, training=False)))


def test_fashion_mnist_preset_is_real_data_scored_by_the_fmnist_classifier():
    card = presets.load_card("dcgan_fashion_mnist")
    assert card["data"]["name"] == "fashion_mnist"
    assert card["evaluation"]["card"]["extractor"] == "fmnist_classifier"
    assert card["evaluation"]["card"]["real_split"] == "test"
    images = ganzoo.load_generator("dcgan_fashion_mnist")(
        ganzoo.from_preset("dcgan_fashion_mnist", compile=False).sample_latent(8, seed=0))
    assert tuple(images.shape) == (8, 28, 28, 1)


def test_unknown_preset_lists_the_known_ones():
    for load in (ganzoo.from_preset, ganzoo.load_generator, ganzoo.load_gan):
        with pytest.raises(PresetError, match="Unknown preset 'dcgan_nope'") as info:
            load("dcgan_nope")
        assert "dcgan_digits" in str(info.value) and "register_preset" in str(info.value)


def _copy_preset(tmp_path, name="dcgan_digits"):
    path = tmp_path / name
    shutil.copytree(presets.preset_dir(name), path)
    return path


def test_bad_checksum_is_refused(tmp_path):
    path = _copy_preset(tmp_path)
    ganzoo.register_preset("copy", str(path))
    try:
        ganzoo.from_preset("copy", compile=False)
        ganzoo.register_preset("copy", str(path), sha256="0" * 64, overwrite=True)
        with pytest.raises(PresetError, match=r"register_preset\(sha256=...\) says 0000.*"
                                              r"the pinned value is wrong"):
            ganzoo.from_preset("copy")
        with pytest.raises(PresetError, match=r"not a sha256 digest; pass the 64 hex digits"):
            ganzoo.register_preset("copy", str(path), sha256="...", overwrite=True)
        ganzoo.register_preset("copy", str(path), overwrite=True)
        with open(path / "model.keras", "r+b") as f:  # one flipped byte
            f.seek(1000)
            byte = f.read(1)
            f.seek(1000)
            f.write(bytes([byte[0] ^ 1]))
        with pytest.raises(PresetError, match="Checksum mismatch for preset 'copy'") as info:
            ganzoo.from_preset("copy")
        assert "its card.json" in str(info.value) and "presets.write_preset" in str(info.value)
    finally:
        presets.unregister_preset("copy")


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_url_preset_offline_fails_fast_naming_preset_url_and_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{_closed_port()}/presets/dcgan_mnist"
    ganzoo.register_preset("dcgan_mnist", url)
    try:
        start = time.perf_counter()
        with pytest.raises(PresetError) as info:
            ganzoo.from_preset("dcgan_mnist")
        assert time.perf_counter() - start < 5
        message = str(info.value)
        assert "'dcgan_mnist'" in message and url in message
        assert "register_preset('dcgan_mnist', '/path/to/dcgan_mnist'" in message
        assert "dcgan_mnist" in ganzoo.list_presets()
    finally:
        presets.unregister_preset("dcgan_mnist")


def test_url_preset_downloads_once_then_loads_offline(tmp_path, monkeypatch):
    served = tmp_path / "site" / "dcgan_tfds"
    shutil.copytree(presets.preset_dir("dcgan_digits"), served)
    handler = functools.partial(_QuietHandler, directory=str(tmp_path / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{server.server_address[1]}/dcgan_tfds/"
    ganzoo.register_preset("dcgan_tfds", url)
    try:
        gan = ganzoo.from_preset("dcgan_tfds", compile=False)
        server.shutdown()
        server.server_close()
        again = ganzoo.load_generator("dcgan_tfds")  # from the cache, server gone
        latent = gan.sample_latent(2, seed=0)
        np.testing.assert_array_equal(np.asarray(again(latent)), np.asarray(gan.generator(latent)))
        card = json.loads((served / "card.json").read_text())
        assert ganzoo.list_presets(with_cards=True)["dcgan_tfds"]["model_sha256"] == \
            card["model_sha256"]
    finally:
        presets.unregister_preset("dcgan_tfds")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_samples_match_tolerates_last_bits_not_changed_weights():
    gan = ganzoo.from_preset("dcgan_digits", compile=False)
    s = dict(presets.load_card("dcgan_digits")["samples"])
    s["sha256"] = "0" * 64  # as on another CPU type: only the per-image statistics decide
    assert presets.samples_match(gan, s)
    kernel = gan.generator.trainable_weights[0]
    kernel.assign(kernel * 1.01)
    assert not presets.samples_match(gan, s)
