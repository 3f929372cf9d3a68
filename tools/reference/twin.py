"""The PyTorch twin of a ganzoo run: networks, optimizers, losses and train_step.

`Twin.train_step` is `ganzoo.models.base.GAN.train_step` for the families
below: one step takes `batch_size * d_steps` real examples, splits them into
`d_steps` strided minibatches (rows i, i+k, ...; `GAN._split_for_d_steps`),
updates D once per minibatch on fresh noise from G in training mode (no
gradient to G; G's batch-norm statistics update, as in ganzoo), then updates G
once on fresh noise with D in training mode. Losses are per-example means.

Known, documented differences from Keras that do not change the algorithm:
Adam's epsilon (1e-7, as Keras) sits outside the bias correction in Keras
("epsilon hat") and inside it in PyTorch; RMSprop adds it under the square
root in Keras and after it in PyTorch; batch norm's running variance is the
unbiased batch variance in PyTorch and the biased one in Keras (only sampling
in inference mode sees it). Noise comes from `torch.randn`, not TF's Philox.
"""

import dataclasses
import os
import time
import warnings

import numpy as np
import torch
from torch.nn import functional as F

from .networks import build_networks

# Per-example losses on logits, as `ganzoo.losses`: name -> (generator, discriminator).
LOSSES = {
    "non_saturating": (lambda f: F.softplus(-f),
                       lambda r, f, a: (1 - a) * F.softplus(-r) + a * F.softplus(r)
                       + F.softplus(f)),
    "minimax": (lambda f: -F.softplus(f),
                lambda r, f, a: (1 - a) * F.softplus(-r) + a * F.softplus(r) + F.softplus(f)),
    "wasserstein": (lambda f: -f, lambda r, f, a: f - r),
    "hinge": (lambda f: -f, lambda r, f, a: F.relu(1 - r) + F.relu(1 + f)),
    "least_squares": (lambda f: 0.5 * (f - 1) ** 2,
                      lambda r, f, a: 0.5 * (r - 1) ** 2 + 0.5 * f**2),
}
# model.options each family accepts (the rest of ganzoo's options have no twin).
FAMILY_OPTIONS = {
    "dcgan": {},
    "wgan": {"clip_value": 0.01},
    "wgan_gp": {"penalty_weight": 10.0, "one_sided_penalty": False},
}


def make_optimizer(params, opt):
    """A torch optimizer from ganzoo's `OptimizerConfig` dict, with Keras' defaults."""
    name, extra = opt["name"].lower(), dict(opt.get("options") or {})
    lr, eps = opt["learning_rate"], extra.pop("epsilon", 1e-7)
    if name == "adam":
        made = torch.optim.Adam(params, lr=lr, betas=(opt["beta_1"], opt["beta_2"]), eps=eps,
                                amsgrad=extra.pop("amsgrad", False))
    elif name == "rmsprop":
        made = torch.optim.RMSprop(params, lr=lr, alpha=extra.pop("rho", 0.9), eps=eps,
                                   momentum=extra.pop("momentum", 0.0),
                                   centered=extra.pop("centered", False))
    else:
        raise ValueError(f"No PyTorch twin for optimizer {opt['name']!r}; use adam or rmsprop.")
    if extra:
        raise ValueError(f"Optimizer options {sorted(extra)} have no PyTorch twin here.")
    return made


class Twin:
    """A ganzoo DCGAN / WGAN / WGAN-GP run rebuilt in PyTorch from its resolved config.

    Args:
        config: dict. `ganzoo.config.ExperimentConfig.to_dict()` of a resolved
            config (`ganzoo.train_lib.resolve_config`), so the paper defaults of
            the family (`default_overrides`) are already applied.
        shape: tuple. `(H, W, C)` of the images.
        channels_last: bool. Keep maps in NHWC memory order (PyTorch's faster
            CPU layout for convolutions). Defaults to False.
        device: str. Where the networks, noise and steps live ("cpu", "cuda").
            Defaults to "cpu"; `train_step` takes `real` on this device.

    Example:

    >>> twin = Twin(resolve_config("dcgan").to_dict(), (28, 28, 1))
    >>> twin.train_step(real)          # [batch * d_steps, 1, 28, 28] in [-1, 1]
    >>> images = twin.generate(16, seed=0)
    """

    def __init__(self, config, shape, channels_last=False, device="cpu"):
        model, train = config["model"], config["train"]
        self.family = model["name"]
        if self.family not in FAMILY_OPTIONS:
            raise ValueError(f"No PyTorch twin for model {self.family!r}; "
                             f"have {sorted(FAMILY_OPTIONS)}.")
        options = {**FAMILY_OPTIONS[self.family], **model.get("options", {})}
        unknown = set(options) - set(FAMILY_OPTIONS[self.family])
        if unknown:
            raise ValueError(f"model.options {sorted(unknown)} have no PyTorch twin.")
        self.options = options
        self.shape, self.latent_dim = tuple(shape), int(model["latent_dim"])
        self.batch_size, self.d_steps = int(train["batch_size"]), int(train["d_steps"])
        self.seed = int(train["seed"])
        self.g_loss, self.d_loss = LOSSES[train["loss"]]
        self.probability = train["loss"] in ("minimax", "non_saturating")
        self.label_smoothing = float(train.get("label_smoothing", 0.0))
        disc = dict(model.get("discriminator") or {})
        if self.family == "wgan_gp":
            disc.setdefault("norm", "layer")  # `WGANGP.default_critic_norm`
        torch.manual_seed(self.seed)  # as keras.utils.set_random_seed in from_data_spec
        self.generator, self.discriminator = build_networks(
            model["architecture"], self.shape, self.latent_dim, int(model["width"]),
            model.get("generator"), disc)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.device = torch.device(device)
        for net in (self.generator, self.discriminator):
            net.to(device=self.device, memory_format=self.memory_format).train()
        self.d_optimizer = make_optimizer(self.discriminator.parameters(), train["d_optimizer"])
        self.g_optimizer = make_optimizer(self.generator.parameters(), train["g_optimizer"])
        self.noise = torch.Generator(device=self.device).manual_seed(self.seed)

    # ------------------------------------------------------------------- steps
    def train_step(self, real, noise=None):
        """One ganzoo step on `real` `[batch * d_steps, C, H, W]`; returns the losses.

        `noise` (for `check_parity.py`) is `{"d": [z_i], "alpha": [a_i], "g": z}`
        to replay ganzoo's own draws; None draws fresh noise.
        """
        k = self.d_steps
        b = real.shape[0] // k
        chunks = real.view(b, k, *real.shape[1:])
        logs = {}
        for i in range(k):
            z = noise["d"][i] if noise else self._latent(b)
            alpha = noise["alpha"][i] if noise and "alpha" in noise else None
            logs = self._discriminator_step(chunks[:, i], z, alpha)
        z = noise["g"] if noise else self._latent(b)
        logs["g_loss"] = self._generator_step(z)
        return logs

    def _discriminator_step(self, real, z, alpha):
        real = real.contiguous(memory_format=self.memory_format)
        with torch.no_grad():
            fake = self.generator(z)
        real_logits = self.discriminator(real)
        fake_logits = self.discriminator(fake)
        loss = self.d_loss(real_logits, fake_logits, self.label_smoothing).mean()
        logs = {"d_adversarial": loss.detach()}
        if self.family == "wgan_gp":
            if alpha is None:
                alpha = torch.rand(real.shape[0], generator=self.noise, device=self.device)
            penalty = self.options["penalty_weight"] * self._gradient_penalty(real, fake, alpha)
            logs["gradient_penalty"] = penalty.detach()
            loss = loss + penalty
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.d_optimizer.step()
        if self.family == "wgan":
            c = self.options["clip_value"]
            with torch.no_grad():
                for p in self.discriminator.parameters():
                    p.clamp_(-c, c)
        logs["d_loss"] = loss.detach()
        logs["d_real"], logs["d_fake"] = self._score(real_logits), self._score(fake_logits)
        return logs

    def _score(self, logits):
        # ganzoo logs D(x) as a probability for the cross-entropy losses.
        logits = logits.detach()
        return (torch.sigmoid(logits) if self.probability else logits).mean()

    def _gradient_penalty(self, real, fake, alpha):
        """Mean `(||grad D(x_hat)|| - 1)^2`, one `alpha ~ U[0, 1]` per example (Alg. 1)."""
        a = alpha.view(-1, 1, 1, 1)
        x_hat = (a * real + (1 - a) * fake).requires_grad_(True)
        grads, = torch.autograd.grad(self.discriminator(x_hat).sum(), x_hat, create_graph=True)
        excess = torch.sqrt(grads.flatten(1).square().sum(1) + 1e-12) - 1.0
        if self.options["one_sided_penalty"]:
            excess = F.relu(excess)
        return excess.square().mean()

    def _generator_step(self, z):
        self.discriminator.requires_grad_(False)  # no D weight gradients, as ganzoo's tape
        loss = self.g_loss(self.discriminator(self.generator(z))).mean()
        self.g_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.g_optimizer.step()
        self.discriminator.requires_grad_(True)
        return loss.detach()

    def _latent(self, n):
        return torch.randn(n, self.latent_dim, generator=self.noise, device=self.device)

    # -------------------------------------------------------------- sampling
    def generate(self, num_images, seed=0, batch_size=256):
        """Samples from G in inference mode (running batch-norm statistics).

        Args:
            num_images: int. How many.
            seed: int. The same seed gives the same images.
            batch_size: int. Generator batch size.

        Returns:
            float32 numpy `[num_images, H, W, C]` in [-1, 1], like `GAN.generate`.
        """
        z = torch.randn(num_images, self.latent_dim, generator=torch.Generator().manual_seed(seed))
        self.generator.eval()
        with torch.no_grad():
            out = [self.generator(part.to(self.device)).permute(0, 2, 3, 1).cpu().numpy()
                   for part in z.split(batch_size)]
        self.generator.train()
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, *self.shape))


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the trained twin and its timing.

    `seconds` is the wall time of the training loop alone (batching, noise and
    updates; building and the one-off copy of the data to a tensor excluded).
    `images_per_second` counts real examples consumed, `steps * batch_size *
    d_steps / seconds` (the same as generator steps times batch for DCGAN).
    """

    twin: Twin
    steps: int
    seconds: float
    images_per_second: float
    metrics: dict

    @property
    def generator(self):
        return self.twin.generator

    def generate(self, num_images, seed=0):
        return self.twin.generate(num_images, seed)


def train(images, config, steps=None, batch_size=None, seed=None, threads=None,
          channels_last=False, log_every=0, device="cpu"):
    """Trains the PyTorch twin of a ganzoo config on in-memory images.

    Data order: an endless stream of fresh permutations of `images` (complete
    shuffles, joined across epochs as ganzoo's `repeat().batch()` does), cut
    into `batch_size * d_steps` examples per step.

    Args:
        images: float32 numpy `[N, H, W, C]` in [-1, 1] (NHWC, as `ganzoo.data`).
        config: `ganzoo.config.ExperimentConfig`, its `to_dict()`, or a model name
            (`"dcgan"`, `"wgan_gp"`, resolved with `ganzoo.train_lib.resolve_config`).
        steps: int or None. Generator updates; None takes `train.steps`.
        batch_size: int or None. Overrides `train.batch_size`.
        seed: int or None. Overrides `train.seed` (weights, noise, data order).
        threads: int or None. `torch.set_num_threads`; None keeps PyTorch's default.
        channels_last: bool. NHWC memory order. Defaults to False.
        log_every: int. Print the losses every this many steps; 0 never.
        device: str. Where to train ("cpu", "cuda"); the images are copied there
            once, before the clock starts. Defaults to "cpu".

    Returns:
        `TrainResult` (`.generate(n, seed)`, `.seconds`, `.images_per_second`).

    Example:

    >>> result = train(x_train, "dcgan", steps=2000, batch_size=64, seed=0, threads=2)
    >>> samples = result.generate(10_000, seed=0)   # NHWC float32 in [-1, 1]
    """
    config = _config_dict(config)
    t = config["train"]
    t.update({k: v for k, v in (("batch_size", batch_size), ("seed", seed)) if v is not None})
    steps = int(steps if steps is not None else t["steps"])
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or not -1.0 <= float(images.min()) <= float(images.max()) <= 1.0:
        raise ValueError(f"images must be [N, H, W, C] in [-1, 1]; got {images.shape}, "
                         f"range [{images.min()}, {images.max()}].")
    if threads:
        torch.set_num_threads(int(threads))
    _warn_if_contended()
    twin = Twin(config, images.shape[1:], channels_last=channels_last, device=device)
    data = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(twin.device)
    order = _Order(len(data), np.random.default_rng(twin.seed))
    per_step = twin.batch_size * twin.d_steps
    sums, start = {}, time.perf_counter()
    for step in range(1, steps + 1):
        logs = twin.train_step(data.index_select(0, order.take(per_step).to(twin.device)))
        for key, value in logs.items():
            sums[key] = sums.get(key, 0.0) + value
        if log_every and step % log_every == 0:
            print(f"step {step}: " + ", ".join(f"{k}={float(v):.4f}" for k, v in logs.items()),
                  flush=True)
    if twin.device.type == "cuda":
        torch.cuda.synchronize(twin.device)  # the queued kernels belong to the loop's time
    seconds = time.perf_counter() - start
    metrics = {k: float(v) / max(steps, 1) for k, v in sums.items()}
    return TrainResult(twin, steps, seconds, steps * per_step / seconds, metrics)


def _warn_if_contended():
    # GNU OpenMP threads spin at barriers: with busy cores PyTorch slows down many
    # times over (tools/reference/__init__.py has the numbers), which would make a
    # wall-time comparison meaningless.
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if torch.get_num_threads() > 1 and load > cores and "OMP_WAIT_POLICY" not in os.environ:
        warnings.warn(f"1-min load {load:.1f} exceeds the {cores} cores: PyTorch's OpenMP "
                      f"threads ({torch.get_num_threads()}) will spin-wait and run far slower "
                      "than on an idle machine; time on a quiet machine, or set "
                      "OMP_WAIT_POLICY=PASSIVE (before importing torch) or threads=1.",
                      stacklevel=3)


class _Order:
    """Indices from back-to-back random permutations of `range(n)`."""

    def __init__(self, n, rng):
        self.n, self.rng, self.buffer = n, rng, np.empty(0, np.int64)

    def take(self, k):
        while len(self.buffer) < k:
            self.buffer = np.concatenate([self.buffer, self.rng.permutation(self.n)])
        out, self.buffer = self.buffer[:k], self.buffer[k:]
        return torch.from_numpy(out)


def _config_dict(config):
    if isinstance(config, str):
        from ganzoo import train_lib

        config = train_lib.resolve_config(config)
    if hasattr(config, "to_dict"):
        config = config.to_dict()
    return {section: dict(values) for section, values in config.items()}
