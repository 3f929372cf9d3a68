"""One registry of GAN models, keyed by the name users pass to `--model`."""

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
    _import_models()
    if name not in _MODELS:
        raise ValueError(
            f"Unknown model {name!r}. Known models: {', '.join(list_models())}."
        )
    return _MODELS[name]


def list_models():
    """Sorted names of every registered model."""
    _import_models()
    return sorted(_MODELS)


def _import_models():
    # Importing the package runs every model module's @register_model.
    import ganzoo.models  # noqa: F401
