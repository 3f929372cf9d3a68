"""Loads TF-GAN's pure-math modules as an independent oracle for tests.

`tensorflow_gan` 2.1.0 cannot be imported on TF >= 2.16 because its package
`__init__` pulls in `tf.estimator`. Its loss and classifier-metric modules are
plain TensorFlow, so we register empty stub packages for the *packages* in
`sys.modules` and load just those modules. Their own dependencies are the real
ones: `classifier_metrics` takes its covariance from the installed
`tensorflow_probability` (which, beside Keras 3, runs on `tf_keras`; both are
in the `test` extra), so the oracle shares no code with ganzoo. Never used at
runtime, only in tests.
"""

import importlib
import importlib.util
import pathlib
import sys
import types

import pytest


def _stub_package(name, path):
    module = types.ModuleType(name)
    module.__path__ = [str(path)]
    sys.modules[name] = module


def load(module):
    """Returns `tensorflow_gan.python.<module>`, e.g. `load("losses.losses_impl")`.

    Skips the calling test when `tensorflow-gan` or `tensorflow-probability` is
    not installed (a failure under CI=true, see tests/conftest.py).
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
    pytest.importorskip("tensorflow_probability",
                        reason="tensorflow-probability (and tf-keras) are in the `test` extra")
    return importlib.import_module(full)
