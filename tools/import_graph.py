"""The module import graph of ganzoo/, counting imports inside functions; fails on circles.

`python tools/import_graph.py` parses every module with `ast` (nothing is
imported, so it runs in well under a second), builds the graph of imports
between ganzoo modules, prints the number of in-function imports and every
circle (a strongly connected component of more than one module) with the edges
inside it, and exits 1 if there is a circle.

How an import becomes an edge:
- `import ganzoo.a.b` and `from ganzoo.a import b` (b a module) are edges to
  `ganzoo.a.b`; `from ganzoo.a import name` (a name defined in `a`) is an edge
  to `ganzoo.a`, which for a package is its `__init__`. Relative imports are
  resolved first.
- The parents Python imports implicitly (`import ganzoo.a.b` runs
  `ganzoo/__init__` and `ganzoo/a/__init__` first) are not edges: a package's
  `__init__` that imports its submodules (`ganzoo/__init__` the families,
  `ganzoo/models/__init__` each family) would otherwise close a circle with
  every submodule. A submodule that reads a *name* from its package's
  `__init__` (`from ganzoo import __version__`, `import ganzoo` then
  `ganzoo.x`) is an edge, and is a circle when that `__init__` imports it:
  the name may not exist yet while the `__init__` is half run.
- Imports anywhere in a function body count like top-level ones: a circle
  hidden by an import inside a function is still a circle. Only imports under
  `if TYPE_CHECKING:` are skipped, since they never run.
- `importlib.import_module(name)` with a computed name (`ganzoo.cli`'s
  `--import_module`) is not seen.
"""

import argparse
import ast
import collections
import dataclasses
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_DIR = os.path.join(ROOT, "ganzoo")


@dataclasses.dataclass(frozen=True)
class Import:
    """One import statement's edge: `source` imports `target` at `line`."""

    source: str
    target: str
    line: int
    in_function: bool


@dataclasses.dataclass
class Report:
    """The graph and what `main` prints.

    Args:
        modules: dict. Module name -> file path.
        imports: list of `Import`, one per edge of each statement.
        in_function: int. Import statements inside functions (ganzoo or not).
        cycles: list of sorted module-name lists, one per circle.
    """

    modules: dict
    imports: list
    in_function: int
    cycles: list

    def graph(self):
        edges = collections.defaultdict(set)
        for imp in self.imports:
            edges[imp.source].add(imp.target)
        return edges


def module_files(package_dir):
    """`{dotted module name: path}` for every `.py` file under `package_dir`."""
    base = os.path.dirname(os.path.abspath(package_dir))
    modules = {}
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__pycache__")))
        for filename in sorted(filenames):
            if not filename.endswith(".py"):
                continue
            path = os.path.join(dirpath, filename)
            parts = os.path.relpath(path, base)[:-len(".py")].split(os.sep)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_package(path):
    return os.path.basename(path) == "__init__.py"


def _is_type_checking(node):
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree):
    """`(import node, in_function)` for every import that can run."""
    stack = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, in_function
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            children = node.orelse
        else:
            children = list(ast.iter_child_nodes(node))
        inner = in_function or isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        stack.extend((child, inner) for child in reversed(children))


def _longest_module(name, modules):
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _targets(node, module, path, modules):
    """The ganzoo modules one import statement makes `module` import."""
    if isinstance(node, ast.Import):
        found = (_longest_module(alias.name, modules) for alias in node.names)
        return [t for t in found if t]
    if node.level:
        package = module if _is_package(path) else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = ".".join(p for p in (package, node.module) if p)
    else:
        base = node.module
    targets = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in modules:
            targets.append(submodule)
        elif base in modules:
            targets.append(base)
    return targets


def build(package_dir=PACKAGE_DIR):
    """Parses every module under `package_dir` and finds the circles.

    Args:
        package_dir: str. The package to check. Defaults to `ganzoo/`.

    Returns:
        A `Report`.
    """
    modules = module_files(package_dir)
    imports, in_function = [], 0
    for module, path in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node, inside in _statements(tree):
            in_function += inside
            for target in dict.fromkeys(_targets(node, module, path, modules)):
                if target != module:
                    imports.append(Import(module, target, node.lineno, inside))
    report = Report(modules, imports, in_function, [])
    report.cycles = [sorted(c) for c in strongly_connected_components(report.graph())
                     if len(c) > 1]
    report.cycles.sort()
    return report


def strongly_connected_components(graph):
    """Tarjan's algorithm without recursion: a list of sets of nodes.

    Args:
        graph: dict. Node -> iterable of the nodes it points to.
    """
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def format_report(report):
    lines = [f"{len(report.modules)} modules, {len(report.imports)} import edges, "
             f"{report.in_function} import statements inside functions "
             f"({sum(i.in_function for i in report.imports)} of the edges).",
             f"{len(report.cycles)} circle(s)."]
    root = os.path.dirname(os.path.dirname(next(iter(report.modules.values()), ROOT)))
    for n, cycle in enumerate(report.cycles, 1):
        members = set(cycle)
        lines.append(f"\ncircle {n}: {', '.join(cycle)}")
        for imp in sorted(report.imports, key=lambda i: (i.source, i.line, i.target)):
            if imp.source in members and imp.target in members:
                where = os.path.relpath(report.modules[imp.source], root)
                lines.append(f"  {where}:{imp.line}: {imp.source} -> {imp.target}"
                             f"{'  (in a function)' if imp.in_function else ''}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package_dir", nargs="?", default=PACKAGE_DIR)
    parser.add_argument("--edges", action="store_true", help="Also print every edge.")
    args = parser.parse_args(argv)
    report = build(args.package_dir)
    if args.edges:
        for imp in report.imports:
            print(f"{imp.source} -> {imp.target}:{imp.line}"
                  f"{' (in a function)' if imp.in_function else ''}")
    print(format_report(report))
    return 1 if report.cycles else 0


if __name__ == "__main__":
    sys.exit(main())
