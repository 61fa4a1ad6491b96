"""The layers of DESIGN.md, read from the code: imports point down the pipeline order only,
and no two files or folders import each other, even through others.

Every import statement of the shipped code counts, those inside functions and under
``TYPE_CHECKING`` included: a lazy import is still a dependency, only a hidden one.
"""

from __future__ import annotations

import ast
from functools import cache

import pytest

from tests.helpers import ROOT, imported_names, product_files

#: Lowest first. A module belongs to the layer of the longest prefix naming it.
LAYERS = (
    ("kernel", ("marketplace.kernel", "config")),
    ("accounts", ("marketplace.accounts",)),
    ("designs", ("designs",)),
    ("campaigns", ("marketplace.campaigns",)),
    ("payments", ("payments",)),
    ("production", ("marketplace.production",)),
    # The listening loop, after delivery: ratings and reviews, the redesigns they call for,
    # and the recognition of everyone who took part (which reads both).
    ("reviews", ("marketplace.reviews",)),
    ("redesigns", ("marketplace.redesigns",)),
    ("recognition", ("marketplace.recognition",)),
    # The KPIs read every package above (their rollups), for the console and /impact.
    ("kpis", ("marketplace.kpis",)),
    ("console", ("marketplace.operator", "marketplace.pages")),
    # The app factory and the CLI assemble everything; nothing of the product imports them.
    ("app", ("marketplace", "marketplace.cli", "wsgi")),
)


def _resolve(name: str) -> str | None:
    """The product module an imported name lives in (``a.b.c`` -> ``a.b`` when c is a
    function of module ``a.b``), or None for a name outside the product."""
    modules = product_files()
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def imports() -> dict[str, set[tuple[str, int]]]:
    """module -> {(imported product module, line)}."""
    graph: dict[str, set[tuple[str, int]]] = {}
    for module, path in product_files().items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found = graph.setdefault(module, set())
        for name, line in imported_names(path.read_text(), package):
            target = _resolve(name)
            if target is not None and target != module:
                found.add((target, line))
    return graph


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return best


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _folder(module: str) -> str:
    """A package's folder; a single module at the top (``config.py``, ``wsgi.py``) is a unit
    of its own, as the project's root is no package."""
    folder = product_files()[module].parent.relative_to(ROOT)
    return str(folder) if folder.parts else module


def test_every_shipped_module_has_a_layer():
    assert product_files(), "found no product code"
    for module in product_files():
        layer_of(module)


def test_imports_point_down_the_layers():
    upward = [
        f"{product_files()[module].relative_to(ROOT)}:{line} imports {target} "
        f"({LAYERS[layer_of(module)][0]} -> {LAYERS[layer_of(target)][0]})"
        for module, targets in sorted(imports().items())
        for target, line in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_no_cycle_between_files():
    graph = {m: {t for t, _ in targets} for m, targets in imports().items()}
    assert _cycles(graph) == []


def test_no_cycle_between_folders():
    graph: dict[str, set[str]] = {}
    for module, targets in imports().items():
        edges = graph.setdefault(_folder(module), set())
        edges.update(_folder(t) for t, _ in targets if _folder(t) != _folder(module))
    assert _cycles(graph) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
    ],
)
def test_cycle_finder_finds_cycles(graph, expected):
    assert sorted(_cycles(graph)) == expected


def test_lazy_and_type_only_imports_are_read():
    """Imports inside functions and under TYPE_CHECKING hid the old cycles: they count."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from designs.models import Design\n"
        "def f():\n"
        "    from ..kernel import signals\n"
        "    import payments.gateway\n"
    )
    names = {name for name, _ in imported_names(source, "marketplace.campaigns")}
    assert {"designs.models.Design", "marketplace.kernel.signals", "payments.gateway"} <= names
    assert _resolve("designs.models.Design") == "designs.models"
    assert _resolve("flask.Flask") is None


def test_the_product_imports_no_development_code():
    """dev/, bench/ and tests/ are not shipped: an import of them would fail in production."""
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for module, path in product_files().items()
        for name, line in imported_names(
            path.read_text(),
            module if path.name == "__init__.py" else module.rpartition(".")[0],
        )
        if name.split(".")[0] in ("dev", "bench", "tests")
    ]
    assert offending == []


#: Per-app resources kept in ``app.extensions`` (clients and their pools, the process's
#: rendered pieces, the session cookie's signer and what it verified), not hooks.
APP_RESOURCES = {
    "redis",
    "stripe_client",
    "stripe_limiter",
    "fragments.in_process",
    "sessions.signing",
}


def test_no_cross_package_hook_in_app_extensions():
    """Reactions between packages go through ``marketplace.kernel.signals``, which grep can
    follow; a string key in ``app.extensions`` hides who listens."""
    keys = set()
    for path in product_files().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Subscript) and _is_extensions(node.value):
                keys.add(ast.literal_eval(node.slice))
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("get", "setdefault", "pop")
                and _is_extensions(node.func.value)
            ):
                keys.add(ast.literal_eval(node.args[0]))
    assert keys and keys <= APP_RESOURCES, keys - APP_RESOURCES


def _is_extensions(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "extensions"
