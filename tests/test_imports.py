"""No import cycle among deepgrad's modules, and no private name imported from another module.

Every module under ``src/deepgrad`` is parsed with ``ast`` (never imported). Each import of a deepgrad
module is an edge ``importer -> imported``: module-level imports and imports inside functions alike
(a lazy import inside a function still closes a circle, only later). ``from package import name`` is an
edge to ``package.name`` when that is a module, else to ``package``. Importing ``a.b`` runs ``a/__init__``
first; like import-linter, the edge goes to the module named, not to its parent packages.

The optional extras (matplotlib, tqdm, safetensors) are imported lazily, inside the functions that use
them; they are not deepgrad modules, so they are not part of this graph and need no exemption.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "deepgrad"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((SOURCE / PACKAGE).rglob("*.py"))}


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The module an ``ImportFrom`` reads from, with relative imports (``from . import x``) resolved."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, list[str], int]]:
    """(imported deepgrad module, the names taken from it, line) for every import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, name, is_package)
            if source.split(".")[0] != PACKAGE:
                continue
            plain = []
            for alias in node.names:
                if f"{source}.{alias.name}" in modules:
                    yield f"{source}.{alias.name}", [], node.lineno
                else:
                    plain.append(alias.name)
            if plain:
                yield source, plain, node.lineno


@cache
def import_graph() -> dict[str, dict[str, int]]:
    """importer -> {imported: line of the first such import}, over deepgrad's own modules."""
    modules = all_modules()
    edges: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, path in modules.items():
        for target, _names, line in imports_of(name, path, modules):
            if target in modules and target != name:
                edges[name].setdefault(target, line)
    return edges


def find_cycle(edges: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in sorted(edges):
        if state.get(start):
            continue
        path = [start]
        state[start] = 1
        stack = [iter(sorted(edges[start]))]
        while stack:
            target = next(stack[-1], None)
            if target is None:
                stack.pop()
                state[path.pop()] = 2
            elif state.get(target) == 1:
                return path[path.index(target) :] + [target]
            elif not state.get(target):
                state[target] = 1
                path.append(target)
                stack.append(iter(sorted(edges[target])))
    return None


def describe(cycle: list[str], edges: dict[str, dict[str, int]]) -> str:
    links = [f"{a} (line {edges[a][b]})" for a, b in zip(cycle, cycle[1:])]
    return " -> ".join([*links, cycle[-1]])


def test_the_analysis_sees_every_kind_of_import(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "import numpy\n"
        "from . import sibling\n"
        "from .sibling import helper\n"
        "from .. import ops\n"
        "def late():\n"
        "    import deepgrad.autograd.engine\n"
        "    from deepgrad import nn, tensor as t\n"
    )
    modules = dict.fromkeys(["deepgrad.pkg.sibling", "deepgrad.ops", "deepgrad.autograd.engine", "deepgrad.nn"])
    found = [(target, names) for target, names, _line in imports_of("deepgrad.pkg.mod", source, modules)]
    assert sorted(found) == [
        ("deepgrad", ["tensor"]),  # not a module of its own: the edge goes to the package
        ("deepgrad.autograd.engine", []),  # inside a function
        ("deepgrad.nn", []),
        ("deepgrad.ops", []),
        ("deepgrad.pkg.sibling", []),
        ("deepgrad.pkg.sibling", ["helper"]),
    ]
    edges = import_graph()
    assert "deepgrad.tensor" in edges["deepgrad.viz.graph"]
    assert "deepgrad.viz.graph" in edges["deepgrad.viz"]  # from a package's __init__


def test_find_cycle_names_the_cycle():
    assert find_cycle({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {"b": 2}}) == ["b", "b"]
    assert find_cycle({"a": {"b": 1}, "b": {}, "c": {"b": 2}}) is None
    assert describe(["a", "b", "a"], {"a": {"b": 3}, "b": {"a": 7}}) == "a (line 3) -> b (line 7) -> a"


def test_no_import_cycle():
    edges = import_graph()
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + describe(cycle, edges)


def test_viz_imports_no_private_name():
    # A ``_name`` is its module's own business; viz/'s modules share only public names.
    modules = all_modules()
    found = [
        f"{name} line {line}: {', '.join(n for n in names if n.startswith('_'))} from {target}"
        for name, path in modules.items()
        if name.startswith("deepgrad.viz")
        for target, names, line in imports_of(name, path, modules)
        if any(n.startswith("_") and not n.startswith("__") for n in names)
    ]
    assert not found, "private names imported from another module:\n" + "\n".join(found)
