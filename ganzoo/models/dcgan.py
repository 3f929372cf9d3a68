"""DCGAN: Radford, Metz & Chintala, "Unsupervised Representation Learning with
Deep Convolutional Generative Adversarial Networks", ICLR 2016.

The training loop is the base GAN's; what DCGAN adds is its architecture
(`networks.dcgan_generator` / `dcgan_discriminator`) and its hyper-parameters:
Adam(2e-4, beta_1=0.5), batch 128 in the paper, the non-saturating loss.
"""

from ganzoo.models.base import GAN
from ganzoo.registry import register_model
from ganzoo.tasks import Task


class DCGANTask(Task):
    """Runs of DCGAN: the plain task, with bf16 by default on CPUs that have it."""

    def bf16_on_cpu(self, config):
        # The Fashion-MNIST config at its 10,000 steps: fmnist-FID 261.4 +- 4.5 in bf16
        # vs 261.4 +- 6.3 in float32 over 3 seeds, the loop 1.15-1.26x faster on the
        # same AVX-512 bf16 instance (tools/results/precision.md); step 1.35x (step_rate.md).
        return True


@register_model("dcgan")
class DCGAN(GAN):
    """Deep convolutional GAN (Radford et al. 2015).

    Args:
        generator: keras.Model. Latent `[B, latent_dim]` -> images in [-1, 1].
        discriminator: keras.Model. Images -> `{"logits": [B, 1], "features": ...}`.
        latent_dim: int. Dimension of z (100 in the paper).
        d_steps: int. Discriminator updates per generator update. Defaults to 1.
        seed: int. Seed of the training noise.
        **kwargs: forwarded to `GAN`.

    Example:

    >>> spec = ganzoo.data.DataSpec("digits", (16, 16, 1), 10)
    >>> gan = DCGAN.from_data_spec(spec)
    >>> gan.compile()
    """

    task = DCGANTask
    default_overrides = {
        "model.architecture": "dcgan",
        "train.loss": "non_saturating",
        "train.g_optimizer.learning_rate": 2e-4,
        "train.g_optimizer.beta_1": 0.5,
        "train.d_optimizer.learning_rate": 2e-4,
        "train.d_optimizer.beta_1": 0.5,
        # The default run (digits, 16x16): 90.6% confident digits at 2,000 steps
        # (tools/results/digits.md); 3,000, the earlier default, gave 91.1% on
        # seed 0 (that file before 2,000 replaced it) in 1.5x the time.
        "train.steps": 2000,
    }
