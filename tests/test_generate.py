"""`python -m ganzoo.generate`: samples to a grid PNG, a folder of PNGs or a .npz, equal to
`gan.generate`'s; conditions; nothing is ever replaced without being asked."""

import io
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from PIL import Image

import ganzoo
from ganzoo import generate
from ganzoo import images as images_lib


@pytest.fixture(scope="module")
def dcgan():
    return ganzoo.from_preset("dcgan_digits", compile=False)


def _dir_named(parent, name):
    (parent / name).mkdir()
    return parent / name


def _png(path):
    return np.asarray(Image.open(path))


def test_grid_directory_and_npz_hold_generates_samples(dcgan, tmp_path):
    expected = dcgan.generate(10, seed=3)
    result = generate.write_samples(dcgan, str(tmp_path / "grid.png"), 10, seed=3, rows=2,
                                    scale=2)
    assert result == {"output": str(tmp_path / "grid.png"), "format": "grid",
                      "num_images": 10, "shape": [16, 16, 1]}
    grid = images_lib.image_grid(expected, rows=2)[..., 0]
    np.testing.assert_array_equal(_png(tmp_path / "grid.png"), grid.repeat(2, 0).repeat(2, 1))

    # A directory, 3 images per generator batch: the same images, one file each, in order.
    folder = tmp_path / "fakes"
    generate.write_samples(dcgan, str(folder), 10, seed=3, batch_size=3)
    names = sorted(os.listdir(folder))
    assert names == [f"{i:06d}.png" for i in range(10)]
    for name, image in zip(names, images_lib.to_uint8(expected)):
        np.testing.assert_array_equal(_png(folder / name), image[..., 0])
    assert sorted(os.listdir(tmp_path)) == ["fakes", "grid.png"]  # no temporary left

    generate.write_samples(dcgan, str(tmp_path / "s.npz"), 10, seed=3)
    with np.load(tmp_path / "s.npz") as arrays:
        assert set(arrays) == {"images"}
        np.testing.assert_array_equal(arrays["images"], expected)


def test_conditions_are_repeated_in_order(tmp_path):
    cgan = ganzoo.from_preset("cgan_digits", compile=False)
    generate.write_samples(cgan, str(tmp_path / "c.npz"), 5, seed=1, labels=[7, 2])
    with np.load(tmp_path / "c.npz") as arrays:
        assert arrays["labels"].tolist() == [7, 2, 7, 2, 7]
        np.testing.assert_array_equal(
            arrays["images"], cgan.generate(5, seed=1, labels=[7, 2, 7, 2, 7]))
    infogan = ganzoo.from_preset("infogan_digits", compile=False)
    generate.write_samples(infogan, str(tmp_path / "i.npz"), 4, seed=1, categories=[3])
    with np.load(tmp_path / "i.npz") as arrays:
        assert arrays["categories"].tolist() == [3] * 4
        np.testing.assert_array_equal(
            arrays["images"], infogan.generate(4, seed=1, codes={"categorical": [3] * 4}))
    with pytest.raises(ValueError, match=r"DCGAN takes no --labels \(it is unconditional\)"):
        generate.write_samples(ganzoo.from_preset("dcgan_digits", compile=False),
                               str(tmp_path / "d.png"), 4, labels=[1])
    with pytest.raises(ValueError, match=r"ConditionalGAN takes no --categories \(it takes "
                                         r"--labels\)"):
        generate.write_samples(cgan, str(tmp_path / "c.png"), 4, categories=[1])
    with pytest.raises(ValueError, match="labels"):
        generate.write_samples(cgan, str(tmp_path / "c.png"), 4, labels=[10])
    assert sorted(os.listdir(tmp_path)) == ["c.npz", "i.npz"]


def test_nothing_is_replaced_unless_asked(dcgan, tmp_path):
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"the user's picture")
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        generate.write_samples(dcgan, str(grid), 4)
    assert grid.read_bytes() == b"the user's picture"
    generate.write_samples(dcgan, str(grid), 4, overwrite=True)
    assert _png(grid).shape == images_lib.image_grid(np.zeros([4, 16, 16, 1])).shape[:2]

    full = tmp_path / "full"
    full.mkdir()
    (full / "other.png").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not empty"):  # even with --overwrite
        generate.write_samples(dcgan, str(full), 4, overwrite=True)
    with pytest.raises(FileExistsError, match="is a file, not a directory"):
        generate.write_samples(dcgan, str(grid / "fakes"), 4)
    with pytest.raises(FileExistsError, match="is a directory; choose another file name"):
        generate.write_samples(dcgan, str(_dir_named(tmp_path, "d.png")), 4)
    assert sorted(os.listdir(full)) == ["other.png"]
    with pytest.raises(ValueError, match="too large for one PNG"):
        generate.write_samples(dcgan, str(tmp_path / "big.png"), generate.MAX_GRID_IMAGES + 1)
    for bad in [0, -1, 2.5, True, generate.MAX_SAMPLES + 1]:
        with pytest.raises(ValueError, match="num_images"):
            generate.write_samples(dcgan, str(tmp_path / "n.png"), bad)
    with pytest.raises(ValueError, match="--scale"):
        generate.write_samples(dcgan, str(tmp_path / "n.png"), 4, scale=0)
    with pytest.raises(ValueError, match="--rows=5 is more than the 4 images"):
        generate.write_samples(dcgan, str(tmp_path / "n.png"), 4, rows=5)
    with pytest.raises(ValueError, match="pixels"):
        generate.write_samples(dcgan, str(tmp_path / "n.png"), 4, scale=1000)
    for name in ("n.jpg", "n.npy", "n.JPEG"):  # would have become directories
        with pytest.raises(ValueError, match="name a .png .* a .npz .* or a directory"):
            generate.write_samples(dcgan, str(tmp_path / name), 4)
    empty = tmp_path / "empty"
    empty.mkdir()
    generate.write_samples(dcgan, str(empty), 2)  # an empty directory is filled
    assert sorted(os.listdir(empty)) == ["000000.png", "000001.png"]
    assert sorted(os.listdir(tmp_path)) == ["d.png", "empty", "full", "grid.png"]


def test_the_same_on_an_in_memory_file_system(dcgan):
    generate.write_samples(dcgan, "ram://generate/fakes", 3)
    import tensorflow as tf

    assert sorted(tf.io.gfile.listdir("ram://generate/fakes")) == [
        "000000.png", "000001.png", "000002.png"]
    with tf.io.gfile.GFile("ram://generate/fakes/000002.png", "rb") as f:
        image = np.asarray(Image.open(io.BytesIO(f.read())))
    np.testing.assert_array_equal(image, images_lib.to_uint8(dcgan.generate(3))[2, ..., 0])


def _cli(monkeypatch, capsys, **flag_values):
    """`python -m ganzoo.generate` in-process: `main` with its flags' values; (status, out, err)."""
    values = dict(model_dir="dcgan_digits", output=None, num_images=4, seed=0, labels=None,
                  categories=None, rows=None, scale=1, batch_size=256, overwrite=False,
                  interpolate=0)
    monkeypatch.setattr(generate, "FLAGS", types.SimpleNamespace(**{**values, **flag_values}))
    try:
        generate.main(["ganzoo.generate"])
        status = 0
    except SystemExit as e:
        status = e.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("flags, fragment", [
    (dict(labels="3,x"), "--labels='3,x' must be whole numbers"),
    (dict(categories=","), "--categories=',' must be whole numbers"),
    (dict(num_images=0), "--num_images is 0"),
    (dict(output=""), "--output is empty"),
    (dict(model_dir="no_such_run"), "no_such_run"),
    (dict(model_dir="cgan_digits", labels="12"), "labels"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(flags, fragment, tmp_path, monkeypatch,
                                                  capsys):
    flags = {"output": str(tmp_path / "out.png"), **flags}
    status, out, err = _cli(monkeypatch, capsys, **flags)
    assert status == 2 and err.startswith("error: ") and fragment in err, err
    assert out == "" and os.listdir(tmp_path) == []


def test_cli_writes_a_presets_samples(tmp_path, monkeypatch, capsys):
    status, out, _ = _cli(monkeypatch, capsys, model_dir="cgan_digits", labels="7",
                          output=str(tmp_path / "sevens.png"))
    assert status == 0 and out.startswith("Wrote 4 samples of ConditionalGAN (step ")
    assert _png(tmp_path / "sevens.png").shape == (35, 35)  # 2 x 2 tiles of 16 px, 1 px apart
    status, out, _ = _cli(monkeypatch, capsys, model_dir="cgan_digits", num_images=2,
                          interpolate=3, output=str(tmp_path / "walks.png"))
    assert status == 0 and out.startswith("Wrote 2 walks of 3 images of ConditionalGAN (step ")


def test_module_runs_as_a_program(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ganzoo.generate", "--model_dir=dcgan_digits", "--num_images=3",
         f"--output={tmp_path / 'fakes'}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "fakes")) == [f"00000{i}.png" for i in range(3)]
    assert proc.stdout.startswith("Wrote 3 samples of DCGAN (step ")  # a missing flag: test_cli


def test_vector_samples_go_to_npz_only(tmp_path):
    """A 2-D mixture's generator: its points in a .npz; a PNG output is refused before
    anything is written (an empty output directory stays)."""
    from ganzoo.config import ModelConfig
    from ganzoo.data import DataSpec
    from ganzoo.registry import get_model

    gan = get_model("vanilla").from_data_spec(DataSpec("ring8", (2,), 0),
                                              ModelConfig(name="vanilla", width=8, latent_dim=8,
                                                          architecture="mlp"))
    generate.write_samples(gan, str(tmp_path / "points.npz"), 10)
    with np.load(tmp_path / "points.npz") as arrays:
        np.testing.assert_array_equal(arrays["images"], gan.generate(10))
    empty = tmp_path / "empty"
    empty.mkdir()
    for output in (empty, tmp_path / "points.png"):
        with pytest.raises(ValueError, match="name a .npz as --output"):
            generate.write_samples(gan, str(output), 10)
    assert empty.is_dir() and sorted(os.listdir(tmp_path)) == ["empty", "points.npz"]


def test_interpolation_walks_from_one_latent_to_the_next(dcgan, tmp_path):
    """`GAN.interpolate`: row r runs from latent 2r to 2r + 1 of `sample_latent`, linearly
    through G's inputs, each row holding its condition; `--interpolate` writes it."""
    walk = dcgan.interpolate(2, 5, seed=3)
    z = dcgan.sample_latent(4, 3)
    at = lambda latent: np.asarray(dcgan.inference_generator(latent, training=False))  # noqa: E731
    np.testing.assert_array_equal(walk[[0, 4, 5, 9]], at(z))
    np.testing.assert_array_equal(walk[2], at(0.5 * (z[0:1] + z[1:2]))[0])
    with pytest.raises(ValueError, match="steps must be an int >= 2"):
        dcgan.interpolate(2, 1)

    cgan = ganzoo.from_preset("cgan_digits", compile=False)
    walk = cgan.interpolate(3, 2, seed=1)  # default classes down the rows: 0, 1, 2
    labels = np.array([0, 0, 1, 1, 2, 2], np.int32)
    ends = np.asarray(cgan.inference_generator([cgan.sample_latent(6, 1), labels],
                                               training=False))
    np.testing.assert_array_equal(walk, ends)

    result = generate.write_samples(cgan, str(tmp_path / "walks.npz"), 2, seed=1, labels=[7, 3],
                                    interpolate=4)
    assert result["num_images"] == 8
    with np.load(tmp_path / "walks.npz") as arrays:
        assert arrays["labels"].tolist() == [7] * 4 + [3] * 4
        np.testing.assert_array_equal(arrays["images"],
                                      cgan.interpolate(2, 4, seed=1, labels=[7, 3]))
    generate.write_samples(cgan, str(tmp_path / "walks.png"), 2, interpolate=4)
    assert _png(tmp_path / "walks.png").shape == (2 * 17 + 1, 4 * 17 + 1)  # a row per walk
    for bad in (1, -2, True):
        with pytest.raises(ValueError, match="--interpolate"):
            generate.write_samples(cgan, str(tmp_path / "x.png"), 2, interpolate=bad)
