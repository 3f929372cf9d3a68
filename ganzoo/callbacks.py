"""Training callbacks: sample grids and TensorBoard scalars (checkpoints: `ganzoo.run_dir`).

They run at the end of each Keras "epoch" (`train.steps_per_epoch` steps) and
act when the generator step counter crosses a multiple of their period.
"""

import os

import keras
import tensorflow as tf

from ganzoo import images as images_lib


class _EveryNSteps(keras.callbacks.Callback):
    def __init__(self, every):
        super().__init__()
        self.every = int(every)
        self._last = None

    def step(self):
        return int(self.model.g_optimizer.iterations.numpy())

    def on_train_begin(self, logs=None):
        self._last = self.step()

    def on_epoch_end(self, epoch, logs=None):
        step = self.step()
        if step // self.every > self._last // self.every:
            self.run(step, logs or {})
        self._last = step

    def run(self, step, logs):
        raise NotImplementedError


class SampleGrid(_EveryNSteps):
    """Writes `samples/step_XXXXXXXX.png` and a TensorBoard image from fixed noise."""

    def __init__(self, run_dir, every, writer=None, seed=0):
        super().__init__(every)
        self.dir = os.path.join(run_dir, "samples")
        self.writer = writer
        self.seed = seed
        tf.io.gfile.makedirs(self.dir)

    def run(self, step, logs):
        grid = self.model.sample_grid(seed=self.seed)
        images_lib.write_png(os.path.join(self.dir, f"step_{step:08d}.png"), grid, scale=2)
        if self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.image("samples", grid[None], max_outputs=1)


class Scalars(keras.callbacks.Callback):
    """Writes the epoch's metrics to TensorBoard against the generator step."""

    def __init__(self, writer):
        super().__init__()
        self.writer = writer

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.g_optimizer.iterations.numpy())
        with self.writer.as_default(step=step):
            for name, value in (logs or {}).items():
                tf.summary.scalar(name, value)
        self.writer.flush()
