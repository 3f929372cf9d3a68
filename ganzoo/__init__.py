"""ganzoo: a GAN model zoo on TensorFlow 2 and Keras 3."""

import os as _os

# oneDNN kernels double CPU training throughput here (tools/benchmark.py) but
# TensorFlow only reads the switch at import time, so set it before any import.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
