"""InfoGAN: Chen et al., "InfoGAN: Interpretable Representation Learning by
Information Maximizing Generative Adversarial Nets", NeurIPS 2016,
https://arxiv.org/abs/1606.03657.

G's input is noise z plus structured codes c: one categorical code (10 values
by default) and continuous codes (2 by default, uniform on [-1, 1]), as the
paper's MNIST model (62 noise dims + Cat(10) + 2 Unif(-1, 1) = 74 inputs; z is
N(0, I) here as in ganzoo's other models: the authors' Uniform(-1, 1) noise
measured worse on digits, 0.71 vs 0.87 matched accuracy over 3-4 seeds).
Q shares all of D (the paper's architecture `infogan`, built in
`ganzoo.models.infogan_networks`: convolutions and the FC layer) and adds one
hidden layer (128 units, batch norm, LeakyReLU) and the code heads:
categorical logits and continuous means (a factored Gaussian
with unit std as in the authors' MNIST code, `fix_std=True`, or a learned
log-std). G and Q (with D's body) both minimise `lambda * -log Q(c | G(z, c))`
(`ganzoo.losses.mutual_information_penalty`; H(c) is a constant). lambda = 1
for the categorical code (sec. 7: for discrete codes "lambda = 1 is
sufficient"); the paper takes a smaller lambda for continuous codes, the
authors' MNIST launcher (openai/InfoGAN `launchers/run_mnist_exp.py`,
`info_reg_coeff=1.0`) 1 for all codes: the class default is 1,
`configs/infogan_digits.yaml` uses 0.5 (measured better). Learning rates:
2e-4 for D, 1e-3 for G, Adam beta_1 = 0.5 (the same launcher).

Codes for sampling (`generate(n, codes=...)`, see `InfoGAN.pack_codes`):
- a dict `{"categorical": int [N], "continuous": float [N, C]}` (either key
  may be left out), or
- a float array `[N, K + C]`: one-hot categorical code then continuous codes
  (the exported signature's `codes` input), or
- a float array `[N, 1 + C]`: the categorical value as a number, then
  continuous codes.
Without codes, the categorical value cycles 0, 1, ..., K-1 (like a
conditional model's labels) and the continuous codes are drawn uniformly on
[-1, 1] from the seed. The categorical values are *learned* categories: which
digit each value draws is found after training by matching
(`ganzoo.metrics.control.categorical_code_accuracy`).
"""

import os

import numpy as np
import tensorflow as tf

from ganzoo import callbacks as callbacks_lib
from ganzoo import images as images_lib
from ganzoo import losses as losses_lib
from ganzoo import validation
from ganzoo.errors import ConfigError
from ganzoo.models import infogan_networks, replicas, sampling
from ganzoo.models.base import GAN
from ganzoo.registry import register_model
from ganzoo.tasks import Task


# --------------------------------------------------------------------- task
class InfoGANTask(Task):
    """Runs of InfoGAN: traversal grids while training, code accuracies at the end."""

    def callbacks(self, gan, config, spec, model_dir, writer):
        if not gan.num_continuous or len(spec.shape) != 3:
            return []
        return [Traversals(model_dir, config.train.sample_every, writer, seed=config.train.seed)]

    def report_requirements(self, config):
        if not int(config.model.options.get("num_categories", 10)):
            return {}
        return {"code_accuracy": validation.Requirements(labels=True),
                "q_test_accuracy": validation.Requirements(labels=True, splits=("test",))}

    def report(self, gan, config, spec):
        """Matched categorical-code accuracy on generated images (independent
        classifier) and, as in the paper, Q's matched accuracy on real test images.

        Training needs neither labels nor a test split; without them the
        measurement is listed under `skipped` with the reason.
        """
        if not gan.num_categories:
            return {}
        from ganzoo import data
        from ganzoo.metrics import control

        unlabeled = validation.unmet_requirement(validation.Requirements(labels=True), spec, config)
        if unlabeled:
            reason = f"needs {unlabeled}"
            return {"skipped": dict.fromkeys(self.report_requirements(config), reason)}
        d = config.data
        classifier = control.reference_classifier(d.name, d.image_size, d.data_dir)
        report = control.categorical_code_accuracy(gan, classifier, seed=config.train.seed)
        report["classifier"] = classifier.name
        try:
            test, _ = data.load(d.name, "test", d.image_size, d.data_dir)
        except (FileNotFoundError, ValueError) as e:
            report["skipped"] = {"q_test_accuracy": f"needs a 'test' split: {str(e).rstrip('.')}"}
            return report
        images, labels = test.take(10_000).batch(10_000).get_single_element()
        logits = gan.infer_codes(images.numpy())["q_categorical"]
        report["q_test_accuracy"], _, _ = control.matched_accuracy(
            np.argmax(logits, -1), labels.numpy(), gan.num_categories, spec.num_classes)
        return report


# -------------------------------------------------------------------- model
@register_model("infogan")
class InfoGAN(GAN):
    """Information-maximizing GAN (Chen et al. 2016).

    Args:
        generator: keras.Model. `[B, latent_dim + num_categories + num_continuous]`
            (noise, one-hot categorical code, continuous codes) -> images.
        discriminator: keras.Model. Images -> `{"logits", "features",
            "q_categorical", "q_continuous_mean"[, "q_continuous_log_std"]}`.
        latent_dim: int. Dimension of the noise z (62 in the paper's MNIST model).
        num_categories: int. Values of the categorical code; 0 for none. Defaults to 10.
        num_continuous: int. Number of continuous codes; 0 for none. Defaults to 2.
        categorical_weight: float. lambda of the categorical code. Defaults to 1.0.
        continuous_weight: float. lambda of the continuous codes. Defaults to 1.0.
        learn_continuous_std: bool. Q predicts a log-std in (-2, 2) per continuous
            code (otherwise unit std). Read when the networks are built. Defaults to False.
        q_hidden_units: int. Units of Q's hidden layer on D's features (128 in
            the paper); 0 puts the code heads directly on the features. Read
            when the networks are built. Defaults to 128.
        **kwargs: forwarded to `GAN` (d_steps, seed, feature_matching ...).

    Example:

    >>> config = ganzoo.train_lib.resolve_config(config_file="infogan_digits")
    >>> gan = ganzoo.train_lib.run(config, "runs/infogan")["model"]
    >>> threes_maybe = gan.generate(8, codes={"categorical": [3] * 8})
    """

    default_overrides = {
        "model.architecture": "infogan",
        "model.latent_dim": 62,
        "train.loss": "non_saturating",
        "train.g_optimizer.learning_rate": 1e-3,
        "train.g_optimizer.beta_1": 0.5,
        "train.d_optimizer.learning_rate": 2e-4,
        "train.d_optimizer.beta_1": 0.5,
    }
    task = InfoGANTask
    # A pack mixes examples of different codes: Q's per-example heads cannot apply.
    supports_packing = False

    def __init__(self, generator, discriminator, latent_dim, num_categories=10,
                 num_continuous=2, categorical_weight=1.0, continuous_weight=1.0,
                 learn_continuous_std=False, q_hidden_units=128, **kwargs):
        _check_code_sizes(int(num_categories), int(num_continuous))
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.num_categories = int(num_categories)
        self.num_continuous = int(num_continuous)
        self.categorical_weight = float(categorical_weight)
        self.continuous_weight = float(continuous_weight)
        self.learn_continuous_std = bool(learn_continuous_std)
        self.q_hidden_units = int(q_hidden_units)
        self._check_networks()

    @property
    def code_dim(self):
        """Width of the packed codes: one-hot categorical + continuous."""
        return self.num_categories + self.num_continuous

    # ----------------------------------------------------------------- building
    @classmethod
    def generator_input_dim(cls, config, spec):
        o = config.options
        sizes = _check_code_sizes(int(o.get("num_categories", 10)), int(o.get("num_continuous", 2)))
        return config.latent_dim + sum(sizes)

    @classmethod
    def wrap_networks(cls, generator, discriminator, config, spec):
        """Adds Q's hidden layer and code heads on D's features (shared body)."""
        return generator, infogan_networks.add_q_heads(discriminator, config)

    def _check_networks(self):
        width, out = self.generator.input_shape[-1], self.discriminator.output
        if width != self.latent_dim + self.code_dim:
            raise ValueError(f"InfoGAN generator takes {width} inputs; latent_dim + num_categories"
                             f" + num_continuous = {self.latent_dim + self.code_dim}.")
        for name, size in (("q_categorical", self.num_categories),
                           ("q_continuous_mean", self.num_continuous)):
            if size and (name not in out or out[name].shape[-1] != size):
                raise ValueError(f"InfoGAN discriminator needs a {name!r} head of {size} units; "
                                 "build it with InfoGAN.from_data_spec.")

    def metric_names(self):
        return [*super().metric_names(), "d_mutual_information", "g_mutual_information"]

    # ------------------------------------------------------------------- losses
    def _sample_generator_inputs(self, batch_size, labels, draw):
        del labels  # InfoGAN never uses labels.
        codes = {}
        parts = [self._noise(batch_size, draw)]
        if self.num_categories:
            codes["categorical"] = replicas.uniform(
                self, [batch_size], draw + 100, 0, self.num_categories, tf.int32)
            parts.append(tf.one_hot(codes["categorical"], self.num_categories))
        if self.num_continuous:
            codes["continuous"] = replicas.uniform(
                self, [batch_size, self.num_continuous], draw + 200, -1.0, 1.0)
            parts.append(codes["continuous"])
        return tf.concat(parts, axis=-1), codes

    def mutual_information_term(self, fake_out, codes):
        """Per-example `-log Q(c | G(z, c))` `[B]`, weighted by the lambdas."""
        kwargs = {}
        if self.num_categories:
            kwargs.update(categorical_logits=fake_out["q_categorical"],
                          categorical_codes=codes["categorical"])
        if self.num_continuous:
            kwargs.update(continuous_mean=fake_out["q_continuous_mean"],
                          continuous_codes=codes["continuous"],
                          continuous_log_std=fake_out.get("q_continuous_log_std"))
        return losses_lib.mutual_information_penalty(
            **kwargs, categorical_weight=self.categorical_weight,
            continuous_weight=self.continuous_weight)

    def _discriminator_terms(self, real_out, fake_out, batch):
        terms = super()._discriminator_terms(real_out, fake_out, batch)
        terms["d_mutual_information"] = self.mutual_information_term(fake_out, batch["extras"])
        return terms

    def _generator_terms(self, fake_out, batch):
        terms = super()._generator_terms(fake_out, batch)
        terms["g_mutual_information"] = self.mutual_information_term(fake_out, batch["extras"])
        return terms

    # ----------------------------------------------------------------- sampling
    def pack_codes(self, codes, num_images, seed=0):
        """Validates codes in any format of the module docstring (None: the defaults,
        continuous codes drawn with `seed`) and packs them as float32 `[N, K + C]`;
        a ValueError names the wrong key, shape, value or non-one-hot row."""
        k, c, n = self.num_categories, self.num_continuous, int(num_images)
        if codes is None:
            codes = {}
        elif not isinstance(codes, dict):
            codes = self._split_packed(np.asarray(codes, np.float32), n)
        unknown = set(codes) - {"categorical", "continuous"}
        if unknown:
            raise ValueError(f"InfoGAN codes: unknown key(s) {sorted(unknown)}; use "
                             "'categorical' (int [N]) and 'continuous' (float [N, C]).")
        categorical = codes.get("categorical")
        if categorical is None:
            categorical = np.arange(n) % max(k, 1)
        elif not k:
            raise ValueError("InfoGAN codes: this model has no categorical code "
                             "(num_categories=0).")
        from ganzoo.models.conditional import check_labels

        categorical = check_labels(categorical, n, max(k, 1), "InfoGAN categorical code")
        continuous = codes.get("continuous")
        if continuous is None:
            continuous = np.random.default_rng(seed).uniform(-1, 1, (n, c))
        continuous = np.asarray(continuous, np.float32)
        if continuous.shape != (n, c):
            raise ValueError(f"InfoGAN codes: 'continuous' must be [{n}, {c}] "
                             f"(num_continuous={c}); got {list(continuous.shape)}.")
        if not np.all(np.isfinite(continuous)):
            raise ValueError("InfoGAN codes: 'continuous' contains NaN or Inf values.")
        one_hot = np.eye(k, dtype=np.float32)[categorical] if k else np.zeros((n, 0), np.float32)
        return np.concatenate([one_hot, continuous], axis=1)

    def _split_packed(self, codes, n):
        k, c = self.num_categories, self.num_continuous
        if codes.ndim != 2 or codes.shape[0] != n or codes.shape[1] not in (k + c, 1 + c):
            raise ValueError(
                f"InfoGAN codes must be [{n}, {k + c}] (one-hot categorical of {k} values, "
                f"then {c} continuous codes), [{n}, {1 + c}] (categorical value, then "
                f"continuous), or a dict; got shape {list(codes.shape)}.")
        if codes.shape[1] == 1 + c and k != 1:
            return {"categorical": codes[:, 0], "continuous": codes[:, 1:]}
        one_hot = codes[:, :k]
        if k and (not np.all((one_hot == 0) | (one_hot == 1)) or not np.all(one_hot.sum(1) == 1)):
            raise ValueError(f"InfoGAN codes: the first {k} columns must be one-hot rows "
                             "(the categorical code).")
        return {"categorical": np.argmax(one_hot, axis=1) if k else None,
                "continuous": codes[:, k:]}

    def generator_inputs(self, latent, codes=None, seed=0, **conditions):
        """`concat([latent, packed codes])` for G; `codes` is the family's one condition.

        Args:
            latent: float `[N, latent_dim]`.
            codes: any format of the module docstring, or None for the defaults.
            seed: int. Draws the continuous codes left out. Defaults to 0.
            **conditions: none other is taken (ValueError).
        """
        others = sampling.given_conditions(conditions)
        if "labels" in others:
            raise ValueError("InfoGAN is unsupervised: it takes no `labels`. Pass "
                             "codes={'categorical': [...]} for its learned categories.")
        if others:
            raise ValueError(f"InfoGAN is conditioned on its `codes` only; it takes no "
                             f"{', '.join(others)}.")
        latent = validation.check_latent(latent, self.latent_dim)
        packed = self.pack_codes(codes, int(latent.shape[0]), seed=seed)
        return tf.concat([latent, packed], axis=1)

    def _generate_inputs(self, latent, seed, **conditions):
        # `generate(n, seed)` draws the continuous codes left out with its own seed.
        return self.generator_inputs(latent, seed=seed, **conditions)

    def infer_codes(self, images, batch_size=500):
        """Q's outputs on images: dict of numpy `q_*` heads (categorical logits `[N, K]`)."""
        images = np.asarray(images, np.float32)
        outs = [self.discriminator(images[s:s + batch_size], training=False)
                for s in range(0, len(images), batch_size)]
        return {key: np.concatenate([np.asarray(o[key]) for o in outs])
                for key in outs[0] if key.startswith("q_")}

    def sample_grid(self, seed=0, columns=10):
        """One row per categorical value; column j shares noise; continuous codes 0."""
        return self._code_grid(np.tile(self.sample_latent(columns, seed), [self._rows, 1]),
                               np.zeros((self._rows * columns, self.num_continuous)))

    def traversal_grid(self, code_index, seed=0, values=(-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2)):
        """Rows: categorical values; columns: continuous code `code_index` swept over
        `values`; the noise (one vector) and the other continuous codes (0) fixed."""
        if not 0 <= code_index < self.num_continuous:
            raise ValueError(f"code_index must be in [0, {self.num_continuous}), got {code_index}.")
        n = self._rows * len(values)
        continuous = np.zeros((n, self.num_continuous))
        continuous[:, code_index] = np.tile(values, self._rows)
        return self._code_grid(np.repeat(self.sample_latent(1, seed), n, axis=0), continuous)

    @property
    def _rows(self):
        return max(self.num_categories, 1)

    def _code_grid(self, latent, continuous):
        codes = {"continuous": continuous}
        if self.num_categories:
            codes["categorical"] = np.repeat(np.arange(self._rows), len(latent) // self._rows)
        images = self.inference_generator(self.generator_inputs(latent, codes=codes),
                                          training=False)
        return images_lib.image_grid(np.asarray(images), rows=self._rows)

    def serving_signatures(self):
        """`serving_default`: `latent` `[B, latent_dim]` + `codes` `[B, K + C]` -> images."""
        generator = self.inference_generator

        def serving_default(latent, codes):
            return {"images": generator(tf.concat([latent, codes], axis=-1), training=False)}

        return {"serving_default": (serving_default, [
            tf.TensorSpec([None, self.latent_dim], tf.float32, name="latent"),
            tf.TensorSpec([None, self.code_dim], tf.float32, name="codes"),
        ])}


def _check_code_sizes(num_categories, num_continuous):
    if num_categories < 0 or num_continuous < 0 or num_categories + num_continuous == 0:
        raise ConfigError("InfoGAN needs codes: model.options.num_categories and "
                          "num_continuous must be >= 0 and not both 0; got "
                          f"{num_categories} and {num_continuous}.")
    return num_categories, num_continuous


class Traversals(callbacks_lib._EveryNSteps):
    """Writes InfoGAN traversal grids (`samples/traversal_c{i}_step_XXXXXXXX.png`,
    TensorBoard `traversal/c{i}`): rows = categorical values, columns = code i
    from -2 to 2."""

    def __init__(self, run_dir, every, writer=None, seed=0):
        super().__init__(every)
        self.dir = os.path.join(run_dir, "samples")
        self.writer, self.seed = writer, seed
        self._written = None
        tf.io.gfile.makedirs(self.dir)

    def run(self, step, logs):
        for i in range(self.model.num_continuous):
            grid = self.model.traversal_grid(i, seed=self.seed)
            images_lib.write_png(
                os.path.join(self.dir, f"traversal_c{i}_step_{step:08d}.png"), grid, scale=2)
            if self.writer is not None:
                with self.writer.as_default(step=step):
                    tf.summary.image(f"traversal/c{i}", grid[None], max_outputs=1)
        self._written = step

    def on_train_end(self, logs=None):
        if self._written != self.step():
            self.run(self.step(), logs or {})
