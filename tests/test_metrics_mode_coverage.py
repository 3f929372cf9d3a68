"""Tests for ganzoo.metrics.mode_coverage: exact numbers on hand-made sample sets."""

import io
import math

import numpy as np
import pytest
from PIL import Image

from ganzoo.data.toy import mixture_params
from ganzoo.metrics.mode_coverage import (
    NUM_EVAL_SAMPLES,
    assign_to_modes,
    mode_coverage,
    scatter_plot_array,
    scatter_plot_png,
)

CENTERS, STD = mixture_params("ring8")  # 8 modes, radius 2, std 0.02
M = len(CENTERS)


def _at(modes, per_mode, offset=(0.0, 0.0)):
    return np.concatenate([np.repeat(CENTERS[[k]] + offset, per_mode, axis=0) for k in modes])


def test_all_modes_equally_covered():
    # 2 std off the mean is still high quality (threshold 3 std).
    result = mode_coverage(_at(range(M), 10, offset=(0.0, 2 * STD)), CENTERS, STD)
    assert result["modes"] == M
    assert result["high_quality"] == 1.0
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(result["counts"], np.full(M, 10))


def test_all_samples_at_one_mode():
    result = mode_coverage(_at([3], NUM_EVAL_SAMPLES), CENTERS, STD)
    assert result["modes"] == 1
    assert result["high_quality"] == 1.0
    assert result["reverse_kl"] == pytest.approx(math.log(M), rel=1e-12)
    assert result["counts"][3] == NUM_EVAL_SAMPLES and result["counts"].sum() == NUM_EVAL_SAMPLES


def test_two_modes_equally_filled():
    result = mode_coverage(_at([0, 5], 7), CENTERS, STD)
    assert result["modes"] == 2
    assert result["reverse_kl"] == pytest.approx(math.log(M) - math.log(2), rel=1e-12)


def test_off_mode_noise_counts_exactly_as_constructed():
    good = _at(range(M), 3)  # 24 high-quality samples
    # 4 std from ring mode 0, and the origin (2.0 = 100 std from every mode): not high quality.
    bad = np.array([[2.0 + 4 * STD, 0.0], [0.0, 0.0], [0.0, 0.0], [2.0, 4 * STD]] * 2)
    samples = np.concatenate([good, bad])  # 24 good of 32
    result = mode_coverage(samples, CENTERS, STD)
    assert result["high_quality"] == 24 / 32
    assert result["modes"] == M
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-12)  # only good samples count
    _, hq = assign_to_modes(samples, CENTERS, STD)
    np.testing.assert_array_equal(hq, [True] * 24 + [False] * 8)
    # A wider radius accepts the 4-std points: 24 + 4 of 32.
    assert mode_coverage(samples, CENTERS, STD, num_std=5.0)["high_quality"] == 28 / 32


def test_min_count_and_uncovered_case():
    samples = np.concatenate([_at([0], 5), _at([1], 1)])
    assert mode_coverage(samples, CENTERS, STD)["modes"] == 2
    assert mode_coverage(samples, CENTERS, STD, min_count=2)["modes"] == 1
    nothing = mode_coverage(np.zeros((10, 2)), CENTERS, STD)
    assert nothing["modes"] == 0 and nothing["high_quality"] == 0.0
    assert math.isnan(nothing["reverse_kl"])
    with pytest.raises(ValueError, match="shape"):
        mode_coverage(np.zeros((10, 3)), CENTERS, STD)


def test_scatter_plot_array_and_png(tmp_path):
    samples = _at([0], 50, offset=(0.3, 0.3))  # beside the red cross, which is drawn on top
    image = scatter_plot_array(samples, CENTERS, title="step 0")
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    red = (image[..., 0] > 150) & (image[..., 1] < 80) & (image[..., 2] < 80)
    black = image.sum(axis=-1) == 0
    assert red.any() and black.any()
    # Limits [-3, 3]: (2.3, 0.3) is at column 5.3 / 6 * 255 and row (1 - 3.3 / 6) * 255.
    rows, cols = np.nonzero(black)
    assert abs(cols.mean() - 5.3 / 6 * 255) < 2 and abs(rows.mean() - 2.7 / 6 * 255) < 2
    assert not black[:, : 255 // 2].any()  # nothing drawn left of x = 0
    path = tmp_path / "plot.png"
    png = scatter_plot_png(samples, CENTERS, path=str(path), title="x")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and path.read_bytes() == png
    assert Image.open(io.BytesIO(png)).size == (256, 256)
