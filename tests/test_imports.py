"""Imports run one way (issue #16): commands → spiders → pipelines and middlewares → seen-store and
distributed → identity → extract, with no circle even through imports inside functions, and an import
inside a function only where its start-up cost was measured (or importing earlier would do harm)."""

from __future__ import annotations

import ast
from pathlib import Path

import gmwcrawler

PACKAGE = Path(gmwcrawler.__file__).parent

# (module, imported module) → why it is imported inside a function, not at the top
LAZY = {
    ("postgres.sink", "psycopg"): "120 ms; every crawl loads the pipeline, few write to PostgreSQL",
    ("postgres.sink", "psycopg.types.json"): "the same",
    ("postgres.database", "psycopg"): "the same",
    ("health.preflight", "psycopg"): "the same, for the PostgreSQL check",
    ("pipelines.clean", "ftfy"): "80–100 ms; needed only where mojibake is possible",
    ("distributed.connection", "twisted.internet"): "the reactor: importing it early installs Twisted's default one",
    ("commands.gmw", "gmwcrawler.distributed.connection"): "140 ms; Scrapy imports every command on every call",
    ("commands.gmw", "gmwcrawler.distributed.keys"): "the same",
    ("commands.gmw", "gmwcrawler.distributed.queue"): "the same",
    ("commands.gmw", "gmwcrawler.distributed.run"): "the same",
    ("commands.gmw", "gmwcrawler.postgres.history"): "psycopg, 80 ms, for one subcommand",
    ("commands.gmw", "gmwcrawler.postgres.sink"): "the same, for `replay`",
    ("commands.gmw", "psycopg"): "the same",
    ("commands.gmwrun", "gmwcrawler.distributed.connection"): "140 ms; Scrapy imports every command on every call",
    ("commands.gmwrun", "gmwcrawler.distributed.keys"): "the same",
    ("commands.gmwrun", "gmwcrawler.distributed.run"): "the same",
}
# a module may import only modules of its own layer or of layers further right. A layer's entries are packages
# (or leaves) at the top of gmwcrawler/, or a package inside one that sits lower than the rest of it:
# incremental.store and incremental.identity are what gmwcrawler.distributed builds on, while the rest of
# gmwcrawler.incremental builds on gmwcrawler.distributed.
LAYERS = [
    {"commands", "settings"},
    {"spiders", "health"},
    {"pipelines", "postgres", "incremental", "politeness", "feeds"},
    {"distributed"},
    {"incremental.store"},
    {"incremental.identity"},
    {"items", "signals", "meta", "state", "defaults", "redact"},
    {"extract"},
]
UNITS = set().union(*LAYERS)
# the leaves Scrapy projects keep at the top of the package, and the project's own leaves: all else is a package
TOP_LEVEL_MODULES = {"settings", "items", "signals", "meta", "state", "defaults", "redact", "feeds"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, bool]]:
    """(imported module, inside a function?) for each import of module `name`, TYPE_CHECKING blocks left out."""
    path = MODULES[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package[: len(package) - child.level + 1] if child.level > 1 else package
                    base = ".".join(["gmwcrawler", *up, *([base] if base else [])]).rstrip(".")
                found.append((base, in_function))
                found.extend((f"{base}.{alias.name}", in_function) for alias in child.names
                             if f"{base}.{alias.name}".removeprefix("gmwcrawler.") in MODULES)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(ast.parse(path.read_text()), False)
    return found


# a package whose __init__ imports nothing: importing a module inside it runs no other project code
INERT_PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py" and not _imports(name)}


def _graph() -> dict[str, set[str]]:
    """Module → the project modules importing it runs: itself and each package above it."""
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        edges = set()
        for target, _ in _imports(name):
            target = target.removeprefix("gmwcrawler.") if target.startswith("gmwcrawler.") else (
                "" if target == "gmwcrawler" else None)
            while target:
                if target in MODULES and target != name and not name.startswith(target + ".") and (
                        target not in INERT_PACKAGES):
                    edges.add(target)
                target = target.rpartition(".")[0]
        graph[name] = edges
    return graph


def _unit(name: str) -> str:
    """The layer entry a module belongs to: the longest entry it is, or is inside."""
    return max((u for u in UNITS if name == u or name.startswith(u + ".")), key=len)


def _layer(name: str) -> int:
    unit = _unit(name)
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def test_every_module_has_a_layer():
    assert [name for name in MODULES if name and not any(name == u or name.startswith(u + ".") for u in UNITS)] == []


def test_the_top_level_holds_only_leaves_and_packages():
    """A newcomer finds each concern in one package; the single files at the top are the leaves."""
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == TOP_LEVEL_MODULES
    leaves = TOP_LEVEL_MODULES - {"settings"}
    # a leaf imports no project module but the settings' defaults
    assert [f"{name} → {target}" for name in leaves for target in _graph()[name] if target != "defaults"] == []


def test_no_import_circle_even_through_imports_inside_functions():
    graph = _graph()
    circles = []
    for start in graph:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    circles.append(" → ".join([*path, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert circles == []


def test_no_two_packages_import_each_other():
    """A review found the seen-store and distributed mode importing each other; the stores sit below
    gmwcrawler.distributed (incremental.store), the crawl's use of them above it (incremental.crawl_store)."""
    tops = {(_unit(a), _unit(b)) for a, targets in _graph().items() for b in targets if a and b}
    assert {(a, b) for a, b in tops if a != b and (b, a) in tops} == set()


def test_imports_run_one_way():
    against = [f"{name} → {target}" for name, targets in _graph().items() if name
               for target in targets if target and _layer(target) < _layer(name)]
    assert against == []


def test_imports_inside_functions_are_the_measured_ones():
    lazy = {(name, target) for name in MODULES for target, inside in _imports(name) if inside}
    assert lazy == set(LAZY)
