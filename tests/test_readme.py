"""The README's tables of measured numbers are the numbers of the files that back them.

Every number the README quotes must come from a results file (`tools/results/`)
or a preset card; these tests read both and fail when a table was edited by hand,
or a results file was regenerated, without the other following. Pure file
parsing: no TensorFlow, a fraction of a second.
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
RESULTS = ROOT / "tools" / "results"
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _tables(text):
    """`[(header cells, [row cells, ...]), ...]` of the Markdown tables in `text`."""
    tables, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if len(block) >= 2 and set("".join(block[1])) <= set("-: "):
            tables.append((block[0], block[2:]))
        block = []
    return tables


def _readme_table(*header):
    """The README table whose header starts with `header`."""
    found = [rows for head, rows in _tables(README) if tuple(head[:len(header)]) == header]
    assert len(found) == 1, f"expected one README table headed {header}, found {len(found)}"
    return found[0]


def _numbers(cells):
    return [m.group(0).replace(",", "") for cell in cells
            for m in NUMBER.finditer(cell.replace("`", ""))]


def _shows(text, value):
    """Whether `text` (a number as the README prints it) is `value` at its precision."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text) - value) <= 0.5 * 10 ** -decimals + 1e-9


def _covers(source_row, row):
    """Whether every number in `row` is one of `source_row`'s at the precision shown."""
    source = [float(n) for n in _numbers(source_row)]
    return all(any(_shows(n, s) for s in source) for n in _numbers(row))


def test_fashion_mnist_table_is_the_results_table():
    rows = _readme_table("family", "framework", "steps", "seeds")
    (head, source), = [t for t in _tables((RESULTS / "fashion_mnist.md").read_text())
                       if t[0][:4] == ["family", "framework", "steps", "seeds"]]
    readme_head = [h for h, _ in _tables(README) if h[:2] == ["family", "framework"]][0]
    columns = [head.index(name) for name in readme_head]  # the README drops some columns
    projected = {tuple(r[i] for i in columns) for r in source}
    assert [r for r in rows if tuple(r) not in projected] == []
    # Every ganzoo/pytorch row at a config's full step count is quoted.
    assert len(rows) >= 25


@pytest.mark.parametrize("header", ["digits-FID", "fmnist-FID"])
def test_preset_tables_are_the_cards(header):
    rows = _readme_table("Preset", "Family", "Steps", "Size", header)
    assert len(rows) >= 6
    for row in rows:
        name, family, steps, size, fid, inception, kid, measure, seconds = row
        card = json.loads((ROOT / "ganzoo" / "presets" / name.strip("`") / "card.json")
                          .read_text())
        metrics, report = card["evaluation"]["metrics"], card["evaluation"]["report"]
        assert (family, int(steps)) == (card["family"], card["training"]["steps"]), name
        assert size == f"{card['model_bytes'] / 1e6:.1f} MB", name
        for shown, value in ((fid, metrics["fid"]), (inception, metrics["inception_score"]),
                             (kid, metrics["kid"])):
            assert _shows(shown, value), (name, shown, value)
        assert seconds == f"{round(card['training_seconds']):,} s", name
        for label, key in (("class accuracy", "class_accuracy"),
                           ("requested class", "class_accuracy"),
                           ("code accuracy", "code_accuracy"), ("Q on test", "q_test_accuracy"),
                           ("test error", "test_error")):
            if label in measure:
                shown = NUMBER.search(measure.split(label, 1)[1]).group(0)
                assert _shows(shown, report[key]), (name, label, shown, report[key])


def test_benchmark_headline_is_the_benchmark_results():
    rows = _readme_table("image", "ganzoo default (graph, bf16)", "PyTorch eager")
    section = next(s for name, s in json.loads((RESULTS / "benchmark.json").read_text())
                   .items() if name.startswith("side_by_side_bf16 @"))
    by_image = {r["image"]: r for r in section["rows"]}
    assert [r[0] for r in rows] == ["28x28x3", "32x32x3", "64x64x3"]
    for image, ganzoo, eager, channels_last, ratio, gflops in rows:
        result = by_image[image]
        for shown, key in ((ganzoo, "ganzoo"), (eager, "torch"), (channels_last, "torch_cl")):
            r = result[key]
            assert shown == f"{r['median']:.0f} ({r['min']:.0f}-{r['max']:.0f})", (image, key)
        assert ratio == f"{result['ratio_vs_torch']:.2f}x", image
        assert gflops == " / ".join(f"{result[key]['median'] * result['gflop_per_image']:.0f}"
                                    for key in ("ganzoo", "torch")), image


@pytest.mark.parametrize("header,source", [
    (("data", "variant", "modes (per seed)"), "mode_collapse.md"),
    (("paper", "data", "method"), "mode_collapse.md"),
    (("model", "config", "steps", "measure"), "control.md"),
    (("image", "eager fp32", "channels_last fp32"), "gpu_check/benchmark.md"),
])
def test_quoted_tables_are_backed_row_by_row(header, source):
    """Shortened rows: each README row's numbers are all in one row of its results file."""
    rows = _readme_table(*header)
    source_rows = [r for _, rs in _tables((RESULTS / source).read_text()) for r in rs]
    assert [r for r in rows if not any(_covers(s, r) for s in source_rows)] == []


def test_python_snippets_name_only_what_they_import_or_define():
    """A snippet a user pastes must not stop at a NameError (one once used `ganzoo.`
    after importing only `from ganzoo import presets`)."""
    import ast
    import builtins

    snippets = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(snippets) >= 5
    for snippet in snippets:
        tree = ast.parse(snippet)  # and it parses
        defined = set(dir(builtins))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                defined.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.arg):
                defined.add(node.arg)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Load)}
        assert used <= defined, (sorted(used - defined), snippet.splitlines()[0])


def test_pictures_exist():
    """Every picture the README shows is in the repository (written by a tool)."""
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert pictures and all((ROOT / p).is_file() for p in pictures), pictures
