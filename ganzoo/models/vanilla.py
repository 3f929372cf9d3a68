"""The original GAN: Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014,
https://arxiv.org/abs/1406.2661.

Fully-connected networks (`networks` architecture `mlp`: ReLU generator, maxout
discriminator with dropout), k discriminator steps per generator step
(`train.d_steps`, k = 1 in the paper's experiments) and one of the paper's three
generator costs (`train.loss`): `minimax` (log(1 - D(G(z))), eq. 1),
`non_saturating` (-log D(G(z)), the paper's practical choice, sec. 3) or
`maximum_likelihood` (Goodfellow 2014, "On distinguishability criteria").

The same class trains on images (flattened) and on 2-D vectors. On the 2-D
mixtures of `ganzoo.data.toy` (`ring8`, `grid25`) it draws scatter plots instead
of image grids and reports the VEEGAN/PacGAN mode-coverage metrics
(`ganzoo.metrics.mode_coverage`) during and at the end of a run. Every
anti-collapse switch of the zoo applies: `model.options.unrolled_steps`
(Metz et al. 2017), `model.discriminator.minibatch_discrimination`
(Salimans et al. 2016), `model.generator.norm: vbn|reference_bn`,
`train.label_smoothing` and `train.d_steps`.
"""

import os

import numpy as np
import tensorflow as tf

from ganzoo import callbacks as callbacks_lib
from ganzoo import images as images_lib
from ganzoo.data import toy
from ganzoo.metrics import mode_coverage as mc
from ganzoo.models import mlp  # noqa: F401  (registers the "mlp" architecture)
from ganzoo.models.base import GAN
from ganzoo.registry import register_model
from ganzoo.tasks import Task

SCATTER_SAMPLES = 1000


class VanillaTask(Task):
    """Runs of `VanillaGAN`: on a 2-D mixture, mode coverage during and after training.

    `callbacks` adds a `ModeCoverageLogger`; `report` gives the trained
    generator's `mode_coverage` and the logger's `history`.
    """

    def __init__(self):
        self.mode_logger = None

    def callbacks(self, gan, config, spec, model_dir, writer):
        if gan.mixture is None:
            return []
        self.mode_logger = ModeCoverageLogger(model_dir, config.train.sample_every, writer,
                                              seed=config.train.seed)
        return [self.mode_logger]

    def report(self, gan, config, spec):
        if gan.mixture is None:
            return {}
        report = gan.mode_coverage(seed=config.train.seed)
        report["history"] = list(self.mode_logger.history) if self.mode_logger else []
        return report


@register_model("vanilla")
class VanillaGAN(GAN):
    """The 2014 GAN: MLP generator, maxout/dropout discriminator (Goodfellow et al. 2014).

    Args:
        generator: keras.Model. Latent `[B, latent_dim]` -> examples.
        discriminator: keras.Model. Examples -> `{"logits", "features", ...}`.
        latent_dim: int. Dimension of z (100 in the paper's MNIST model).
        mixture: str or None. Name of the `ganzoo.data.toy` mixture the model is
            trained on (`ring8`, `grid25`); set automatically by `from_data_spec`.
            Enables scatter plots and mode-coverage metrics.
        **kwargs: forwarded to `GAN` (`d_steps`, `seed`, `unrolled_steps`, ...).

    Example:

    >>> spec = ganzoo.data.DataSpec("ring8", (2,), 8)
    >>> gan = VanillaGAN.from_data_spec(spec)
    >>> gan.compile(loss="non_saturating")
    >>> gan.mode_coverage()["modes"]  # after training
    """

    # The authors' MNIST model (goodfeli/adversarial mnist.yaml) has D maxout
    # 240 x 5 pieces twice, z of 100 and batch 100; its G is wider (1200-1200),
    # which configs/vanilla_digits.yaml sets (`model.generator.units`).
    default_overrides = {
        "model.architecture": "mlp",
        "model.latent_dim": 100,
        "model.width": 240,
        "train.loss": "non_saturating",
        "train.batch_size": 100,
    }
    task = VanillaTask

    def __init__(self, generator, discriminator, latent_dim, mixture=None, **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.mixture = mixture
        if mixture is not None:
            toy.mixture_params(mixture)  # fails early, naming the known mixtures

    @classmethod
    def from_data_spec(cls, spec, config=None, seed=0, **kwargs):
        if tuple(spec.shape) == (2,) and spec.name in ("ring8", "grid25"):
            kwargs.setdefault("mixture", spec.name)
        return super().from_data_spec(spec, config, seed=seed, **kwargs)

    # ---------------------------------------------------------------- visuals
    @property
    def vector_output(self):
        """Whether G produces 2-D points (scatter plots) rather than images."""
        return tuple(self.generator.output.shape[1:]) == (2,)

    def sample_grid(self, seed=0):
        """A scatter plot of 1,000 samples for 2-D data, else the 10x10 image grid."""
        if not self.vector_output:
            return super().sample_grid(seed)
        samples = self.generate(SCATTER_SAMPLES, seed=seed)
        return mc.scatter_plot_array(samples, self._centers(samples))

    def _centers(self, samples):
        if self.mixture is not None:
            return toy.mixture_params(self.mixture)[0]
        # Unknown 2-D data: no modes to mark, so frame the samples by two corners.
        return np.percentile(samples, [1, 99], axis=0)

    # ------------------------------------------------------------ mode metrics
    def mode_coverage(self, num_samples=mc.NUM_EVAL_SAMPLES, seed=0):
        """VEEGAN/PacGAN metrics of `num_samples` generated points on `self.mixture`.

        Returns:
            dict: `modes` (captured), `num_modes`, `high_quality` (fraction),
            `reverse_kl`, `counts` (high-quality samples per mode, a list).
        """
        if self.mixture is None:
            raise ValueError("mode_coverage needs a 2-D mixture (mixture='ring8' or 'grid25').")
        centers, std = toy.mixture_params(self.mixture)
        stats = mc.mode_coverage(self.generate(num_samples, seed=seed), centers, std)
        return {**stats, "num_modes": len(centers), "counts": stats["counts"].tolist()}


class ModeCoverageLogger(callbacks_lib._EveryNSteps):
    """Every `every` steps: scatter PNG + TensorBoard image and the mode metrics.

    Writes `samples/scatter_XXXXXXXX.png` (2,500 samples, title with the
    metrics) and the TensorBoard scalars `modes/captured`, `modes/high_quality`,
    `modes/reverse_kl`; keeps `history` rows `[step, modes, high_quality, reverse_kl]`.
    """

    def __init__(self, run_dir, every, writer=None, seed=0):
        super().__init__(every)
        self.dir = os.path.join(run_dir, "samples")
        self.writer = writer
        self.seed = seed
        self.history = []
        tf.io.gfile.makedirs(self.dir)

    def run(self, step, logs):
        gan = self.model
        centers, std = toy.mixture_params(gan.mixture)
        samples = gan.generate(mc.NUM_EVAL_SAMPLES, seed=self.seed)
        stats = mc.mode_coverage(samples, centers, std)
        title = (f"step {step}: {stats['modes']}/{len(centers)} modes, "
                 f"{stats['high_quality']:.0%} HQ, rKL {stats['reverse_kl']:.2f}")
        picture = mc.scatter_plot_array(samples, centers, title=title)
        images_lib.write_png(os.path.join(self.dir, f"scatter_{step:08d}.png"), picture)
        self.history.append([step, stats["modes"], stats["high_quality"], stats["reverse_kl"]])
        if self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.image("scatter", picture[None], max_outputs=1)
                tf.summary.scalar("modes/captured", stats["modes"])
                tf.summary.scalar("modes/high_quality", stats["high_quality"])
                tf.summary.scalar("modes/reverse_kl", stats["reverse_kl"])
