"""What the spawner tells the health service: the settings version its last spawn used,
whether that was a last-known-good copy (and why), and stored profiles refused at spawn.

The spawner runs in the hub's process and the health service in its own, beside it (managed
services are the hub's subprocesses), so the spawner writes a small JSON file in the hub's
data directory and the ``spawner-settings`` check reads it. The file is written only when
what it says changes, never on the event loop's hot path for more than a rename.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "jhub-managed-spawner-report.json"
#: most refusals kept
MAX_REFUSALS = 20

_path: str | None = None
_report: dict[str, Any] = {}


def configure(data_dir: str | None) -> None:
    """Where the hub's spawners write (set by ``configure()`` in the hub's process);
    ``None``: nowhere (a hub without the health service)."""
    global _path, _report
    _path = os.path.join(os.path.abspath(data_dir), FILE_NAME) if data_dir else None
    _report = {}


def report_path(data_dir: str) -> str:
    return os.path.join(os.path.abspath(data_dir), FILE_NAME)


def note_spawn(source: Any, *, profile: str = "", refused: str = "") -> None:
    """Record what a spawn saw: ``source`` is the spawner's settings source; ``refused`` why
    the stored ``profile`` was refused (empty when it was not)."""
    if _path is None:
        return
    version = getattr(getattr(source, "last_read", None), "version", 0)
    error = getattr(source, "last_error", None)
    report = dict(_report) or {"refusals": []}
    report["version"] = version
    report["fallback"] = error or ""
    if error:
        report["fallback_since"] = getattr(source, "last_error_at", None) or time.time()
    else:
        report.pop("fallback_since", None)
    if refused:
        refusals = [
            r
            for r in report.get("refusals", [])
            if (r["profile"], r["version"]) != (profile, version)
        ]
        refusals.append({"profile": profile, "version": version, "why": refused, "at": time.time()})
        report["refusals"] = refusals[-MAX_REFUSALS:]
    if report != _report:
        _write(report)


def _write(report: dict[str, Any]) -> None:
    global _report
    report = {**report, "written_at": time.time()}
    try:
        directory = os.path.dirname(_path)
        fd, tmp = tempfile.mkstemp(prefix=".spawner-report-", dir=directory)
        with os.fdopen(fd, "w") as f:
            json.dump(report, f)
        os.replace(tmp, _path)
    except OSError as e:  # a full disk must not stop a spawn; the disk check will say why
        log.warning("Could not write the spawner report for the health service: %s", e)
        return
    _report = {k: v for k, v in report.items() if k != "written_at"}


def read(path: str) -> dict[str, Any] | None:
    """The report, or ``None`` when no spawn happened since the data directory was made."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
