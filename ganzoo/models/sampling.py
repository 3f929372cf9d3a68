"""What a trained GAN draws: latents, the generator's inputs, images, grids and walks.

`Sampling` is the half of `ganzoo.models.base.GAN` that inference uses
(`generate`, `generate_batches`, `interpolate`, `sample_grid`, and the
`inference_generator` they run: G, or its moving average). It reads only the
model's `latent_dim`, `seed`, networks and EMA state, and, like the base, names
no family: a family's conditions enter through `generator_inputs` and
`_generate_inputs`, which it overrides.
"""

import numpy as np
import tensorflow as tf

from ganzoo import validation
from ganzoo.models import ema


class Sampling:
    """Mixin of `ganzoo.models.base.GAN`: sampling from the trained generator."""

    @property
    def inference_generator(self):
        """The generator that samples, evaluation and export use: the moving
        average of G's weights when `ema_decay` > 0, else G itself.

        The average's batch-norm statistics are measured for its own weights
        (`ema.recalibrate`, on 512 fixed latents) once per generator step, when
        it is first read after that step.
        """
        if self.ema_generator is None:
            return self.generator
        step = int(self.g_optimizer.iterations.numpy()) if hasattr(self, "g_optimizer") else -1
        if tf.executing_eagerly() and step != self._ema_calibrated_at:
            latent = tf.random.stateless_normal([512, self.latent_dim], seed=[self.seed, 7919],
                                                alg="philox").numpy()
            ema.recalibrate(self.ema_generator, self.generator_inputs(latent))
            self._ema_calibrated_at = step
        return self.ema_generator

    def sample_latent(self, num_images, seed=0):
        """The latent batch that `generate(num_images, seed)` uses (float32 numpy)."""
        # Philox pinned: "auto_select" picks another algorithm under XLA.
        return tf.random.stateless_normal(
            [num_images, self.latent_dim], seed=[seed, 0], alg="philox"
        ).numpy()

    def generator_inputs(self, latent, **conditions):
        """G's inputs for a latent batch `[N, latent_dim]` and the family's conditions.

        A family whose G takes more than the latent overrides it, naming and
        validating its own keyword conditions; this default takes none. A
        condition given as None counts as not given.

        Raises:
            ValueError: a bad latent, or any condition (this family has none).
        """
        given = given_conditions(conditions)
        if given:
            raise ValueError(
                f"{type(self).__name__} is unconditional: it takes no conditions (got "
                f"{', '.join(given)}); its generator takes only the latent.")
        return validation.check_latent(latent, self.latent_dim)

    def sample_grid(self, seed=0):
        """A uint8 picture of samples for PNGs and TensorBoard (10x10 fixed-noise grid).

        Conditional families override it (one row per class); vector data
        (2-D mixtures) override it with a scatter plot.
        """
        from ganzoo import images as images_lib

        return images_lib.image_grid(self.generate(100, seed=seed), rows=10)

    def generate(self, num_images, seed=0, batch_size=256, **conditions):
        """Generates examples in the data range ([-1, 1] for images).

        Args:
            num_images: int. How many.
            seed: int. The same seed gives the same images.
            batch_size: int. Generator batch size.
            **conditions: what the family's G is conditioned on, by keyword, as
                its `generator_inputs` documents; unconditional families take none.

        Returns:
            float32 numpy array `[num_images, ...]`.
        """
        return np.concatenate(list(self.generate_batches(num_images, seed, batch_size,
                                                         **conditions)))

    def generate_batches(self, num_images, seed=0, batch_size=256, **conditions):
        """`generate`'s images, `batch_size` at a time: the same numbers, in bounded memory.

        Returns:
            An iterator of float32 numpy arrays `[<= batch_size, ...]`, `num_images`
            rows in all. Bad arguments or conditions raise here, before any image.
        """
        latent = self.sample_latent(validation.check_num_images(num_images), seed)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
        return self._run_generator(self._generate_inputs(latent, seed, **conditions),
                                   int(num_images), int(batch_size))

    def _run_generator(self, inputs, num_images, batch_size):
        """The inference generator over G's inputs (a nest of `[num_images, ...]`
        arrays), `batch_size` rows at a time: an iterator of numpy batches."""
        for start in range(0, num_images, batch_size):
            part = tf.nest.map_structure(lambda t, s=start: t[s:s + batch_size], inputs)
            yield np.asarray(self.inference_generator(part, training=False))

    def interpolate(self, num_rows, steps=8, seed=0, batch_size=256, **conditions):
        """Walks through the latent space: `num_rows` rows of `steps` images each.

        Row r moves linearly (as the DCGAN paper walks its latent space) from
        latent 2r to latent 2r + 1 of `sample_latent(2 * num_rows, seed)`, with
        everything else G takes held fixed along the row: the conditions, one
        per row, as `generate(num_rows, seed, **conditions)` would give them
        (`labels=[3, 7]`: row 0 class 3, row 1 class 7; the family's defaults
        otherwise, e.g. classes 0, 1, ... down the rows).

        Returns:
            float32 numpy array `[num_rows * steps, ...]`, row by row.
        """
        rows = validation.check_num_images(num_rows)
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
            raise ValueError(f"steps must be an int >= 2 (the two ends), got {steps!r}.")
        steps = int(steps)
        latent = self.sample_latent(2 * rows, seed)
        start = self._generate_inputs(latent[0::2], seed, **conditions)
        end = self._generate_inputs(latent[1::2], seed, **conditions)
        weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)

        def walk(a, b):
            a, b = np.asarray(a), np.asarray(b)
            if a.dtype.kind == "f":
                w = weights.reshape([1, steps] + [1] * (a.ndim - 1))
                path = a[:, None] * (1.0 - w) + b[:, None] * w
            else:  # class ids and the like: the same at both ends
                path = np.repeat(a[:, None], steps, axis=1)
            return path.reshape((rows * steps, *a.shape[1:])).astype(a.dtype)

        path = tf.nest.map_structure(walk, start, end)
        return np.concatenate(list(self._run_generator(path, rows * steps, batch_size)))

    def _generate_inputs(self, latent, seed, **conditions):
        """G's inputs for `generate(n, seed, **conditions)`: `generator_inputs` by
        default; a family that draws conditions left out from `seed` overrides it."""
        return self.generator_inputs(latent, **conditions)


def given_conditions(conditions):
    """Sorted names of the conditions given a value (None counts as not given)."""
    return sorted(name for name, value in conditions.items() if value is not None)


