"""Loads TF-GAN's pure-math modules as an independent oracle for tests.

`tensorflow_gan` 2.1.0 cannot be imported on TF >= 2.16 because its package
`__init__` pulls in `tf.estimator`. Its loss and classifier-metric modules are
plain TensorFlow, so we register empty stub packages in `sys.modules` and load
just those modules. Never used at runtime, only in tests.
"""

import importlib
import importlib.util
import pathlib
import sys
import types

import pytest
import tensorflow as tf


def _stub_package(name, path):
    module = types.ModuleType(name)
    module.__path__ = [str(path)]
    sys.modules[name] = module


def _stub_tfp():
    """`classifier_metrics` imports tfp for one call: `tfp.stats.covariance`."""
    if "tensorflow_probability" in sys.modules:
        return

    def covariance(x):
        x = tf.convert_to_tensor(x)
        x = x - tf.reduce_mean(x, axis=0, keepdims=True)
        n = tf.cast(tf.shape(x)[0], x.dtype)
        return tf.matmul(x, x, transpose_a=True) / n

    tfp = types.ModuleType("tensorflow_probability")
    tfp.stats = types.SimpleNamespace(covariance=covariance)
    sys.modules["tensorflow_probability"] = tfp


def load(module):
    """Returns `tensorflow_gan.python.<module>`, e.g. `load("losses.losses_impl")`.

    Skips the calling test when `tensorflow-gan` is not installed.
    """
    full = f"tensorflow_gan.python.{module}"
    if full in sys.modules:
        return sys.modules[full]
    if "tensorflow_gan" in sys.modules:
        root = pathlib.Path(sys.modules["tensorflow_gan"].__path__[0])
    else:
        spec = importlib.util.find_spec("tensorflow_gan")
        if spec is None:
            pytest.skip("tensorflow-gan is not installed (it is in the `test` extra)")
        root = pathlib.Path(list(spec.submodule_search_locations)[0])
    parts = full.split(".")
    for i in range(1, len(parts)):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            _stub_package(name, root.joinpath(*parts[1:i]))
    _stub_tfp()
    return importlib.import_module(full)
