"""Shared test set-up. Fixtures live in tests/fixtures/, one module per real part."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the real configurable-http-proxy, installed by `make` into the venv
_CHP_BIN = Path(sys.prefix) / "node" / "node_modules" / ".bin"
if _CHP_BIN.is_dir():
    os.environ["PATH"] = f"{_CHP_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
# the venv's own scripts (jupyterhub-singleuser, ...) for processes the tests start
_VENV_BIN = Path(sys.executable).parent
os.environ["PATH"] = f"{_VENV_BIN}{os.pathsep}{os.environ['PATH']}"

# pytest-jupyterhub registers itself (hub_app, configured_mockhub_instance);
# our own fixtures are added here as their modules arrive
pytest_plugins: list[str] = [
    "tests.fixtures.db",
    "tests.fixtures.browser",
    "tests.fixtures.demo",
    "tests.fixtures.hub",
    "tests.fixtures.kube",
    "tests.fixtures.idp",
    "tests.fixtures.fleet",
    "tests.fixtures.previous_release",
]
