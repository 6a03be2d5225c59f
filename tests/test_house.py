"""The package's shape: no import circle among its modules, no module or function too long.

The graph is built from the source with ``ast``: every ``import`` and ``from ... import``
anywhere in a module (inside functions and under ``TYPE_CHECKING`` too, since those only
hide a circle until the day they run), a package's ``__init__`` counted as a module of its
own, relative imports resolved.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jhub_managed

PACKAGE = Path(jhub_managed.__file__).parent
NAME = "jhub_managed"


def module_names(root: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported(name: str, path: Path, modules: dict[str, Path], package: str = NAME) -> set[str]:
    """The package's modules ``name`` imports: ``from X import y`` names the module ``X.y``
    when there is one, else ``X``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    targets: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            origin = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                targets.append(submodule if submodule in modules else origin)
    found = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if (target == package or target.startswith(package + ".")) and target != name:
            found.add(target)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_names(root)
    return {name: imported(name, path, modules, root.name) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (``[a, b, ..., a]``), or ``None``."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_circle_among_the_package_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_graph_sees_imports_in_functions_under_type_checking_and_relative(tmp_path):
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("from .a import A\n")
    (root / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import b\nA = 1\n"
    )
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "b.py").write_text("def f():\n    from ..c import C\n")
    (root / "c.py").write_text("import pkg.sub\nC = 1\n")
    graph = import_graph(root)
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.sub.b"},
        "pkg.sub": set(),
        "pkg.sub.b": {"pkg.c"},
        "pkg.c": {"pkg.sub"},
    }
    assert find_cycle(graph) is None
    (root / "sub" / "__init__.py").write_text("from pkg.a import A\n")
    cycle = find_cycle(import_graph(root))
    assert cycle == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.sub", "pkg.a"]


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_a_service_process_needs_neither_the_hub_side_nor_the_spawner():
    """The services run in processes of their own: what they import never reaches the code
    that runs in the hub's (``hubside``) or the spawner classes (kubespawner); nor does the
    spawn-form renderer."""
    graph = import_graph()
    hub_only = (f"{NAME}.hubside", f"{NAME}.spawner")
    starts = [m for m in graph if m.startswith(f"{NAME}.services")] + [f"{NAME}.spawn_form"]
    wrong = {
        start: sorted(m for m in reachable(graph, start) if m.startswith(hub_only))
        for start in starts
    }
    wrong = {start: modules for start, modules in wrong.items() if modules}
    assert wrong == {}


#: data tables, allowed to be long: (module, function or None for the whole module)
DATA_TABLES = {
    ("jhub_managed.services.config.openapi", "openapi_document"),
}
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def oversized(root: Path = PACKAGE) -> list[str]:
    """Modules over :data:`MAX_MODULE_LINES` lines and functions over
    :data:`MAX_FUNCTION_LINES`, data tables excepted."""
    found = []
    for name, path in sorted(module_names(root).items()):
        source = path.read_text()
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES and (name, None) not in DATA_TABLES:
            found.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES and (name, node.name) not in DATA_TABLES:
                found.append(f"{name}.{node.name} (line {node.lineno}): {length} lines")
    return found


def test_no_module_or_function_too_long():
    assert oversized() == []


def test_oversized_finds_a_long_module_and_function(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (package / "long.py").write_text(f"def f():\n{body}\n" + "\n" * MAX_MODULE_LINES)
    assert oversized(package) == [
        f"pkg.long: {MAX_FUNCTION_LINES + 1 + MAX_MODULE_LINES} lines",
        f"pkg.long.f (line 1): {MAX_FUNCTION_LINES + 1} lines",
    ]
