"""Keeps the layering of docs/ARCHITECTURE.md: read from the code's own imports with ``ast`` (nothing is imported).

Layers, bottom to top; a module may import its own package and the layers below it:

1. ``core``                        foundation: imports no project package
2. ``store``, ``index``, ``latent``  each imports only ``core``
3. ``ingest``                      readers, chunking, embedders, pipeline stages
4. ``services``                    the Engine facade, its context and the services
5. ``eval``, ``bench``             over services (bench may use eval's metrics)
6. ``api``, ``cli``, ``latentspace`` over services; api imports no store/ and no SQLAlchemy

Nothing imports ``api`` or ``cli`` except ``cli serve`` (cli/main.py -> api). ``latentspace`` is the public
client package: it sits on top and nothing of the project imports it (it may import nothing of api/ or cli/).
Every import counts, also those inside functions and under ``TYPE_CHECKING``. The tests also fail on any
import circle between files, on a module touching another object's private attribute or importing another
module's private name, and on modules or functions longer than the house limits.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYER = {
    "core": 1,
    "store": 2,
    "index": 2,
    "latent": 2,
    "ingest": 3,
    "services": 4,
    "eval": 5,
    "bench": 5,
    "api": 6,
    "cli": 6,
    "latentspace": 6,
}
# Same-layer imports that are allowed (importer package -> imported package).
SIDEWAYS = {("bench", "eval")}
# Only these modules may import api/ or cli/ (the `serve` command starts the HTTP app).
TOP_IMPORTERS = {"cli.main": {"api"}}
FORBIDDEN_THIRD_PARTY = {"api": ("sqlalchemy",)}
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def project_modules() -> dict[str, Path]:
    found = {}
    for package in LAYER:
        base = ROOT / package
        if base.is_dir():
            found.update({module_name(p): p for p in base.rglob("*.py")})
    return found


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_names(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every dotted name the module imports (absolute, relative ones resolved), with its line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def resolve(dotted: str) -> str | None:
    """The project module a dotted import name lands in (``a.b.c`` -> module ``a.b.c`` or ``a.b``)."""
    modules = project_modules()
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


@cache
def dependency_graph() -> dict[str, dict[str, int]]:
    """module -> {imported project module: first line}."""
    graph: dict[str, dict[str, int]] = {}
    for name, path in project_modules().items():
        edges: dict[str, int] = {}
        for dotted, line in imported_names(name, path):
            target = resolve(dotted)
            if target is not None and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def layer_violation(importer: str, imported: str) -> str | None:
    src, dst = importer.split(".")[0], imported.split(".")[0]
    if src == dst:
        return None
    if dst in ("api", "cli", "latentspace"):
        return None if dst in TOP_IMPORTERS.get(importer, set()) else f"nothing may import {dst}/"
    if LAYER[dst] < LAYER[src] and not (src == "api" and dst == "store"):
        return None
    if (src, dst) in SIDEWAYS:
        return None
    if src == "api" and dst == "store":
        return "api/ must not import store/"
    return f"layer {LAYER[src]} ({src}/) must not import layer {LAYER[dst]} ({dst}/)"


def layer_violations() -> list[str]:
    found = []
    for importer, edges in sorted(dependency_graph().items()):
        for imported, line in sorted(edges.items()):
            why = layer_violation(importer, imported)
            if why:
                found.append(f"{project_modules()[importer].relative_to(ROOT)}:{line}: imports {imported}: {why}")
    return found


def third_party_violations() -> list[str]:
    found = []
    for name, path in project_modules().items():
        banned = FORBIDDEN_THIRD_PARTY.get(name.split(".")[0], ())
        for dotted, line in imported_names(name, path):
            if dotted.split(".")[0] in banned:
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {dotted}")
    return found


def circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    graph = dependency_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def own_private_names(path: Path) -> set[str]:
    """Private names the module itself defines: its functions, classes, class fields and ``self._x``."""
    names = set()
    for node in ast.walk(parsed(path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if _is_private(name)}


def private_access(name: str, path: Path) -> Iterator[str]:
    """``x._attr`` that the module does not define itself (on anything but self/cls/super()), and
    ``from m import _name`` from another project module. A class may use the private state of other
    instances of itself (e.g. in a ``load`` classmethod); no module may use another module's."""
    own = own_private_names(path)
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Attribute) and _is_private(node.attr) and node.attr not in own:
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                continue
            yield f"{path.relative_to(ROOT)}:{node.lineno}: touches private attribute .{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module and resolve(node.module):
            for alias in node.names:
                if _is_private(alias.name):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}: imports private name {alias.name}"


def _is_private(attr: str) -> bool:
    return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))


def long_code() -> list[str]:
    found = []
    for _name, path in sorted(project_modules().items()):
        rel = path.relative_to(ROOT)
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{rel}: {lines} lines (limit {MAX_MODULE_LINES})")
        for node in ast.walk(parsed(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{rel}:{node.lineno}: function {node.name} is {length} lines")
    return found


def test_the_packages_are_found() -> None:
    modules = project_modules()
    assert {name.split(".")[0] for name in modules} >= {"core", "store", "index", "latent", "ingest", "services"}
    assert "services.engine" in modules and "index.base" in modules


def test_each_layer_imports_only_layers_below_it() -> None:
    assert layer_violations() == []


def test_api_uses_no_sql() -> None:
    assert third_party_violations() == []


def test_no_import_circles_between_files() -> None:
    assert circles() == []


def test_no_module_touches_another_ones_private_attributes() -> None:
    found = [line for name, path in sorted(project_modules().items()) for line in private_access(name, path)]
    assert found == []


def test_modules_and_functions_stay_short() -> None:
    assert long_code() == []


# -- the checks themselves can fail -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("core.settings", "store.models", False),
        ("store.models", "index.base", False),
        ("latent.maps", "store.models", False),
        ("index.base", "core.errors", True),
        ("ingest.pipeline", "store.models", True),
        ("services.engine", "api.app", False),
        ("api.routers.health", "store.session", False),
        ("api.app", "services.engine", True),
        ("cli.main", "api.app", True),
        ("cli.common", "api.app", False),
        ("eval.beir", "bench.search", False),
        ("bench.search", "eval.metrics", True),
        ("latentspace.embedded", "services.engine", True),
        ("latentspace.embedded", "ingest.readers", True),
        ("latentspace.client", "api.schemas", False),
        ("cli.main", "latentspace.client", False),
        ("services.engine", "latentspace.errors", False),
        ("core.errors", "latentspace", False),
    ],
)
def test_the_layer_rule(importer: str, imported: str, allowed: bool) -> None:
    assert (layer_violation(importer, imported) is None) is allowed


def test_a_circle_and_private_access_are_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "core"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from core.b import g\n    return g\n")
    (package / "b.py").write_text(
        "from core import a\n\n\nclass B:\n    def __init__(self):\n        self._mine = 1\n\n\n"
        "def g(engine, other: B):\n    return engine._write_lock, other._mine\n"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    for cached in (project_modules, dependency_graph, parsed):
        cached.cache_clear()
    try:
        assert circles() == [["core.a", "core.b"]]
        assert list(private_access("core.b", package / "b.py")) == [
            "core/b.py:10: touches private attribute ._write_lock"
        ]
    finally:
        for cached in (project_modules, dependency_graph, parsed):
            cached.cache_clear()
