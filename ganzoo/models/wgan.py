"""Wasserstein GANs: weight clipping (WGAN) and the gradient penalty (WGAN-GP).

The critic is trained `d_steps` (n_critic = 5) times per generator update on
the Wasserstein loss; its output is a raw score, not a probability. Both
families log `wasserstein_estimate`, the critic's estimate
`E[D(x)] - E[D(G(z))]` of the Wasserstein-1 distance, on its last update of each
step: the curve to watch (it should fall as samples improve). Read its trend,
not its value: a clipped critic is c-Lipschitz for some unknown scale, and the
soft gradient penalty lets the slope exceed 1 (between N(0, 1) and N(m, 1) the
best penalised critic reports |m| (1 + |m| / (2 lambda)), +15% for m = 3,
lambda = 10; `tests/test_wgan.py`).

References:
    Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017,
    https://arxiv.org/abs/1701.07875 (Algorithm 1).
    Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017,
    https://arxiv.org/abs/1704.00028 (Algorithm 1).
    Petzka, Fischer & Lukovnikov, "On the regularization of Wasserstein GANs",
    ICLR 2018, https://arxiv.org/abs/1709.08894 (the one-sided penalty).
"""

import copy
import inspect
import math

import keras
import tensorflow as tf

from ganzoo import losses as losses_lib
from ganzoo.errors import ConfigError
from ganzoo.models.base import GAN
from ganzoo.registry import register_model
from ganzoo.tasks import Task


class _CriticGAN(GAN):
    """Shared by WGAN and WGAN-GP: logs the critic's Wasserstein estimate."""

    def metric_names(self):
        return super().metric_names() + ["wasserstein_estimate"]

    def _discriminator_step(self, real, labels, draw):
        logs = super()._discriminator_step(real, labels, draw)
        # d_real/d_fake are the mean raw critic outputs for the critic losses
        # (wasserstein, hinge, least_squares); for the cross-entropy losses they
        # are probabilities and this is only their gap.
        logs["wasserstein_estimate"] = logs["d_real"] - logs["d_fake"]
        return logs


class CriticTask(Task):
    """Runs of WGAN and WGAN-GP: the plain task, with bf16 by default on CPUs that have it."""

    def bf16_on_cpu(self, config):
        # Measured on each family's Fashion-MNIST config over 3 seeds (tools/results/
        # precision.md, step_rate.md): wgan at 3,000 steps fmnist-FID 650.8 +- 17.7 in bf16
        # vs 653.6 +- 10.4 in float32 (paired -29.7, +24.3, -3.0), the step 1.35x faster;
        # wgan_gp at 2,500 steps 575.3 +- 2.9 vs 573.3 +- 10.4 (paired -6.5, -1.8, +14.0),
        # the penalty's norms in float32 (ganzoo.losses), the step 1.16x faster.
        return True


@register_model("wgan")
class WGAN(_CriticGAN):
    """Wasserstein GAN with weight clipping (Arjovsky et al. 2017).

    After every critic update, every trainable critic weight is clipped to
    `[-clip_value, clip_value]`, batch-norm scales and offsets included: the
    paper's code clips all of `netD.parameters()`. Non-trainable state (batch
    norm moving statistics, spectral-norm vectors) is left alone. Paper
    settings (`default_overrides`): RMSProp(5e-5) for both networks, n_critic
    = 5, c = 0.01, the DCGAN architecture. The reference code's extra critic
    iterations (100 for the first 25 generator steps) are not reproduced.

    Args:
        generator: keras.Model. Latent `[B, latent_dim]` -> images in [-1, 1].
        discriminator: keras.Model. The critic: images -> `{"logits": [B, 1], ...}`,
            no sigmoid.
        latent_dim: int. Dimension of z.
        clip_value: float. c, the clipping bound. Defaults to 0.01.
        d_steps: int. Critic updates per generator update (n_critic). Defaults to
            1 like every family; runs get the paper's 5 from `train.d_steps`
            (`default_overrides`), so pass `d_steps=5` when building directly.
        seed: int. Seed of the training noise.
        **kwargs: forwarded to `GAN`.

    Example:

    >>> spec = ganzoo.data.DataSpec("digits", (16, 16, 1), 10)
    >>> gan = WGAN.from_data_spec(spec, d_steps=5)
    >>> gan.compile(d_optimizer=keras.optimizers.RMSprop(5e-5),
    ...             g_optimizer=keras.optimizers.RMSprop(5e-5), loss="wasserstein")
    """

    task = CriticTask
    default_overrides = {
        "model.architecture": "dcgan",
        "train.loss": "wasserstein",
        "train.d_steps": 5,
        # PyTorch's RMSprop (the paper's code) decays with alpha = rho = 0.99.
        "train.d_optimizer": {"name": "rmsprop", "learning_rate": 5e-5, "options": {"rho": 0.99}},
        "train.g_optimizer": {"name": "rmsprop", "learning_rate": 5e-5, "options": {"rho": 0.99}},
    }

    def __init__(self, generator, discriminator, latent_dim, clip_value=0.01, d_steps=1,
                 seed=0, **kwargs):
        if not clip_value > 0:
            raise ValueError(f"clip_value must be positive, got {clip_value}.")
        self.clip_value = float(clip_value)
        super().__init__(generator, discriminator, latent_dim, d_steps=d_steps, seed=seed,
                         **kwargs)

    def _after_discriminator_update(self):
        c = self.clip_value
        for variable in self.discriminator.trainable_variables:
            variable.assign(tf.clip_by_value(variable, -c, c))


@register_model("wgan_gp")
class WGANGP(_CriticGAN):
    """WGAN with a gradient penalty (Gulrajani et al. 2017).

    The critic loss adds `penalty_weight * (||grad D(x_hat)|| - 1)^2` on
    interpolates `x_hat = a x + (1 - a) G(z)` with one `a ~ U[0, 1]` per example,
    drawn from the base class's stateless noise (`_uniform`), so resumed and
    distributed runs draw the same weights. The inner gradient w.r.t. `x_hat` is
    taken under the critic update's tape, so the critic's weight gradient
    includes the penalty's second-order term. The penalty is per example, so
    the critic must not use batch norm: the critic's norm defaults to `layer`,
    and a batch-norm critic is rejected. Paper settings (`default_overrides`):
    Adam(1e-4, beta_1=0, beta_2=0.9) for both networks, n_critic = 5, lambda = 10.

    Args:
        generator: keras.Model. Latent `[B, latent_dim]` -> images in [-1, 1].
        discriminator: keras.Model. The critic, without batch normalization.
        latent_dim: int. Dimension of z.
        penalty_weight: float. lambda. Defaults to 10.
        one_sided_penalty: bool. Penalise only gradient norms above 1,
            `max(0, ||g|| - 1)^2` (Petzka et al. 2018). Defaults to False.
        d_steps: int. Critic updates per generator update (n_critic). Defaults to
            1 like every family; runs get the paper's 5 from `train.d_steps`
            (`default_overrides`), so pass `d_steps=5` when building directly.
        seed: int. Seed of the training noise.
        **kwargs: forwarded to `GAN`.

    Example:

    >>> spec = ganzoo.data.DataSpec("digits", (16, 16, 1), 10)
    >>> gan = WGANGP.from_data_spec(spec, d_steps=5)
    >>> gan.compile(d_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9),
    ...             g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9),
    ...             loss="wasserstein")
    """

    task = CriticTask
    default_overrides = {
        "model.architecture": "dcgan",
        "train.loss": "wasserstein",
        "train.d_steps": 5,
        "train.d_optimizer": {"name": "adam", "learning_rate": 1e-4, "beta_1": 0.0,
                              "beta_2": 0.9},
        "train.g_optimizer": {"name": "adam", "learning_rate": 1e-4, "beta_1": 0.0,
                              "beta_2": 0.9},
    }
    # Critic normalisation when the config names none: batch norm would couple
    # the examples whose gradient norms the penalty constrains one by one.
    default_critic_norm = "layer"

    def __init__(self, generator, discriminator, latent_dim, penalty_weight=10.0,
                 one_sided_penalty=False, d_steps=1, seed=0, **kwargs):
        # Networks built by hand never pass `check_config`: the same rule on the critic itself.
        batch_norms = [layer.name for layer in _all_layers(discriminator)
                       if isinstance(layer, keras.layers.BatchNormalization)]
        if batch_norms:
            raise ValueError(
                f"WGAN-GP's critic must not use batch normalization (found {batch_norms}): "
                "the gradient penalty is per example. Set model.discriminator.norm to "
                "'layer' or 'none'."
            )
        if penalty_weight < 0:
            raise ValueError(f"penalty_weight must be >= 0, got {penalty_weight}.")
        self.penalty_weight = float(penalty_weight)
        self.one_sided_penalty = bool(one_sided_penalty)
        super().__init__(generator, discriminator, latent_dim, d_steps=d_steps, seed=seed,
                         **kwargs)

    @classmethod
    def from_data_spec(cls, spec, config=None, seed=0, **kwargs):
        """Builds G and the critic; the critic's norm defaults to `layer` (see class doc)."""
        from ganzoo.config import ModelConfig
        from ganzoo.models import networks

        config = copy.deepcopy(config) if config else ModelConfig(name=cls.registered_name)
        builder = networks.get_architecture(config.architecture).discriminator
        if "norm" in inspect.signature(builder).parameters:
            config.discriminator.setdefault("norm", cls.default_critic_norm)
        return super().from_data_spec(spec, config, seed=seed, **kwargs)

    @classmethod
    def check_config(cls, config):
        """Refuses a batch-norm critic (`model.discriminator.norm: batch`, see the class doc)."""
        if config.discriminator.get("norm") == "batch":
            raise ConfigError(
                "Config key 'model.discriminator.norm' is 'batch', but wgan_gp's gradient "
                "penalty is per example and batch norm couples the examples (Gulrajani et al. "
                "2017); set it to 'layer' (the default) or 'none'.")

    def metric_names(self):
        return super().metric_names() + ["gradient_penalty"]

    def _sample_generator_inputs(self, batch_size, labels, draw):
        inputs, extras = super()._sample_generator_inputs(batch_size, labels, draw)
        return inputs, {**extras, "interpolation": self._uniform(batch_size, draw + 100)}

    def _discriminator_terms(self, real_out, fake_out, batch):
        terms = super()._discriminator_terms(real_out, fake_out, batch)
        penalty = losses_lib.gradient_penalty(
            # Training mode, like the critic's other calls in this update.
            lambda x: self._discriminate(x, batch, training=True)["logits"],
            batch["real"], batch["fake"], batch["extras"]["interpolation"],
            one_sided=self.one_sided_penalty,
        )
        terms["gradient_penalty"] = self.penalty_weight * penalty
        return terms

    def _uniform(self, batch_size, draw):
        """One U[0, 1] draw per example: `Phi(n)` of the base's stateless normal noise.

        The probability integral transform of N(0, 1) is exactly uniform, and
        reusing `_noise` keeps its keying on (seed, step, draw) and its
        per-replica slicing of one global batch.
        """
        normal = self._noise(batch_size, draw, dim=1)[:, 0]
        return 0.5 * tf.math.erfc(-normal / math.sqrt(2.0))


def _all_layers(layer):
    """Every layer inside `layer`: nested models' layers and wrapped layers included."""
    for sub in getattr(layer, "layers", []) + [getattr(layer, "layer", None)]:
        if sub is not None:
            yield sub
            yield from _all_layers(sub)
