"""The GAN base class: one training loop that every model family reuses.

`train_step` follows the algorithm box of Goodfellow et al. (2014): k
discriminator updates, then one generator update. Model families change what
goes into G and D and which loss terms apply (hooks below), never the loop.

Noise is drawn with stateless RNG keyed on (seed, generator step, draw index),
so a resumed run draws exactly the noise the uninterrupted run would have, and
under `tf.distribute` each replica takes its slice of the same global noise
batch: N replicas give the same update as one device on the same global batch
(`ganzoo.models.replicas`). (XLA's stateless Philox yields a different, equally
deterministic stream than the TF kernel for runtime seeds: compare runs with the
same `jit_compile`.)

The base names no family's conditions: a family declares what it accepts
(`generate(n, seed, **conditions)` validated by its `generator_inputs`,
`supports_packing`, `check_config`). The data's labels (the optional second
element of each pipeline element, zeros when absent) ride through the loop
untouched, as `labels` arguments and `batch["labels"]`; only families read them.
"""

import contextlib

import keras
import tensorflow as tf

from ganzoo import augment, compat, precision
from ganzoo import losses as losses_lib
from ganzoo.models import building, ema, replicas
from ganzoo.models.packing import pack, packed_shape  # noqa: F401  (packed_shape: public here)
from ganzoo.models.sampling import Sampling


class GAN(Sampling, compat.PrebuiltModel):
    """Base class of every ganzoo GAN.

    Reference: Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.

    Args:
        generator: keras.Model. Maps the generator inputs (latent `[B, latent_dim]`
            for unconditional models) to examples.
        discriminator: keras.Model. Maps examples to a logit `[B, 1]`, or to a dict
            with at least `"logits"` (and `"features"` for feature-based losses).
        latent_dim: int. Dimension of the noise vector z.
        d_steps: int. Discriminator updates per generator update (k). Defaults to 1.
        seed: int. Seed of the training noise. Defaults to 0.
        feature_matching: bool. Train G by feature matching (Salimans et al.
            2016, sec. 3.1) instead of the adversarial generator loss. Defaults to False.
        feature_matching_layer: str. Output of D whose batch mean is matched.
            Defaults to "features" (D's last hidden layer).
        unrolled_steps: int. Unrolled GAN (Metz et al. 2017): G's loss is taken
            against D after this many differentiable look-ahead updates of a copy
            of D (`ganzoo.models.unrolled`); D's own weights do not change. 0 (the
            default) is the plain GAN.
        packing: int. PacGAN (Lin et al. 2018, https://arxiv.org/abs/1712.04086):
            D judges packs of this many examples of the same source, concatenated
            (vectors end to end, images along channels), so it can see a lack of
            diversity. D is built for the packed shape; the per-replica batch must
            be a multiple. 1 (the default) is the plain GAN.
        ema_decay: float. Keep an exponential moving average of G's weights
            (Karras et al. 2018, ProGAN; Yazici et al. 2019,
            https://arxiv.org/abs/1806.04498) with this decay per generator step,
            in `ema_generator`; samples, `generate`, evaluation and export use it
            (`inference_generator`). Non-trainable weights (batch-norm statistics)
            are copied, not averaged. 0 (the default) keeps no average.
        ema_start: int. Generator steps before averaging starts; until then the
            average is a copy of G. Defaults to 0 (the first step copies).
        diffaugment: str or None. DiffAugment (Zhao et al. 2020,
            https://arxiv.org/abs/2006.10738): comma-separated policies of
            `ganzoo.augment.POLICIES` (e.g. "translation,cutout") applied to every
            real and generated image D sees in training (`_augment_batch`), never
            at inference. None or "" (the default) is off.
        diffaugment_probability: float in (0, 1]. Each policy is applied to
            each image with this probability (ADA's p, Karras et al. 2020); 1
            (the default) always applies it, as Zhao et al. do.
        **kwargs: forwarded to `keras.Model`.

    Example:

    >>> gan = ganzoo.get_model("dcgan").from_data_spec(spec)
    >>> gan.compile()
    >>> gan.fit(dataset, steps_per_epoch=100, epochs=10)
    >>> images = gan.generate(16, seed=0)
    """

    # Dotted config keys -> values: the paper's hyper-parameters for this family,
    # applied on top of the dataclass defaults and below YAML files and --set.
    default_overrides: dict = {}
    # Declared by a family whose G and D take the data's class labels as their
    # condition (nothing in ganzoo reads it; `generate` asks `generator_inputs`).
    conditional: bool = False
    # Whether D can judge PacGAN packs (`model.options.packing`): False for a D
    # with per-example inputs or outputs besides the logit (`ganzoo.models.packing`).
    supports_packing: bool = True
    # The family's `ganzoo.tasks.Task` subclass (pipeline, callbacks, report of a
    # run), set in the family file; None runs with the plain `Task`.
    task: type | None = None

    def __init__(self, generator, discriminator, latent_dim, d_steps=1, seed=0,
                 feature_matching=False, feature_matching_layer="features",
                 unrolled_steps=0, packing=1, ema_decay=0.0, ema_start=0, diffaugment=None,
                 diffaugment_probability=1.0, **kwargs):
        super().__init__(**kwargs)
        self.packing = int(packing)
        if self.packing < 1:
            raise ValueError(f"packing must be >= 1, got {packing}.")
        self.unrolled_steps = int(unrolled_steps)
        if self.unrolled_steps < 0:
            raise ValueError(f"unrolled_steps must be >= 0, got {unrolled_steps}.")
        self.feature_matching = bool(feature_matching)
        self.feature_matching_layer = str(feature_matching_layer)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.d_steps = int(d_steps)
        self.seed = int(seed)
        self._augment_policy = augment.parse_policy(diffaugment)
        self.diffaugment = ",".join(self._augment_policy) or None
        self.diffaugment_probability = augment.check_probability(diffaugment_probability)
        if self.d_steps < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps}.")
        self.trackers = [keras.metrics.Mean(name=name) for name in self.metric_names()]
        self.ema_decay, self.ema_start = ema.check(ema_decay, ema_start)
        self.ema_generator = ema.make_average(generator) if self.ema_decay else None
        self._ema_calibrated_at = None  # the step whose average's statistics are measured
        # G and D are functional models, already built; so is the wrapper.
        self.built = True

    # ----------------------------------------------------------------- building
    @classmethod
    def from_data_spec(cls, spec, config=None, seed=0, **kwargs):
        """Builds G and D for a data set from a `ModelConfig` (defaults if None).

        Args:
            spec: `ganzoo.data.DataSpec`. Shape (and classes) of the data.
            config: `ganzoo.config.ModelConfig` or None.
            seed: int. Seed for weight initialisation and noise.
            **kwargs: constructor arguments set by the training config (`d_steps`).

        Returns:
            An uncompiled model of this class.
        """
        from ganzoo.config import ModelConfig

        config = config or ModelConfig(name=getattr(cls, "registered_name", "dcgan"))
        cls.check_config(config)
        keras.utils.set_random_seed(seed)
        generator, discriminator = building.build_networks(cls, spec, config)
        kwargs = {**kwargs, **config.options}
        building.check_options(cls, kwargs, spec, root=GAN)
        kwargs.setdefault("seed", seed)
        return cls(generator=generator, discriminator=discriminator,
                   latent_dim=config.latent_dim, **kwargs)

    @classmethod
    def check_config(cls, config):
        """Refuses a `ModelConfig` this family cannot train (`ConfigError` naming the key).

        Run by `from_data_spec` before anything is built; the base accepts any.
        """

    @classmethod
    def generator_input_dim(cls, config, spec):
        """Width of the generator's input vector: the noise; families add their conditions'."""
        return config.latent_dim

    @classmethod
    def discriminator_heads(cls, config, spec):
        """Output heads of D: name -> units. Families add auxiliary heads."""
        return {"logits": 1}

    @classmethod
    def wrap_networks(cls, generator, discriminator, config, spec):
        """Hook for families that add inputs or heads (conditions, Q) around the built networks."""
        return generator, discriminator

    # ------------------------------------------------------------------ compile
    def compile(self, d_optimizer=None, g_optimizer=None, loss="non_saturating",
                label_smoothing=0.0, auto_scale_loss=True, **kwargs):
        """Configures both optimizers and the adversarial loss.

        Both optimizers are built here, not lazily on the first step, so their
        slot variables exist under the distribution strategy's scope. As in
        `keras.Model.compile`, networks built under the `mixed_float16` policy
        (`ganzoo.precision`) get both optimizers wrapped in a
        `keras.optimizers.LossScaleOptimizer`; `train_step` scales each loss
        with it (Keras' `fit` does that only for its own `train_step`).

        Args:
            d_optimizer: keras optimizer, name, or config dict. Defaults to
                Adam(2e-4, beta_1=0.5) as in DCGAN.
            g_optimizer: same, for the generator.
            loss: str. Adversarial loss name from `ganzoo.losses`.
            label_smoothing: float. One-sided smoothing of the real targets.
            auto_scale_loss: bool. Dynamic loss scaling for float16 networks.
                Defaults to True.
            **kwargs: forwarded to `keras.Model.compile` (e.g. `jit_compile`).
        """
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = _get_optimizer(d_optimizer)
        self.g_optimizer = _get_optimizer(g_optimizer)
        if auto_scale_loss and precision.computes_in_float16(self.generator, self.discriminator):
            self.d_optimizer = precision.loss_scaled(self.d_optimizer)
            self.g_optimizer = precision.loss_scaled(self.g_optimizer)
        self.loss_name = loss
        self.adversarial_loss = losses_lib.get_loss(loss)
        self.label_smoothing = float(label_smoothing)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss": self.loss_name,
            "label_smoothing": self.label_smoothing,
            "jit_compile": bool(self.jit_compile),
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)

    # ------------------------------------------------------------ serialization
    def get_config(self):
        """Every constructor argument, read from the same-named attribute."""
        config = super().get_config()
        for name in building.constructor_args(type(self), GAN):
            value = getattr(self, name)
            if isinstance(value, keras.layers.Layer):
                value = keras.saving.serialize_keras_object(value)
            config[name] = value
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    # ------------------------------------------------------------------ metrics
    def metric_names(self):
        """Names of the tracked training metrics; families append their terms."""
        names = ["d_loss", "g_loss", "d_real", "d_fake"]
        return [*names, "feature_matching"] if self.feature_matching else names

    @property
    def metrics(self):
        return list(self.trackers)

    # --------------------------------------------------------------- train step
    def train_step(self, data):
        real, labels = _unpack(data)
        real_chunks, label_chunks = self._split_for_d_steps(real, labels)
        logs = {}
        for i in range(self.d_steps):
            with tf.control_dependencies(_ordering_token(logs)):
                logs.update(self._discriminator_step(real_chunks[i], label_chunks[i], draw=i))
        with tf.control_dependencies(_ordering_token(logs)):
            logs.update(self._generator_step(real_chunks[-1], label_chunks[-1], draw=self.d_steps))
        if self.ema_generator is not None:
            with tf.control_dependencies([tf.identity(self.g_optimizer.iterations)]):
                ema.update_average(self.ema_generator, self.generator,
                                   self.g_optimizer.iterations, self.ema_decay, self.ema_start)
        logs.pop("_done", None)
        for tracker in self.trackers:
            if tracker.name in logs:
                tracker.update_state(logs[tracker.name])
        return compat.step_outputs({tracker.name: tracker.result() for tracker in self.trackers})

    def _discriminator_step(self, real, labels, draw):
        batch = {"real": real, "labels": labels}
        gen_inputs, batch["extras"] = self._sample_generator_inputs(tf.shape(real)[0], labels, draw)
        batch["fake"] = self.generator(gen_inputs, training=True)
        batch = self._augment_batch(batch, draw)
        with tf.GradientTape() as tape:
            # Explicit order (G, D(real), D(fake)): synchronized batch norm issues
            # collectives that must run in the same order on every replica.
            with tf.control_dependencies([batch["fake"]]):
                real_out = self._discriminate(batch["real"], batch, training=True)
            with tf.control_dependencies([real_out["logits"]]):
                fake_out = self._discriminate(batch["fake"], batch, training=True)
            terms = self._discriminator_terms(real_out, fake_out, batch)
            loss, logs = self._total_loss(terms, self.discriminator, "d_loss")
            loss = self.d_optimizer.scale_loss(loss)  # float16: x loss scale; else x 1
        self._apply_gradients(self.d_optimizer, tape, loss, self.discriminator)
        self._after_discriminator_update()
        logs["_done"] = tf.identity(self.d_optimizer.iterations)
        logs["d_real"] = self._score(real_out["logits"])
        logs["d_fake"] = self._score(fake_out["logits"])
        return logs

    def _generator_step(self, real, labels, draw):
        batch = {"real": real, "labels": labels}
        gen_inputs, batch["extras"] = self._sample_generator_inputs(tf.shape(real)[0], labels, draw)
        with tf.GradientTape() as tape:
            batch["fake"] = self.generator(gen_inputs, training=True)
            batch = self._augment_batch(batch, draw)
            with self._unrolled_discriminator(batch):
                fake_out = self._discriminate(batch["fake"], batch, training=True)
                terms = self._generator_terms(fake_out, batch)
            loss, logs = self._total_loss(terms, self.generator, "g_loss")
            loss = self.g_optimizer.scale_loss(loss)
        self._apply_gradients(self.g_optimizer, tape, loss, self.generator)
        return logs

    def _apply_gradients(self, optimizer, tape, loss, network):
        # A LossScaleOptimizer unscales, and skips the step (halving its scale)
        # when a gradient is not finite; every replica must agree on that.
        variables = network.trainable_variables
        grads = precision.agree_on_finiteness(optimizer, tape.gradient(loss, variables))
        optimizer.apply_gradients(zip(grads, variables))

    # -------------------------------------------------------------------- hooks
    def _sample_generator_inputs(self, batch_size, labels, draw):
        """Generator inputs for one training draw, and extras for the loss terms."""
        return self._noise(batch_size, draw), {}

    def _augment_batch(self, batch, draw):
        """DiffAugment (Zhao et al. 2020): the training batch as D sees it.

        The one place augmentation is applied. Both steps pass their batch through
        here before any D call, and every training call of `_discriminate` takes
        its images from the batch, so D's real and fake terms, G's term, feature
        matching's real batch, the unrolled look-ahead and a gradient penalty's
        interpolates (between augmented images) all see augmented images; packing
        comes after, inside `_discriminate`. Real and fake draw independently,
        keyed on (seed, step, draw) like `_noise` (draws + 300 and + 400) and
        sliced per replica.

        Returns:
            `batch` with "real" and "fake" (those present) augmented; unchanged
            when `diffaugment` is off.
        """
        if not self._augment_policy:
            return batch
        batch = dict(batch)
        for key, offset in (("real", 300), ("fake", 400)):
            if key in batch:
                batch[key] = augment.diff_augment(
                    batch[key], self._augment_policy, replicas.draw_key(self, draw + offset),
                    replicas.num_replicas(), replicas.replica_id(),
                    self.diffaugment_probability)
        return batch

    def _discriminate(self, images, batch, training):
        """Runs D on `images`, rows of `batch` ("real", "fake" or derived from them).

        Returns a dict with at least "logits" of shape [B] ([B / packing]).
        A family whose D takes more than images reads it from `batch`.
        """
        return _as_output_dict(self.discriminator(self._pack(images), training=training))

    def _pack(self, images):
        """`[B, *shape]` -> `[B / packing, *packed_shape]` (`ganzoo.models.packing`)."""
        return pack(images, self.packing)

    def _discriminator_terms(self, real_out, fake_out, batch):
        """Loss terms of D: name -> per-example `[B]` losses or a global scalar."""
        return {"adversarial": self.adversarial_loss.discriminator(
            real_out["logits"], fake_out["logits"], label_smoothing=self.label_smoothing)}

    def _generator_terms(self, fake_out, batch):
        """Loss terms of G: name -> per-example `[B]` losses or a global scalar."""
        if self.feature_matching:
            return {"feature_matching": self._feature_matching_term(fake_out, batch)}
        return {"adversarial": self.adversarial_loss.generator(fake_out["logits"])}

    def _feature_matching_term(self, fake_out, batch):
        """`||E f(x) - E f(G(z))||^2` over the global batch (Salimans et al. 2016, 3.1).

        The real rows' mean is weighted by `_feature_matching_real_weights`. A
        global scalar, so correct on N replicas.
        """
        key = self.feature_matching_layer
        real_weights = self._feature_matching_real_weights(batch)
        real_out = self._discriminate(batch["real"], batch, training=True)
        if key not in real_out:
            raise ValueError(f"feature_matching_layer={key!r} is not an output of the "
                             f"discriminator; it has {sorted(real_out)}.")
        # float32 means: 16-bit sums over the batch would lose the small differences.
        real = tf.cast(tf.reshape(real_out[key], [tf.shape(batch["real"])[0], -1]), tf.float32)
        if real_weights is not None:
            real = real * real_weights[:, None]
        fake = tf.cast(tf.reshape(fake_out[key], [tf.shape(batch["fake"])[0], -1]), tf.float32)
        return losses_lib.feature_matching_loss(
            real_mean=tf.stop_gradient(replicas.global_mean(real)),
            fake_mean=replicas.global_mean(fake))

    def _feature_matching_real_weights(self, batch):
        """Weights `[B]` (global mean 1) of the real rows in feature matching's mean.

        None (the default) weighs every real row equally; a family whose real
        batch mixes rows that do not sample the data equally overrides it.
        """
        return None

    def _after_discriminator_update(self):
        """Hook run after every D update (e.g. weight clipping)."""

    def _unrolled_discriminator(self, batch):
        """Context in which D has its weights after `unrolled_steps` look-ahead updates."""
        if not self.unrolled_steps:
            return contextlib.nullcontext()
        from ganzoo.models import unrolled

        return unrolled.unrolled_scope(self, batch, self.unrolled_steps)

    # ------------------------------------------------------------------ helpers
    def _total_loss(self, terms, network, name):
        """Sums loss terms with the reduction that is correct on N replicas.

        Per-example terms are averaged over the *global* batch
        (`tf.nn.compute_average_loss`); scalar terms must already be global
        statistics (see `replicas.global_mean`) and are divided by the replica
        count, because gradients are summed over replicas.
        """
        count = replicas.num_replicas()
        total, logs = 0.0, {}
        for key, term in terms.items():
            term = tf.convert_to_tensor(term)
            if term.shape.rank == 0:
                total += term / count
                logs[key] = term
            else:
                total += tf.nn.compute_average_loss(term)
                logs[key] = tf.reduce_mean(term)
        if network.losses:
            total += tf.nn.scale_regularization_loss(tf.add_n(network.losses))
        logs[name] = tf.add_n(list(logs.values()))
        return total, {k if k == name else _metric_key(name, k): v for k, v in logs.items()}

    def _score(self, logits):
        if self.loss_name in losses_lib.PROBABILITY_LOSSES:
            return tf.reduce_mean(tf.sigmoid(logits))
        return tf.reduce_mean(logits)

    def _noise(self, batch_size, draw, dim=None):
        """Stateless normal noise `[batch_size, dim or latent_dim]` keyed on (seed, step,
        draw), this replica's slice of the global draw (`ganzoo.models.replicas`)."""
        return replicas.normal(self, [batch_size, dim or self.latent_dim], draw)

    def _split_for_d_steps(self, real, labels):
        """Splits a batch of k*B examples into k strided minibatches of B.

        Strided (rows i, i+k, ...) rather than contiguous chunks, so each D step
        sees the same examples whether the global batch is on one device or
        split over replicas.
        """
        k = self.d_steps
        if k == 1:
            return [real], [labels]
        shape = tf.shape(real)
        real = tf.reshape(real, tf.concat([[shape[0] // k, k], shape[1:]], 0))
        labels = tf.reshape(labels, [-1, k])
        return [real[:, i] for i in range(k)], [labels[:, i] for i in range(k)]

    # ------------------------------------------------------------------ forward
    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)


def _get_optimizer(identifier):
    if identifier is None:
        return keras.optimizers.Adam(2e-4, beta_1=0.5)
    if isinstance(identifier, keras.optimizers.Optimizer):
        return identifier
    return keras.optimizers.get(identifier)


def _unpack(data):
    if isinstance(data, (tuple, list)):
        images = data[0]
        labels = data[1] if len(data) > 1 else None
    else:
        images, labels = data, None
    if labels is None:
        labels = tf.zeros([tf.shape(images)[0]], tf.int32)
    return images, tf.cast(labels, tf.int32)


def _ordering_token(logs):
    # Reading the optimizer's step counter after its update orders the next
    # update after this one (automatic control dependencies on the variable).
    return [logs["_done"]] if "_done" in logs else []


def _as_output_dict(out):
    out = dict(out) if isinstance(out, dict) else {"logits": out}
    out["logits"] = tf.reshape(out["logits"], [-1])
    return out


def _metric_key(total_name, term):
    # "d_loss" + "gradient_penalty" -> "gradient_penalty"; adversarial parts stay implicit.
    return term if term != "adversarial" else f"{total_name}_adversarial"
