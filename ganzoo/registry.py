"""One registry of GAN models, keyed by the name users pass to `--model`.

A leaf: it imports none of the models it holds (Model Garden's
`official/core/registry.py`). Each family registers itself when its module is
imported, and `import ganzoo` (run first by any `import ganzoo.<module>`,
this one included) imports `ganzoo.models`, so every family is registered
before `get_model` can be called.
"""

import keras

_MODELS = {}


def register_model(name):
    """Class decorator: registers a GAN under `name` and as Keras-serializable.

    Registering for Keras serialization in the same decorator means no model can
    be saved to `.keras` and then fail to load because it was forgotten.

    Args:
        name: str. The name used by `--model` and `get_model`.

    Returns:
        The decorator; it returns the class unchanged.

    Example:

    >>> @register_model("my_gan")
    ... class MyGAN(GAN): ...
    """

    def decorator(cls):
        if name in _MODELS:
            raise ValueError(
                f"Model name {name!r} is already registered by {_MODELS[name].__qualname__}."
            )
        cls = keras.saving.register_keras_serializable(package="ganzoo")(cls)
        cls.registered_name = name
        _MODELS[name] = cls
        return cls

    return decorator


def get_model(name):
    """Returns the model class registered as `name`.

    Raises:
        ValueError: for an unknown name; the message lists every known name.
    """
    if name not in _MODELS:
        raise ValueError(
            f"Unknown model {name!r}. Known models: {', '.join(list_models())}. A family "
            "of your own is known once its module is imported (--import_module=MODULE; "
            "README, Adding a model)."
        )
    return _MODELS[name]


def list_models():
    """Sorted names of every registered model."""
    return sorted(_MODELS)
