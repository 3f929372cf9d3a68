import pytest

import ganzoo
from ganzoo import registry
from ganzoo.models.base import GAN


def test_known_models_include_dcgan():
    assert "dcgan" in ganzoo.list_models()
    assert ganzoo.get_model("dcgan").__name__ == "DCGAN"


def test_unknown_model_lists_every_name():
    with pytest.raises(ValueError) as err:
        ganzoo.get_model("nope")
    for name in ganzoo.list_models():
        assert name in str(err.value)


def test_duplicate_name_raises():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model("dcgan")(type("Another", (GAN,), {}))


def test_registered_models_are_keras_serializable():
    import keras

    for name in ganzoo.list_models():
        cls = ganzoo.get_model(name)
        assert keras.saving.get_registered_object(f"ganzoo>{cls.__name__}") is cls
