"""Class-conditional GANs: cGAN (concatenation or projection) and AC-GAN.

- cGAN: Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014,
  https://arxiv.org/abs/1411.1784. G(z, y) and D(x, y). The label enters D
  either by concatenation (a one-hot map as K extra image channels, the
  convolutional form of the paper's joint hidden layer) or by projection
  (Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018,
  https://arxiv.org/abs/1802.05637): `D(x, y) = psi(phi(x)) + <embed(y), phi(x)>`
  with phi = D's features. `model.options.conditioning: concat | projection`.
- AC-GAN: Odena, Olah & Shlens, "Conditional Image Synthesis with Auxiliary
  Classifier GANs", ICML 2017, https://arxiv.org/abs/1610.09585. D sees only
  the image and has a K-way class head; D maximises L_S + L_C (class
  log-likelihood on real AND fake), G maximises L_C - L_S (sec. 3): equal
  weights of 1 on the source and class terms.

In both, G's input is `[latent, labels]`: the one-hot label concatenated to z
(the paper's "y ... combined in joint hidden representation"). Sampling:
`gan.generate(n, labels=...)` with int labels in [0, K) (a scalar is
broadcast); without labels, they cycle 0, 1, ..., K-1, 0, ... The SavedModel's
`serving_default` takes `latent` float32 `[batch, latent_dim]` and `labels`
int32 `[batch]`.
"""

import keras
import numpy as np
import tensorflow as tf

from ganzoo import callbacks as callbacks_lib
from ganzoo import validation
from ganzoo.models import base, networks, replicas, sampling
from ganzoo.models.base import GAN
from ganzoo.registry import register_model
from ganzoo.tasks import Task

CONDITIONINGS = ("concat", "projection")


# ------------------------------------------------------------------ helpers
def check_labels(labels, num_images, num_classes, model_name="The model"):
    """Validates sampling labels: int `[num_images]` in [0, K); a scalar is broadcast.

    Returns:
        int32 numpy array `[num_images]`.

    Raises:
        ValueError: wrong dtype, shape or range, with what was expected.
    """
    if labels is None:
        return (np.arange(num_images) % num_classes).astype(np.int32)
    array = np.asarray(labels)
    if array.dtype.kind not in "iu":
        whole = array.dtype.kind == "f" and np.all(np.isfinite(array) & (array == np.round(array)))
        if whole:
            array = array.astype(np.int64)
        else:
            raise ValueError(f"{model_name}: `labels` must be integer class ids, got dtype "
                             f"{array.dtype}.")
    if array.ndim == 0:
        array = np.full([num_images], int(array))
    if array.shape != (num_images,):
        raise ValueError(f"{model_name}: `labels` must have shape [{num_images}] (one per "
                         f"image) or be a scalar; got shape {list(array.shape)}.")
    if num_images and (array.min() < 0 or array.max() >= num_classes):
        bad = array[(array < 0) | (array >= num_classes)]
        raise ValueError(f"{model_name}: labels must be in [0, {num_classes}); got "
                         f"{sorted(set(bad.tolist()))[:5]}.")
    return array.astype(np.int32)


def _label_input():
    return keras.Input((), dtype="int32", name="labels")


def _one_hot(labels, num_classes, name="label_one_hot"):
    return keras.layers.CategoryEncoding(num_classes, output_mode="one_hot", name=name)(labels)


def _require_labels(spec, model_name):
    if not spec.num_classes:
        from ganzoo.config import ConfigError

        raise ConfigError(f"{model_name} needs class labels; data set {spec.name!r} has none "
                          "(use digits, mnist, cifar10 ...).")
    return spec.num_classes


def _wrap_generator(generator, latent_dim, num_classes):
    """G(z, y) = G'([z, one_hot(y)]): a `[latent, labels]` -> images model."""
    latent, labels = keras.Input((latent_dim,), name="latent"), _label_input()
    joint = keras.layers.Concatenate(name="latent_and_label")(
        [latent, _one_hot(labels, num_classes)])
    return keras.Model([latent, labels], generator(joint), name="conditional_generator")


# ----------------------------------------------------------------------- task
class ConditionalTask(Task):
    """Runs of cGAN and AC-GAN: labelled data, class accuracy during and after training.

    Class accuracy is that of generated images under an independent
    classifier (`ganzoo.metrics.control`): logged every `train.sample_every`
    steps (`ClassAccuracy`) and reported at the end.
    """

    def data_requirements(self, config):
        return validation.Requirements(labels=True)

    def xla_on_avx2_cpu(self, config):
        # On an AVX2-only CPU XLA ran cgan's step 1.44x faster than graph mode,
        # AC-GAN's no faster (0.96x) for 10 s more start-up (step_rate.md).
        return config.model.name != "acgan"

    def bf16_on_cpu(self, config):
        # cgan's Fashion-MNIST config at its 8,000 steps: fmnist-FID 59.2 +- 3.9 in bf16 vs
        # 56.2 +- 5.7 in float32 over 3 seeds (paired +3.0, standard error 5.1), requested
        # class 91.3% vs 91.7%, the loop 1.20-1.40x faster (tools/results/precision.md).
        # AC-GAN's step is 1.21x faster in bf16 with the fused batch norm (0.91x before), but
        # at its 24,000 steps bf16 scored 89.8 +- 14.8 vs 77.2 +- 16.3, worse on each of 3
        # seeds (paired +11.1, +13.9, +12.9), requested class 90.5% vs 92.2%.
        return config.model.name == "cgan"

    def callbacks(self, gan, config, spec, model_dir, writer):
        return [ClassAccuracy(config, config.train.sample_every, writer)]

    def report(self, gan, config, spec):
        """Class accuracy of generated images under an independent classifier."""
        from ganzoo.metrics import control

        classifier = control.reference_classifier(
            config.data.name, config.data.image_size, config.data.data_dir)
        report = control.conditional_class_accuracy(gan, classifier, seed=config.train.seed)
        return {**report, "classifier": classifier.name}


# ----------------------------------------------------------------- base class
class LabelConditionedGAN(GAN):
    """Shared parts of cGAN and AC-GAN: G(z, y), sampling by label, grids, export.

    Args: as `GAN`; G must be a `[latent, labels]` model (see `wrap_networks`).
    """

    conditional = True
    # A pack mixes examples of different labels: D's label input cannot apply.
    supports_packing = False
    task = ConditionalTask

    def __init__(self, generator, discriminator, latent_dim, **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.num_classes = int(generator.get_layer("label_one_hot").num_tokens)

    @classmethod
    def generator_input_dim(cls, config, spec):
        return config.latent_dim + _require_labels(spec, cls.__name__)

    @classmethod
    def wrap_networks(cls, generator, discriminator, config, spec):
        return _wrap_generator(generator, config.latent_dim, spec.num_classes), discriminator

    # -------------------------------------------------------------- sampling
    def generator_inputs(self, latent, labels=None, **conditions):
        """`[latent, labels]` for G, the family's one condition.

        Args:
            latent: float `[N, latent_dim]`.
            labels: int class ids in [0, K), `[N]` or a scalar (broadcast).
                Defaults to 0, 1, ..., K-1, 0, ... (cycling).
            **conditions: none other is taken (ValueError).
        """
        name = type(self).__name__
        others = sampling.given_conditions(conditions)
        if "codes" in others:
            raise ValueError(f"{name} is conditioned on class `labels`; `codes` are InfoGAN's "
                             "structured codes. Pass labels=[...] instead.")
        if others:
            raise ValueError(f"{name} is conditioned on class `labels` only; it takes no "
                             f"{', '.join(others)}.")
        latent = validation.check_latent(latent, self.latent_dim)
        labels = check_labels(labels, int(latent.shape[0]), self.num_classes, name)
        return [latent, tf.constant(labels)]

    def sample_grid(self, seed=0, columns=10):
        """One row per class; column j uses the same noise in every row."""
        from ganzoo import images as images_lib

        if len(self.generator.output.shape) != 4:  # 2-D toy data: a scatter plot
            from ganzoo.metrics import mode_coverage

            samples = self.generate(1000, seed=seed)
            return mode_coverage.scatter_plot_array(samples, np.percentile(samples, [1, 99], 0))
        latent = np.tile(self.sample_latent(columns, seed), [self.num_classes, 1])
        labels = np.repeat(np.arange(self.num_classes), columns)
        images = self.inference_generator(self.generator_inputs(latent, labels=labels),
                                          training=False)
        return images_lib.image_grid(np.asarray(images), rows=self.num_classes)

    def serving_signatures(self):
        """`serving_default`: `latent` float32 `[B, latent_dim]`, `labels` int32 `[B]` -> images."""
        generator, k = self.inference_generator, self.num_classes

        def serving_default(latent, labels):
            # Out-of-range labels would one-hot to zeros and give an unconditioned image.
            checks = [tf.debugging.assert_non_negative(labels, message="labels must be >= 0"),
                      tf.debugging.assert_less(labels, k, message=f"labels must be < {k}")]
            with tf.control_dependencies(checks):
                return {"images": generator([latent, labels], training=False)}

        return {"serving_default": (serving_default, [
            tf.TensorSpec([None, self.latent_dim], tf.float32, name="latent"),
            tf.TensorSpec([None], tf.int32, name="labels"),
        ])}


class ClassAccuracy(callbacks_lib._EveryNSteps):
    """Logs the reference classifier's accuracy on requested classes to TensorBoard."""

    def __init__(self, config, every, writer=None, per_class=20):
        super().__init__(every)
        self.config, self.writer, self.per_class = config, writer, per_class
        self._classifier = None

    def run(self, step, logs):
        from ganzoo.metrics import control

        if self._classifier is None:
            d = self.config.data
            self._classifier = control.reference_classifier(d.name, d.image_size, d.data_dir)
        result = control.conditional_class_accuracy(
            self.model, self._classifier, per_class=self.per_class, seed=self.config.train.seed)
        if self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.scalar("control/class_accuracy", result["class_accuracy"])


# ----------------------------------------------------------------------- cGAN
@register_model("cgan")
class ConditionalGAN(LabelConditionedGAN):
    """Conditional GAN (Mirza & Osindero 2014) with a concat or projection D.

    G is trained on the real batch's labels: D then sees real and fake rows
    with the same label multiset, so it cannot tell them apart by label
    frequency and must judge the image given its label (as in TF-GAN's and
    keras.io's conditional GANs).

    Args:
        generator: keras.Model. `[latent, labels]` -> images.
        discriminator: keras.Model. `[images, labels]` -> `{"logits", "features"}`.
        latent_dim: int. Dimension of z.
        conditioning: str. `concat` (one-hot label maps as extra input channels;
            concatenated to the input vector for vector data) or `projection`
            (Miyato & Koyama 2018). Read when the networks are built. Defaults
            to "concat".
        **kwargs: forwarded to `GAN` (d_steps, seed, ...).

    Example:

    >>> config = ganzoo.train_lib.resolve_config(config_file="cgan_digits")
    >>> gan = ganzoo.train_lib.run(config, "runs/cgan")["model"]
    >>> sevens = gan.generate(16, labels=7)
    """

    default_overrides = {
        "model.architecture": "dcgan",
        "train.loss": "non_saturating",
        "train.g_optimizer.learning_rate": 2e-4,
        "train.g_optimizer.beta_1": 0.5,
        "train.d_optimizer.learning_rate": 2e-4,
        "train.d_optimizer.beta_1": 0.5,
    }

    def __init__(self, generator, discriminator, latent_dim, conditioning="concat", **kwargs):
        _check_conditioning(conditioning)
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.conditioning = conditioning

    @classmethod
    def wrap_networks(cls, generator, discriminator, config, spec):
        generator, _ = super().wrap_networks(generator, discriminator, config, spec)
        conditioning = _check_conditioning(config.options.get("conditioning", "concat"))
        if conditioning == "projection":
            return generator, _projection_discriminator(discriminator, spec.num_classes)
        return generator, _concat_discriminator(config, spec, cls.discriminator_heads(config, spec))

    def _sample_generator_inputs(self, batch_size, labels, draw):
        return [self._noise(batch_size, draw), labels], {"labels": labels}

    def _discriminate(self, images, batch, training):
        # G draws on the batch's own labels (`_sample_generator_inputs`), so row i of
        # every image batch D judges (real, fake, or derived from both) has label
        # batch["labels"][i].
        return base._as_output_dict(
            self.discriminator([images, batch["labels"]], training=training))


def _check_conditioning(conditioning):
    if conditioning not in CONDITIONINGS:
        from ganzoo.config import ConfigError

        raise ConfigError(f"model.options.conditioning must be one of {CONDITIONINGS}, got "
                          f"{conditioning!r}.")
    return conditioning


def _concat_discriminator(config, spec, heads):
    """D(x, y) = D'([x, one_hot(y) broadcast to K channels]); D' is rebuilt for C + K channels."""
    k = spec.num_classes
    images, labels = keras.Input(spec.shape, name="images"), _label_input()
    one_hot = _one_hot(labels, k)
    if len(spec.shape) == 3:
        height, width, channels = spec.shape
        maps = keras.layers.UpSampling2D((height, width), name="label_maps")(
            keras.layers.Reshape((1, 1, k))(one_hot))
        joint = keras.layers.Concatenate(name="image_and_label")([images, maps])
        shape = (height, width, channels + k)
    else:
        joint = keras.layers.Concatenate(name="input_and_label")(
            [keras.layers.Flatten()(images), one_hot])
        shape = (int(np.prod(spec.shape)) + k,)
    arch = networks.get_architecture(config.architecture)
    body = arch.discriminator(shape, width=config.width, heads=heads, name="discriminator_body",
                              **config.discriminator)
    return keras.Model([images, labels], body(joint), name="conditional_discriminator")


def _projection_discriminator(discriminator, num_classes):
    """Adds `<embed(y), phi(x)>` to D's logit (Miyato & Koyama 2018, eq. 3)."""
    outputs = dict(discriminator.output)
    features = outputs["features"]
    labels = _label_input()
    embedded = keras.layers.Embedding(
        num_classes, features.shape[-1], embeddings_initializer=networks.dcgan_init(),
        name="label_embedding")(labels)
    projection = keras.layers.Dot(axes=1, name="projection")([embedded, features])
    outputs["logits"] = keras.layers.Add(name="projected_logits", dtype="float32")(
        [outputs["logits"], projection])
    return keras.Model([discriminator.input, labels], outputs, name="conditional_discriminator")


# --------------------------------------------------------------------- AC-GAN
@register_model("acgan")
class ACGAN(LabelConditionedGAN):
    """Auxiliary-classifier GAN (Odena et al. 2017).

    Fakes use labels drawn uniformly from the K classes (c ~ p_c in the paper;
    the data's classes are near-uniform). D's loss: `train.loss` + class
    cross-entropy on real and on fake rows; G's: `train.loss` (or feature
    matching) + class cross-entropy on its fakes.

    Args:
        generator: keras.Model. `[latent, labels]` -> images.
        discriminator: keras.Model. Images -> `{"logits", "class_logits", "features"}`.
        latent_dim: int. Dimension of z.
        d_class_weight: float. Weight of D's class terms (1 in the paper).
        g_class_weight: float. Weight of G's class term (1 in the paper).
        **kwargs: forwarded to `GAN`.

    Example:

    >>> config = ganzoo.train_lib.resolve_config(config_file="acgan_digits")
    >>> result = ganzoo.train_lib.run(config, "runs/acgan")
    >>> result["report"]["class_accuracy"]
    """

    # The paper's appendix: Adam(2e-4, beta_1=0.5) for both players.
    default_overrides = dict(ConditionalGAN.default_overrides)

    def __init__(self, generator, discriminator, latent_dim, d_class_weight=1.0,
                 g_class_weight=1.0, **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.d_class_weight = float(d_class_weight)
        self.g_class_weight = float(g_class_weight)

    @classmethod
    def discriminator_heads(cls, config, spec):
        return {"logits": 1, "class_logits": _require_labels(spec, cls.__name__)}

    def metric_names(self):
        return [*super().metric_names(), "d_class_real", "d_class_fake", "g_class"]

    def _sample_generator_inputs(self, batch_size, labels, draw):
        fake_labels = replicas.uniform(self, [batch_size], draw + 100, 0, self.num_classes,
                                       tf.int32)
        return [self._noise(batch_size, draw), fake_labels], {"labels": fake_labels}

    def _class_loss(self, out, labels):
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, out["class_logits"])

    def _discriminator_terms(self, real_out, fake_out, batch):
        terms = super()._discriminator_terms(real_out, fake_out, batch)
        terms["d_class_real"] = self.d_class_weight * self._class_loss(real_out, batch["labels"])
        terms["d_class_fake"] = self.d_class_weight * self._class_loss(
            fake_out, batch["extras"]["labels"])
        return terms

    def _generator_terms(self, fake_out, batch):
        terms = super()._generator_terms(fake_out, batch)
        terms["g_class"] = self.g_class_weight * self._class_loss(
            fake_out, batch["extras"]["labels"])
        return terms
