"""The wheel a user installs holds what ganzoo loads offline.

`pip install ganzoo` (not `-e`) gets only what setup.cfg packages: every preset
(`ganzoo/presets/<name>/{card.json, config.yaml, model.keras}`), the shipped
classifiers (`ganzoo/metrics/weights/`) and configs (`ganzoo/configs/*.yaml`) must
be in the wheel, or `load_generator("dcgan_fashion_mnist")`, the fmnist metrics and
`--config=dcgan_fashion_mnist` fail after a normal install while passing in this
editable checkout. Builds the wheel from a
copy of the sources with the venv's setuptools (no network: no build isolation,
no dependencies) and checks its file list and that setuptools did not warn about
data directories it would treat as undeclared packages.
"""

import pathlib
import shutil
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_wheel_holds_every_preset_classifier_and_config(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "ganzoo", source / "ganzoo",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (source / "ganzoo" / "models" / "__pycache__").mkdir()  # as in a used checkout
    (source / "ganzoo" / "models" / "__pycache__" / "base.cpython-311.pyc").write_bytes(b"")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "absent from the `packages` configuration" not in out.stdout + out.stderr

    (wheel,) = (tmp_path / "dist").glob("ganzoo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(ROOT).as_posix()
               for folder in ("ganzoo/presets", "ganzoo/metrics/weights", "ganzoo/configs")
               for p in (ROOT / folder).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert any(n.endswith("presets/dcgan_fashion_mnist/model.keras") for n in shipped)
    assert "ganzoo/configs/dcgan_fashion_mnist.yaml" in shipped
    assert shipped <= names, sorted(shipped - names)
    assert {n for n in names if n.endswith(".pyc")} == set()
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "ganzoo").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
