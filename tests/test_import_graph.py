"""ganzoo's import graph (tools/import_graph.py): no circles, counting imports inside functions."""

import pytest
from gan_test_utils import load_tool

import_graph = load_tool("import_graph")


@pytest.fixture(scope="module")
def report():
    return import_graph.build()


def _reachable(report, start):
    graph, seen, todo = report.graph(), set(), [start]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return seen


def test_ganzoo_has_no_import_circles(report):
    assert "ganzoo.models.base" in report.modules and report.in_function > 0
    assert report.cycles == [], import_graph.format_report(report)


def test_loading_a_preset_imports_no_evaluation(report):
    for start in ("ganzoo", "ganzoo.loading", "ganzoo.preset_dirs"):
        reached = _reachable(report, start)
        assert "ganzoo.evaluate" not in reached and "ganzoo.presets" not in reached, start
    assert "ganzoo.evaluate" in _reachable(report, "ganzoo.presets")


def test_registry_and_leaves_import_no_ganzoo_module(report):
    for leaf in ("ganzoo.registry", "ganzoo.errors", "ganzoo.version", "ganzoo.files"):
        assert report.graph().get(leaf, set()) == set(), leaf


def test_circle_hidden_in_a_function_is_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("import os\n\n\ndef f():\n    from . import b\n")
    (pkg / "b.py").write_text("from .sub import c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    # `..` from pkg.sub.c is pkg; `a` is a module there, so the edge is to pkg.a.
    (pkg / "sub" / "c.py").write_text("def g():\n    from .. import a\n")
    # A name from the package's `__init__`, which imports this module: a circle too.
    (pkg / "d.py").write_text("from pkg import VERSION\n")
    (pkg / "__init__.py").write_text("from pkg import a, d\nVERSION = 1\n")
    # Implicit parents (pkg, pkg.sub) are not edges; TYPE_CHECKING imports never run.
    (pkg / "e.py").write_text("import typing\nimport pkg.sub.c\n"
                              "if typing.TYPE_CHECKING:\n    from pkg import e2\n")
    (pkg / "e2.py").write_text("from pkg import e\n")

    report = import_graph.build(str(pkg))

    assert report.in_function == 2
    assert report.cycles == [["pkg", "pkg.d"], ["pkg.a", "pkg.b", "pkg.sub.c"]]
    assert "(in a function)" in import_graph.format_report(report)
    assert import_graph.main([str(pkg)]) == 1
    (pkg / "sub" / "c.py").write_text("")
    (pkg / "d.py").write_text("VERSION = 1\n")
    assert import_graph.build(str(pkg)).cycles == []
    assert import_graph.main([str(pkg)]) == 0
