"""The GAN base class: one training loop that every model family reuses.

`train_step` follows the algorithm box of Goodfellow et al. (2014): k
discriminator updates, then one generator update. Model families change what
goes into G and D and which loss terms apply (hooks below), never the loop.

Noise is drawn with stateless RNG keyed on (seed, generator step, draw index),
so a resumed run draws exactly the noise the uninterrupted run would have, and
under `tf.distribute` each replica takes its slice of the same global noise
batch: N replicas give the same update as one device on the same global batch.
(XLA's stateless Philox yields a different, equally deterministic stream than
the TF kernel for runtime seeds: compare runs with the same `jit_compile`.)
"""

import contextlib
import inspect

import keras
import numpy as np
import tensorflow as tf

from ganzoo import augment, compat, precision, validation
from ganzoo import losses as losses_lib


class GAN(compat.PrebuiltModel):
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
    # Whether the discriminator/generator consume class labels.
    conditional: bool = False
    # The family's `ganzoo.tasks.Task` subclass (pipeline, callbacks, report of a
    # run), set in the family file; None runs with the plain `Task`.
    task: type | None = None

    def __init__(self, generator, discriminator, latent_dim, d_steps=1, seed=0,
                 feature_matching=False, feature_matching_layer="features",
                 unrolled_steps=0, packing=1, ema_decay=0.0, ema_start=0, diffaugment=None,
                 **kwargs):
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
        if self.d_steps < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps}.")
        self.trackers = [keras.metrics.Mean(name=name) for name in self.metric_names()]
        self.ema_decay, self.ema_start = float(ema_decay), int(ema_start)
        if not 0.0 <= self.ema_decay < 1.0 or self.ema_start < 0:
            raise ValueError(f"ema_decay must be in [0, 1) and ema_start >= 0, got "
                             f"{ema_decay} and {ema_start}.")
        self.ema_generator = None
        if self.ema_decay:
            # Its own weights, built in the same (strategy) scope as G's.
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_generator.trainable = False
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
        from ganzoo.config import ConfigError, ModelConfig
        from ganzoo.models import networks

        config = config or ModelConfig(name=getattr(cls, "registered_name", "dcgan"))
        keras.utils.set_random_seed(seed)
        arch = networks.get_architecture(config.architecture)
        packing = int(config.options.get("packing", 1))
        heads = cls.discriminator_heads(config, spec)
        if packing > 1 and not _plain_discriminator(cls, heads):
            raise ConfigError(
                f"model.options.packing needs a discriminator with one real/fake logit per "
                f"input and no other inputs or heads; {cls.__name__}'s has more (labels, "
                f"auxiliary heads {sorted(heads)} or a wrapped Q network).")
        for section, builder in (("generator", arch.generator),
                                 ("discriminator", arch.discriminator)):
            _check_builder_keys(builder, getattr(config, section), section, config.architecture)
        generator = arch.generator(
            spec.shape, cls.generator_input_dim(config, spec), width=config.width,
            **config.generator,
        )
        discriminator = arch.discriminator(
            packed_shape(spec.shape, packing), width=config.width, heads=heads,
            **config.discriminator,
        )
        generator, discriminator = cls.wrap_networks(generator, discriminator, config, spec)
        kwargs = {**kwargs, **config.options}
        valid = set(_constructor_args(cls))
        unknown = set(kwargs) - valid
        if unknown:
            raise ConfigError(
                f"Unknown model.options key(s) {sorted(unknown)} for {cls.__name__}; "
                f"valid: {sorted(valid - {'generator', 'discriminator', 'latent_dim', 'seed'})}."
            )
        if kwargs.get("diffaugment") and not spec.is_image:
            raise ConfigError(f"train.diffaugment augments images; data set {spec.name!r} "
                              f"holds vectors of shape {spec.shape}. Set it to ''.")
        kwargs.setdefault("seed", seed)
        return cls(generator=generator, discriminator=discriminator,
                   latent_dim=config.latent_dim, **kwargs)

    @classmethod
    def generator_input_dim(cls, config, spec):
        """Width of the generator's input vector (noise, plus codes for InfoGAN)."""
        return config.latent_dim

    @classmethod
    def discriminator_heads(cls, config, spec):
        """Output heads of D: name -> units. Families add auxiliary heads."""
        return {"logits": 1}

    @classmethod
    def wrap_networks(cls, generator, discriminator, config, spec):
        """Hook for families that add inputs (labels) around the built networks."""
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
        for name in _constructor_args(type(self)):
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
                self._update_ema()
        logs.pop("_done", None)
        for tracker in self.trackers:
            if tracker.name in logs:
                tracker.update_state(logs[tracker.name])
        return compat.step_outputs({tracker.name: tracker.result() for tracker in self.trackers})

    def _update_ema(self):
        """`ema = d * ema + (1 - d) * G` after G's update; a copy up to `ema_start`.

        The first averaged step also copies, so an average never mixes in the
        weights G had before a fine-tuning run loaded its own. Every replica
        holds the same G after the update, so each assigns the same value.
        """
        step = self.g_optimizer.iterations
        decay = tf.where(step > max(self.ema_start, 1), self.ema_decay, 0.0)
        trainable = {id(v) for v in self.generator.trainable_weights}
        for ema, weight in zip(self.ema_generator.weights, self.generator.weights):
            value = tf.cast(weight.value, tf.float32)
            if id(weight) in trainable:
                value = decay * tf.cast(ema.value, tf.float32) + (1.0 - decay) * value
            ema.assign(tf.cast(value, ema.dtype))

    @property
    def inference_generator(self):
        """The generator that samples, evaluation and export use: the moving
        average of G's weights when `ema_decay` > 0, else G itself."""
        return self.ema_generator if self.ema_generator is not None else self.generator

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
                fake_out = self._discriminate(batch["fake"], batch, training=True, fake=True)
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
                fake_out = self._discriminate(batch["fake"], batch, training=True, fake=True)
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
        matching's real batch, the unrolled look-ahead and WGAN-GP's interpolates
        (between augmented images) all see augmented images; packing comes after,
        inside `_discriminate`. Real and fake draw independently, keyed on (seed,
        step, draw) like `_noise` (draws + 300 and + 400) and sliced per replica.

        Returns:
            `batch` with "real" and "fake" (those present) augmented; unchanged
            when `diffaugment` is off.
        """
        if not self._augment_policy:
            return batch
        batch = dict(batch)
        step = tf.cast(self.g_optimizer.iterations, tf.int64)
        for key, offset in (("real", 300), ("fake", 400)):
            if key in batch:
                seed = tf.stack([tf.constant(self.seed, tf.int64), step * 1024 + draw + offset])
                batch[key] = augment.diff_augment(batch[key], self._augment_policy, seed,
                                                  _num_replicas(), _replica_id())
        return batch

    def _discriminate(self, images, batch, training, fake=False):
        """Runs D; returns a dict with at least "logits" of shape [B] ([B / packing])."""
        return _as_output_dict(self.discriminator(self._pack(images), training=training))

    def _pack(self, images):
        """`[B, *shape]` -> `[B / packing, *packed_shape]`: rows i*m ... i*m+m-1 form pack i."""
        m = self.packing
        if m == 1:
            return images
        rows = images.shape[0]
        if rows is not None and rows % m:
            raise ValueError(f"packing={m} needs a per-replica batch that is a multiple of "
                             f"{m}; got {rows} examples.")
        shape = list(images.shape[1:])
        if len(shape) == 1:
            return tf.reshape(images, [-1, m * shape[0]])
        # Images: the m examples are stacked along channels (PacGAN's convolutional D).
        x = tf.reshape(images, [-1, m, *shape])
        x = tf.transpose(x, [0, *range(2, len(shape) + 1), 1, len(shape) + 1])
        return tf.reshape(x, [-1, *shape[:-1], m * shape[-1]])

    def _discriminator_terms(self, real_out, fake_out, batch):
        """Loss terms of D: name -> per-example `[B]` losses or a global scalar."""
        return {"adversarial": self.adversarial_loss.discriminator(
            real_out["logits"], fake_out["logits"], label_smoothing=self.label_smoothing)}

    def _generator_terms(self, fake_out, batch):
        """Loss terms of G: name -> per-example `[B]` losses or a global scalar."""
        if self.feature_matching:
            return {"feature_matching": self._feature_matching_term(fake_out, batch)}
        return {"adversarial": self.adversarial_loss.generator(fake_out["logits"])}

    def _feature_matching_term(self, fake_out, batch, real_weights=None):
        """`||E f(x) - E f(G(z))||^2` over the global batch (Salimans et al. 2016, 3.1).

        `real_weights` `[B]` (global mean 1) weights the real rows' mean, e.g. to
        match only unlabeled rows. A global scalar, so correct on N replicas.
        """
        key = self.feature_matching_layer
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
            real_mean=tf.stop_gradient(self._global_mean(real)), fake_mean=self._global_mean(fake))

    def _after_discriminator_update(self):
        """Hook run after every D update (WGAN's weight clipping)."""

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
        statistics (see `_global_mean`) and are divided by the replica count,
        because gradients are summed over replicas.
        """
        replicas = _num_replicas()
        total, logs = 0.0, {}
        for key, term in terms.items():
            term = tf.convert_to_tensor(term)
            if term.shape.rank == 0:
                total += term / replicas
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
        """Stateless normal noise keyed on (seed, step, draw), sliced per replica."""
        dim = dim or self.latent_dim
        replicas, replica_id = _num_replicas(), _replica_id()
        step = tf.cast(self.g_optimizer.iterations, tf.int64)
        seed = tf.stack([tf.constant(self.seed, tf.int64), step * 1024 + draw])
        noise = tf.random.stateless_normal([replicas, batch_size, dim], seed=seed, alg="philox")
        return noise[replica_id]

    def _global_mean(self, x):
        """Mean over the global batch (all replicas) of `x` `[B, ...]`."""
        ctx = tf.distribute.get_replica_context()
        total = tf.reduce_sum(x, axis=0)
        count = tf.cast(tf.shape(x)[0], x.dtype)
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            total, count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [total, count])
        return total / count

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

    # ----------------------------------------------------------------- sampling
    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def sample_latent(self, num_images, seed=0):
        """The latent batch that `generate(num_images, seed)` uses (float32 numpy)."""
        # Philox pinned: "auto_select" picks another algorithm under XLA.
        return tf.random.stateless_normal(
            [num_images, self.latent_dim], seed=[seed, 0], alg="philox"
        ).numpy()

    def generator_inputs(self, latent, labels=None, codes=None):
        """Packs the generator's inputs; unconditional models take only `latent`."""
        if labels is not None or codes is not None:
            raise ValueError(
                f"{type(self).__name__} is unconditional: it takes no labels or codes. "
                "Use a conditional model (cgan, acgan) or infogan for that."
            )
        return validation.check_latent(latent, self.latent_dim)

    def sample_grid(self, seed=0):
        """A uint8 picture of samples for PNGs and TensorBoard (10x10 fixed-noise grid).

        Conditional families override it (one row per class); vector data
        (2-D mixtures) override it with a scatter plot.
        """
        from ganzoo import images as images_lib

        return images_lib.image_grid(self.generate(100, seed=seed), rows=10)

    def generate(self, num_images, seed=0, labels=None, codes=None, batch_size=256):
        """Generates examples in the data range ([-1, 1] for images).

        Args:
            num_images: int. How many.
            seed: int. The same seed gives the same images.
            labels: int array `[num_images]` for conditional models.
            codes: float array for InfoGAN's structured codes.
            batch_size: int. Generator batch size.

        Returns:
            float32 numpy array `[num_images, ...]`.
        """
        latent = self.sample_latent(validation.check_num_images(num_images), seed)
        inputs = self.generator_inputs(latent, labels=labels, codes=codes)
        chunks = []
        for start in range(0, int(num_images), batch_size):
            part = tf.nest.map_structure(lambda t, s=start: t[s:s + batch_size], inputs)
            chunks.append(np.asarray(self.inference_generator(part, training=False)))
        return np.concatenate(chunks) if chunks else np.zeros((0,), np.float32)


def packed_shape(shape, packing):
    """Shape of one D input for packs of `packing` examples of `shape`.

    Vectors `(D,)` become `(packing * D,)`; images `(H, W, C)` become
    `(H, W, packing * C)` (PacGAN, Lin et al. 2018, sec. 5).
    """
    shape = tuple(int(d) for d in shape)
    if packing == 1:
        return shape
    return (*shape[:-1], int(packing) * shape[-1])


def _plain_discriminator(cls, heads):
    # Packs mix examples, so per-example labels, class heads and InfoGAN's Q
    # network cannot apply; families add those through these hooks.
    return (heads == {"logits": 1} and cls._discriminate is GAN._discriminate
            and cls.wrap_networks.__func__ is GAN.wrap_networks.__func__)


# Builder arguments that ganzoo passes itself (not config keys).
_BUILDER_ARGS = {"shape", "input_dim", "width", "heads", "name"}


def _check_builder_keys(builder, keys, section, architecture):
    """Refuses `model.<section>.*` keys that the architecture's builder does not take."""
    from ganzoo.config import ConfigError

    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # forwards its keywords; the builder it calls checks them
    valid = set(params) - _BUILDER_ARGS
    unknown = set(keys) - valid
    if unknown:
        raise ConfigError(
            f"Unknown model.{section} key(s) {sorted(unknown)} for architecture "
            f"{architecture!r}; valid: {sorted(valid)}.")


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


def _constructor_args(cls):
    """Constructor argument names of `cls` and of every GAN class it extends.

    Families repeat only the base arguments they change and forward the rest
    through `**kwargs`, so the base class's options (e.g. `unrolled_steps`) are
    valid config keys and saved by `get_config` for every family.
    """
    names = {}
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, GAN) and "__init__" in vars(klass):
            for name in inspect.signature(klass.__init__).parameters:
                if name not in ("self", "kwargs", "args"):
                    names[name] = None
    return list(names)


def _metric_key(total_name, term):
    # "d_loss" + "gradient_penalty" -> "gradient_penalty"; adversarial parts stay implicit.
    return term if term != "adversarial" else f"{total_name}_adversarial"


def _num_replicas():
    ctx = tf.distribute.get_replica_context()
    return ctx.num_replicas_in_sync if ctx is not None else 1


def _replica_id():
    ctx = tf.distribute.get_replica_context()
    if ctx is None:
        return 0
    rid = ctx.replica_id_in_sync_group
    return rid if isinstance(rid, int) else tf.cast(rid, tf.int32)
