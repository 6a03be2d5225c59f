"""The tests' own layout: what several test modules share lives in ``tests/fixtures/``, so
no test module imports another (a test module's name says what it tests, not what it lends)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it, as a dotted name under ``tests``."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative to the tests package (test modules sit at its top)
                base = ".".join(["tests", *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            imported.add(base)
            imported.update(f"{base}.{alias.name}" for alias in node.names)
    return imported


def module_paths() -> list[Path]:
    return sorted(TESTS.glob("test_*.py"))


def enclosing_test_module(name: str) -> str | None:
    """The test module ``tests.test_*`` that ``name`` is or lies in, if any."""
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == "tests" and parts[1].startswith("test_"):
        return ".".join(parts[:2])
    return None


def test_no_test_module_imports_another():
    found = {
        path.name: sorted({enclosing_test_module(name) for name in imported_modules(path)} - {None})
        for path in module_paths()
    }
    assert {name: modules for name, modules in found.items() if modules} == {}


def test_the_checker_sees_each_way_of_importing_a_test_module(tmp_path):
    ways = [
        "from .test_a import x",
        "from . import test_a",
        "from tests.test_a import x",
        "import tests.test_a",
        "def f():\n    from .test_a import x",
    ]
    for way in ways:
        path = tmp_path / "test_b.py"
        path.write_text(way + "\n")
        assert {enclosing_test_module(name) for name in imported_modules(path)} >= {
            "tests.test_a"
        }, way
    path.write_text("from .fixtures.waiting import wait_until\nfrom .upgrade import contents\n")
    assert {enclosing_test_module(name) for name in imported_modules(path)} == {None}


def test_the_check_reads_every_test_module():
    assert TESTS / "test_test_layout.py" in module_paths()
