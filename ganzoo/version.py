"""ganzoo's version, in a leaf module: run records and model cards read it from
here, so they need not import the package's `__init__` (which imports them)."""

__version__ = "0.1.0"
