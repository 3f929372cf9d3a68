import ast
import subprocess
import sys

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


def test_the_registry_is_a_leaf_and_import_ganzoo_registers_every_family():
    with open(registry.__file__) as f:
        tree = ast.parse(f.read())
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for a in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"keras"}  # in-function imports too: nothing it holds
    # A fresh process: `import ganzoo.registry` runs ganzoo/__init__, which imports the families.
    code = "import ganzoo.registry as r; print(' '.join(r.list_models()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    families = [n for n in ganzoo.list_models()
                if ganzoo.get_model(n).__module__.startswith("ganzoo.models.")]
    assert out == families and "dcgan" in out
