"""Mode coverage on 2-D Gaussian mixtures, and scatter plots of the samples.

The protocol of VEEGAN (Srivastava et al. 2017, https://arxiv.org/abs/1705.07761,
synthetic-data experiments), reused by PacGAN (Lin et al. 2018,
https://arxiv.org/abs/1712.04086, Table 1 and its `MetricLogger` in fjxmlzn/PacGAN):

- draw 2,500 samples from the generator (`NUM_EVAL_SAMPLES`);
- a sample is *high quality* if it is within three standard deviations of the
  nearest mode mean;
- a mode is *captured* if it is the nearest mode of at least one high-quality
  sample (VEEGAN: "the number of mixture components whose mean is nearest to at
  least one high quality sample"; PacGAN's code counts the modes with a nonzero
  number of high-quality samples), so `min_count` defaults to 1;
- PacGAN also reports the reverse KL divergence between the generated mode
  histogram and the true (uniform) one. Here the histogram is built from the
  high-quality samples, the same counts PacGAN's code derives its coverage
  statistics from.

The mixtures are isotropic with one common standard deviation, so "within k
standard deviations" is the Euclidean distance `<= k * std`, and the nearest
mode by Mahalanobis distance (PacGAN's code) is the nearest by Euclidean distance.
In 2-D a true mode puts 1 - exp(-9/2) = 98.9% of its mass within 3 std, so
samples of the real mixture score `high_quality` of about 0.989, not 0.997.
Pure numpy; the plots use Pillow.
"""

import io
import os

import numpy as np
from PIL import Image, ImageDraw

NUM_EVAL_SAMPLES = 2500
DEFAULT_MIN_COUNT = 1


def _as_points(x, name):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"`{name}` must have shape [N, 2], got {x.shape}.")
    return x


def assign_to_modes(samples, centers, std, num_std=3.0):
    """Nearest mode of each sample and whether the sample is high quality.

    Args:
        samples: array `[N, 2]`. Generated points.
        centers: array `[M, 2]`. Mode means.
        std: float. The modes' common standard deviation.
        num_std: float. A sample within `num_std * std` (Euclidean) of its nearest
            mean is high quality. Defaults to 3 (VEEGAN, PacGAN).

    Returns:
        `(nearest, high_quality)`: int64 `[N]` mode indices and bool `[N]`.
    """
    samples = _as_points(samples, "samples")
    centers = _as_points(centers, "centers")
    distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
    nearest = np.argmin(distances, axis=1)
    return nearest, distances[np.arange(len(samples)), nearest] <= num_std * std


def mode_coverage(samples, centers, std, min_count=None, num_std=3.0):
    """Modes captured, fraction of high-quality samples, and reverse KL (VEEGAN/PacGAN).

    Args:
        samples: array `[N, 2]`. Generated points; the papers use N = 2,500
            (`NUM_EVAL_SAMPLES`).
        centers: array `[M, 2]`. Mode means, e.g. from
            `ganzoo.data.toy.mixture_params`.
        std: float. The modes' common standard deviation.
        min_count: int or None. High-quality samples a mode needs to count as
            captured. None means 1, the VEEGAN/PacGAN rule.
        num_std: float. High-quality radius in standard deviations. Defaults to 3.

    Returns:
        A dict with
        `modes` (int): number of captured modes;
        `high_quality` (float): fraction of all samples that are high quality;
        `reverse_kl` (float): KL(p || u) = sum_k p_k log(p_k * M), where p is the
        histogram of the high-quality samples over their nearest modes and u is
        uniform over the M modes (the true mixture weights). Modes with p_k = 0
        contribute 0 (0 log 0 = 0), so the value is finite: 0 for a perfectly
        balanced generator, log M when every high-quality sample is at one mode.
        NaN when there is no high-quality sample (p is undefined);
        `counts` (int64 array `[M]`): high-quality samples per mode.

    Example:

    >>> centers = np.array([[0.0, 0.0], [2.0, 0.0]])
    >>> mode_coverage(np.zeros((4, 2)), centers, std=0.1)["modes"]
    1
    """
    min_count = DEFAULT_MIN_COUNT if min_count is None else int(min_count)
    if min_count < 1:
        raise ValueError(f"`min_count` must be >= 1, got {min_count}.")
    centers = _as_points(centers, "centers")
    nearest, high_quality = assign_to_modes(samples, centers, std, num_std)
    num_modes = len(centers)
    counts = np.bincount(nearest[high_quality], minlength=num_modes).astype(np.int64)
    total = counts.sum()
    if total == 0:
        reverse_kl = float("nan")
    else:
        p = counts[counts > 0] / total
        reverse_kl = float(np.sum(p * np.log(p * num_modes)))
    return {
        "modes": int(np.sum(counts >= min_count)),
        "high_quality": float(total / len(nearest)) if len(nearest) else float("nan"),
        "reverse_kl": reverse_kl,
        "counts": counts,
    }


def _limits(centers):
    lo, hi = centers.min(axis=0), centers.max(axis=0)
    mid = (lo + hi) / 2.0
    # Square, with a quarter of the span as margin: [-3, 3] for ring8, [-6, 6] for grid25.
    half = max(float(np.max(hi - lo)), 1e-6) * 0.75
    return mid - half, mid + half


def scatter_plot_array(samples, centers, title=None, size=256):
    """Renders samples (black dots) and mode means (red crosses) as an RGB image.

    The axis limits depend on the centres only (square, centred on them, with a
    margin of a quarter of their span), so images from different training steps
    line up; samples outside the limits are not drawn.

    Args:
        samples: array `[N, 2]`. Points to plot.
        centers: array `[M, 2]`. Mode means.
        title: str or None. Text drawn in the top-left corner.
        size: int. Width and height in pixels. Defaults to 256.

    Returns:
        uint8 array `[size, size, 3]`, e.g. for `tf.summary.image` after adding a
        batch axis.
    """
    samples = _as_points(samples, "samples")
    centers = _as_points(centers, "centers")
    lo, hi = _limits(centers)

    def to_pixels(points):
        uv = (points - lo) / (hi - lo) * (size - 1)
        # Image rows grow downwards, so y is flipped.
        return np.round(uv[:, 0]).astype(int), np.round((size - 1) - uv[:, 1]).astype(int)

    pixels = np.full((size, size, 3), 255, dtype=np.uint8)
    px, py = to_pixels(samples)
    inside = (px >= 0) & (px < size) & (py >= 0) & (py < size)
    px, py = px[inside], py[inside]
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):  # 2x2 dots stay visible after resizing.
        pixels[np.clip(py + dy, 0, size - 1), np.clip(px + dx, 0, size - 1)] = 0
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    arm = max(size // 80, 2)
    for cx, cy in zip(*to_pixels(centers), strict=True):
        draw.line([(cx - arm, cy - arm), (cx + arm, cy + arm)], fill=(220, 0, 0), width=1)
        draw.line([(cx - arm, cy + arm), (cx + arm, cy - arm)], fill=(220, 0, 0), width=1)
    if title:
        draw.text((4, 2), str(title), fill=(0, 0, 160))
    return np.asarray(image, dtype=np.uint8)


def scatter_plot_png(samples, centers, path=None, title=None):
    """Renders `scatter_plot_array` as PNG bytes, also written to `path` if given.

    Args:
        samples: array `[N, 2]`. Points to plot.
        centers: array `[M, 2]`. Mode means.
        path: str, path-like or None. Where to write the PNG file.
        title: str or None. Text drawn in the top-left corner.

    Returns:
        The PNG file's bytes (256 x 256 RGB).
    """
    buffer = io.BytesIO()
    Image.fromarray(scatter_plot_array(samples, centers, title=title)).save(buffer, "PNG")
    data = buffer.getvalue()
    if path is not None:
        from ganzoo import files

        files.atomic_write(os.fspath(path), data)
    return data
