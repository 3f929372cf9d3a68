"""Shared helpers for model tests: tiny data, tiny models, one-step training; tools by path."""

import importlib.util
import pathlib
import sys

import numpy as np
import tensorflow as tf

from ganzoo.config import ModelConfig, set_value
from ganzoo.data import DataSpec
from ganzoo.registry import get_model

IMAGE_SPEC = DataSpec("tiny", (16, 16, 1), num_classes=10, num_examples=32)
VECTOR_SPEC = DataSpec("tiny_vectors", (2,), num_classes=8, num_examples=32)
TOOLS = pathlib.Path(__file__).resolve().parents[1] / "tools"


def load_tool(name):
    """Imports `tools/<name>.py` (tools are scripts, not a package) as a fresh module.

    tools/ goes on `sys.path` first, as when the script runs: tools import their
    siblings (`machine`, `reference`) by name.
    """
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    spec = importlib.util.spec_from_file_location(f"{name}_tool", TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spec_for(model_cls):
    """The tiny data spec a model family trains on in unit tests."""
    return VECTOR_SPEC if getattr(model_cls, "vector_data", False) else IMAGE_SPEC


def tiny_batch(spec, batch_size=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch_size, *spec.shape)).astype(np.float32)
    y = (np.arange(batch_size) % max(spec.num_classes, 1)).astype(np.int32)
    return x, y


def build_tiny(name, seed=0, **options):
    """Builds and compiles a registered model with 8-filter networks."""
    cls = get_model(name)
    spec = spec_for(cls)
    config = ModelConfig(name=name, width=8, latent_dim=8, options=dict(options))
    for key, value in cls.default_overrides.items():
        if key.startswith("model."):  # nested keys too (`model.discriminator.norm`)
            set_value(config, key.split(".", 1)[1], value)
    config.width, config.latent_dim = 8, 8
    gan = cls.from_data_spec(spec, config, seed=seed)
    return gan, spec


def compile_tiny(gan, loss=None, jit_compile=False):
    """Compiles with the family's default loss unless `loss` is given."""
    cls = type(gan)
    default_loss = cls.default_overrides.get("train.loss", "non_saturating")
    gan.compile(loss=loss or default_loss, jit_compile=jit_compile)
    return gan


def fit_steps(gan, spec, steps=1, batch_size=8, seed=0):
    x, y = tiny_batch(spec, batch_size * gan.d_steps, seed)
    dataset = tf.data.Dataset.from_tensors((x, y)).repeat()
    history = gan.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return {k: float(v[-1]) for k, v in history.history.items()}


def all_weights(gan):
    return [v.numpy() for v in gan.generator.weights + gan.discriminator.weights]


# Norm-wise relative tolerance on a training update (weights after minus before)
# between two runs of the same steps that only sum in a different order (1 device
# vs N replicas or workers, XLA vs graph mode); derived from float32 summation
# error in tests/test_distribute.py.
UPDATE_RTOL = 1e-3


def relative_update_error(before, reference, other):
    """`||u_other - u_ref|| / ||u_ref||` of the updates `after - before`.

    Args:
        before, reference, other: lists of arrays (the same variables): initial
            weights, and the weights after the reference and the other run.

    Returns:
        float. The norm-wise relative error of the other run's update.
    """
    u_ref = np.concatenate([(a - b).ravel() for a, b in zip(reference, before, strict=True)])
    u_other = np.concatenate([(a - b).ravel() for a, b in zip(other, before, strict=True)])
    return float(np.linalg.norm(u_other - u_ref) / np.linalg.norm(u_ref))
