"""Semi-supervised GAN: Salimans et al., "Improved Techniques for Training GANs",
NeurIPS 2016, https://arxiv.org/abs/1606.03498 (sec. 5).

D is a K-class classifier; "generated" is class K+1 with its logit fixed at 0,
so with Z(x) = sum_k exp(l_k(x)) the probability that x is real is
`D(x) = Z(x) / (Z(x) + 1) = sigmoid(logsumexp_k l_k(x))`. The real/fake logit
is therefore `logsumexp` of the class logits: `_discriminate` returns it as
"logits", so the base class's losses, label smoothing and metrics apply as is.

Losses, as in the authors' code (openai/improved-gan, mnist_svhn_cifar10/
train_*_feature_matching.py: `loss_lab + unlabeled_weight * loss_unl` with
`loss_unl = -0.5*mean(l_unl) + 0.5*mean(softplus(l_unl)) + 0.5*mean(softplus(l_gen))`):
    D: K-class cross-entropy on the labeled rows
       + w * 0.5 * (E_unlabeled[-log D(x)] + E_z[-log(1 - D(G(z)))]),
    G: feature matching ||E f(x) - E f(G(z))||^2 on D's features (sec. 3.1).
The unsupervised part is `train.loss` on the real/fake logit; with
`non_saturating`/`minimax` it is exactly the paper's, and `train.label_smoothing`
smooths its real target (one-sided; the class cross-entropy is not smoothed).

Labeled rows come from `ganzoo.data.semi_supervised` (unlabeled rows have
label -1). The test error of D as a classifier is logged to TensorBoard and
written to `report.json`; the export has a `classify` signature.
"""

import keras
import numpy as np
import tensorflow as tf

from ganzoo import callbacks as callbacks_lib
from ganzoo import validation
from ganzoo.data import semi_supervised as ssl_data
from ganzoo.errors import ConfigError
from ganzoo.models import (
    replicas,
    semi_supervised_networks,  # noqa: F401  (registers ssgan_mlp/ssgan_conv)
)
from ganzoo.models.base import GAN
from ganzoo.registry import register_model
from ganzoo.tasks import Task


# --------------------------------------------------------------------------- task
class SemiSupervisedTask(Task):
    """Runs of the semi-supervised GAN: labelled rows in the pipeline, test error
    logged while training (`TestError`) and reported at the end."""

    def __init__(self):
        self.error_logger = None

    def check_config(self, config):
        batch_size = config.train.batch_size
        if batch_size % 2:
            raise ConfigError(
                f"Config key 'train.batch_size' is {batch_size}, but an ssgan batch is half "
                "unlabeled, half labeled (Salimans et al. 2016: 100 + 100), so it must be even "
                f"(e.g. {batch_size + 1}).")

    def xla_on_avx2_cpu(self, config):
        # Its step ran 0.84x as fast under XLA on an AVX2-only CPU (step_rate.md).
        return False

    def bf16_on_cpu(self, config):
        # Measured, stays float32 (tools/results/precision.md, e2e_steps.json): at its
        # Fashion-MNIST config's 6,000 steps bf16 scored test error 25.7 +- 0.7% vs 25.6 +-
        # 1.0% with 100 labels and 18.4 +- 1.4% vs 17.5 +- 0.1% with 1,000 (one seed +2.4;
        # the last 3 checkpoints' means equal), for a loop only 1.08x float32's; its digits
        # config trains slower in bf16 (the e2e test's two runs 37 s vs 32 s).
        return False

    def data_requirements(self, config):
        # Labels for the labeled subset; the test split for the test error it reports.
        return validation.Requirements(
            labels=True, examples_per_class=int(config.model.options.get("labels_per_class", 10)),
            splits=("test",))

    def make_pipeline(self, dataset, spec, config, skip_batches=0):
        """Half unlabeled (all training images), half labeled (N per class) rows."""
        t, options = config.train, config.model.options
        images, labels, _ = ssl_data.labeled_subset(
            dataset, int(options.get("labels_per_class", 10)), spec.num_classes,
            seed=int(options.get("label_seed", 0)))
        return ssl_data.semi_supervised_pipeline(
            dataset, images, labels, t.batch_size, seed=t.seed, d_steps=t.d_steps,
            shuffle_buffer=config.data.shuffle_buffer, skip_batches=skip_batches)

    def callbacks(self, gan, config, spec, model_dir, writer):
        self.error_logger = TestError(_test_split(config), config.train.sample_every, writer)
        return [self.error_logger]

    def report(self, gan, config, spec):
        images, labels = _test_split(config)
        return {
            "test_error": gan.test_error(images, labels),
            "num_labels": gan.labels_per_class * gan.num_classes,
            "labels_per_class": gan.labels_per_class,
            "label_seed": gan.label_seed,
            "num_test": int(len(labels)),
            "test_error_history": list(self.error_logger.history) if self.error_logger else [],
        }


# -------------------------------------------------------------------------- model
@register_model("ssgan")
class SemiSupervisedGAN(GAN):
    """K+1-class semi-supervised GAN with feature matching (Salimans et al. 2016).

    Args:
        generator: keras.Model. Latent `[B, latent_dim]` -> images.
        discriminator: keras.Model. Images -> `{"class_logits": [B, K], "features", ...}`.
        latent_dim: int. Dimension of z.
        labels_per_class: int. Labeled training examples per class (read by
            `SemiSupervisedTask.make_pipeline`; 10 gives the paper's 100 MNIST
            labels). Defaults to 10.
        label_seed: int. Seed of the choice of labeled examples. Defaults to 0.
        unsupervised_weight: float. Weight w of the unsupervised loss (the
            authors' `--unlabeled_weight`); 0 trains D on the labeled rows only,
            the supervised baseline. Defaults to 1.0.
        feature_matching: bool. Train G by feature matching (the paper's choice
            for semi-supervised learning) instead of `train.loss`. Defaults to True.
        feature_matching_layer: str. Output of D whose batch mean is matched
            (`features`, `hidden_i`, `stage_i`). Defaults to "features".
        historical_averaging: float. Weight of `||theta - mean of past theta||^2`
            on D and on G (sec. 3.3); 0 disables it. Defaults to 0.0.
        d_steps: int. Discriminator updates per generator update.
        seed: int. Seed of the training noise.
        **kwargs: forwarded to `GAN`.

    Example:

    >>> config = ganzoo.train_lib.resolve_config(config_file="ssgan_digits")
    >>> result = ganzoo.train_lib.run(config, "runs/ssgan")
    >>> result["report"]["test_error"]
    """

    default_overrides = {
        "model.architecture": "ssgan_mlp",
        "train.loss": "non_saturating",
        "train.batch_size": 100,
        "train.g_optimizer.learning_rate": 3e-4,
        "train.g_optimizer.beta_1": 0.5,
        "train.d_optimizer.learning_rate": 3e-4,
        "train.d_optimizer.beta_1": 0.5,
    }
    task = SemiSupervisedTask
    # D's per-example class logits cannot judge a pack of examples.
    supports_packing = False

    def __init__(self, generator, discriminator, latent_dim, labels_per_class=10, label_seed=0,
                 unsupervised_weight=1.0, feature_matching=True,
                 feature_matching_layer="features", historical_averaging=0.0, d_steps=1,
                 seed=0, **kwargs):
        super().__init__(generator, discriminator, latent_dim, d_steps=d_steps, seed=seed,
                         feature_matching=feature_matching,
                         feature_matching_layer=feature_matching_layer, **kwargs)
        self.labels_per_class = int(labels_per_class)
        self.label_seed = int(label_seed)
        self.unsupervised_weight = float(unsupervised_weight)
        self.historical_averaging = float(historical_averaging)
        self.num_classes = int(discriminator.output["class_logits"].shape[-1])
        # Running means of past parameters start at the initial weights (penalty 0).
        # Every replica holds the same parameters, so the first replica's update is kept.
        self.d_averages, self.g_averages = [
            [keras.Variable(np.asarray(v), trainable=False, name=f"{net.name}_average_{i}",
                            aggregation="only_first_replica")
             for i, v in enumerate(net.trainable_variables)] if self.historical_averaging else []
            for net in (discriminator, generator)]

    @classmethod
    def discriminator_heads(cls, config, spec):
        if not spec.num_classes:
            raise ConfigError(
                f"ssgan needs class labels; data set {spec.name!r} has none "
                "(use digits, mnist, cifar10, svhn_cropped ...).")
        return {"class_logits": spec.num_classes}

    def metric_names(self):
        return [*super().metric_names(), "supervised", "unsupervised",
                "d_historical_averaging", "g_historical_averaging"]

    # ------------------------------------------------- supervised-only baseline
    def _discriminator_step(self, real, labels, draw):
        if self.unsupervised_weight:
            return super()._discriminator_step(real, labels, draw)
        # With w = 0 the D loss depends on the real rows alone, so G and D(fakes)
        # would only cost time (and, in a D with batch norm, mix fakes into its
        # moving statistics): the baseline is D trained on the labeled rows.
        batch = self._augment_batch({"real": real, "labels": labels}, draw)
        with tf.GradientTape() as tape:
            real_out = self._discriminate(batch["real"], batch, training=True)
            terms = self._discriminator_terms(real_out, None, batch)
            loss, logs = self._total_loss(terms, self.discriminator, "d_loss")
            loss = self.d_optimizer.scale_loss(loss)
        self._apply_gradients(self.d_optimizer, tape, loss, self.discriminator)
        self._after_discriminator_update()
        logs["_done"] = tf.identity(self.d_optimizer.iterations)
        logs["d_real"] = self._score(real_out["logits"])
        return logs

    def _generator_step(self, real, labels, draw):
        if not self.unsupervised_weight:
            # Nothing trains G in the baseline; the step counter (G's iterations:
            # checkpoints, noise seeds, `train.steps`) still advances.
            self.g_optimizer.iterations.assign_add(1)
            return {}
        logs = super()._generator_step(real, labels, draw)
        if self.historical_averaging:
            self._update_averages(self.generator, self.g_averages, self.g_optimizer)
        return logs

    # ------------------------------------------------------------------ losses
    def _discriminate(self, images, batch, training):
        out = dict(self.discriminator(images, training=training))
        # The fake class's logit is 0: log D/(1-D) = logsumexp of the K class logits.
        out["logits"] = tf.reduce_logsumexp(out["class_logits"], axis=-1)
        return out

    def _row_weights(self, batch):
        """Per-row weights (global mean 1) selecting labeled / unlabeled real rows."""
        labeled = tf.cast(batch["labels"] >= 0, tf.float32)
        unlabeled = 1.0 - labeled
        w_lab = tf.math.divide_no_nan(labeled, replicas.global_mean(labeled))
        frac_unl = replicas.global_mean(unlabeled)
        # A batch with no unlabeled rows (plain labeled data) uses every row as unlabeled.
        w_unl = tf.where(frac_unl > 0, tf.math.divide_no_nan(unlabeled, frac_unl), 1.0)
        return w_lab, w_unl

    def _discriminator_terms(self, real_out, fake_out, batch):
        w_lab, w_unl = self._row_weights(batch)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
            tf.maximum(batch["labels"], 0), real_out["class_logits"])
        terms = {"supervised": w_lab * ce}
        if self.unsupervised_weight:
            terms["unsupervised"] = 0.5 * self.unsupervised_weight * self._split_adversarial(
                real_out["logits"], fake_out["logits"], w_unl)
        if self.historical_averaging:
            terms["d_historical_averaging"] = self._historical_penalty(
                self.discriminator, self.d_averages)
        return terms

    def _split_adversarial(self, real, fake, real_weights):
        """train.loss with the real term weighted per row: `w_i R(r_i) + F(f_i)`.

        Every ganzoo D loss is a sum `R(r) + F(f)`, so with L = the loss,
        `R(r) = L(r, 0) - F(0)` and `F(f) = L(0, f) - R(0)`; this keeps smoothing
        and every loss's own definition while only unlabeled real rows count.
        """
        loss = self.adversarial_loss.discriminator
        smooth = {"label_smoothing": self.label_smoothing}
        zeros = tf.zeros_like(real)
        return (real_weights * (loss(real, zeros, **smooth) - loss(zeros, zeros, **smooth))
                + loss(zeros, fake, **smooth))

    def _feature_matching_real_weights(self, batch):
        # G matches the unlabeled rows' features, as in the authors' code: the
        # labeled rows repeat a few examples per class, not a sample of the data.
        return self._row_weights(batch)[1]

    def _generator_terms(self, fake_out, batch):
        terms = super()._generator_terms(fake_out, batch)
        if self.historical_averaging:
            terms["g_historical_averaging"] = self._historical_penalty(
                self.generator, self.g_averages)
        return terms

    # ------------------------------------------------------ historical averaging
    def _historical_penalty(self, net, averages):
        """`weight * sum ||theta - theta_bar||^2`, a global scalar (same on every replica)."""
        return self.historical_averaging * tf.add_n([
            tf.reduce_sum(tf.square(v - tf.stop_gradient(a)))
            for v, a in zip(net.trainable_variables, averages)])

    @staticmethod
    def _update_averages(net, averages, optimizer):
        # After update t the mean covers t + 1 parameter values (initial included).
        t = tf.cast(optimizer.iterations, tf.float32)
        for v, a in zip(net.trainable_variables, averages):
            a.assign_add((v - a) / (t + 1.0))

    def _after_discriminator_update(self):
        if self.historical_averaging:
            self._update_averages(self.discriminator, self.d_averages, self.d_optimizer)

    # ------------------------------------------------------------- classifier
    def classify(self, images, batch_size=500):
        """Class logits `[N, K]` of D in inference mode (numpy)."""
        images = np.asarray(images, np.float32)
        chunks = [np.asarray(self.discriminator(images[i:i + batch_size],
                                                training=False)["class_logits"])
                  for i in range(0, len(images), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.num_classes), np.float32)

    def test_error(self, images, labels):
        """Fraction of `images` whose argmax class logit is not `labels`."""
        return float(np.mean(np.argmax(self.classify(images), -1) != np.asarray(labels)))

    def serving_signatures(self):
        """`serving_default` (latent -> images) and `classify` (images -> class scores)."""
        generator, discriminator = self.inference_generator, self.discriminator

        def serving_default(latent):
            return {"images": generator(latent, training=False)}

        def classify(images):
            logits = discriminator(images, training=False)["class_logits"]
            return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

        latent = tf.TensorSpec([None, self.latent_dim], tf.float32, name="latent")
        images = tf.TensorSpec([None, *discriminator.input.shape[1:]], tf.float32, name="images")
        return {"serving_default": (serving_default, [latent]), "classify": (classify, [images])}


class TestError(callbacks_lib._EveryNSteps):
    """Logs D's test-split classification error to TensorBoard every `every` steps."""

    def __init__(self, test_data, every, writer=None):
        super().__init__(every)
        self.images, self.labels = test_data
        self.writer = writer
        self.history = []

    def run(self, step, logs):
        error = self.model.test_error(self.images, self.labels)
        self.history.append([step, error])
        if self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.scalar("test_error", error)


def _test_split(config):
    """The held-out test split as numpy `(images, labels)`; never trained on."""
    from ganzoo import data

    ds, _ = data.load(config.data.name, "test", config.data.image_size, config.data.data_dir)
    images, labels = ds.batch(100_000).get_single_element()
    return images.numpy(), labels.numpy()
