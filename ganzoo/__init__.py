"""ganzoo: a GAN model zoo on TensorFlow 2 and Keras 3.

Example:

>>> import ganzoo
>>> ganzoo.list_models()
>>> ganzoo.list_presets()
>>> ganzoo.list_configs()                          # for --config=NAME
>>> gan = ganzoo.from_preset("dcgan_digits")       # or ganzoo.load_gan("runs/dcgan_digits")
>>> images = gan.generate(16, seed=0)
"""

import os as _os

# oneDNN kernels double CPU training throughput here (tools/benchmark.py) but
# TensorFlow only reads the switch at import time, so set it before any import.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Every model family registers itself on import; the registry imports none of them.
# Preset names come from `ganzoo.preset_dirs`, not `ganzoo.presets` (which makes and
# scores presets): loading a preset imports no evaluation.
from ganzoo import models  # noqa: E402, F401
from ganzoo.config import list_configs  # noqa: E402
from ganzoo.loading import from_preset, load_gan, load_generator  # noqa: E402
from ganzoo.preset_dirs import list_presets, register_preset  # noqa: E402
from ganzoo.registry import get_model, list_models, register_model  # noqa: E402
from ganzoo.version import __version__  # noqa: E402, F401

__all__ = ["from_preset", "get_model", "list_configs", "list_models", "list_presets",
           "load_gan", "load_generator", "register_model", "register_preset"]
