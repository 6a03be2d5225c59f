"""What the hub's spawners tell the health service: the settings version the last spawn used,
whether that was a last-known-good copy (and why), and stored profiles refused at spawn.

One :class:`SpawnReport` per hub, made by ``configure()`` and handed to the spawners with the
hub's options (``ManagedHub.spawn_report``). It writes the file
:mod:`jhub_managed.shared.spawner_report` describes, only when what it says changes, never on
the event loop's hot path for more than a rename.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from typing import Any

from ..shared.spawner_report import report_path

log = logging.getLogger(__name__)

#: most refusals kept
MAX_REFUSALS = 20


class SpawnReport:
    """The report of one hub's spawners, written to its data directory."""

    def __init__(self, data_dir: str):
        self.path = report_path(data_dir)
        self._report: dict[str, Any] = {}

    def __deepcopy__(self, memo: dict) -> SpawnReport:
        # one per hub process: traitlets copies configuration values
        return self

    def note_spawn(self, source: Any, *, profile: str = "", refused: str = "") -> None:
        """Record what a spawn saw: ``source`` is the spawner's settings source; ``refused``
        why the stored ``profile`` was refused (empty when it was not)."""
        version = getattr(getattr(source, "last_read", None), "version", 0)
        error = getattr(source, "last_error", None)
        report = dict(self._report) or {"refusals": []}
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
            refusals.append(
                {"profile": profile, "version": version, "why": refused, "at": time.time()}
            )
            report["refusals"] = refusals[-MAX_REFUSALS:]
        if report != self._report:
            self._write(report)

    def _write(self, report: dict[str, Any]) -> None:
        report = {**report, "written_at": time.time()}
        try:
            directory = os.path.dirname(self.path)
            fd, tmp = tempfile.mkstemp(prefix=".spawner-report-", dir=directory)
            with os.fdopen(fd, "w") as f:
                json.dump(report, f)
            os.replace(tmp, self.path)
        except OSError as e:  # a full disk must not stop a spawn; the disk check will say why
            log.warning("Could not write the spawner report for the health service: %s", e)
            return
        self._report = {k: v for k, v in report.items() if k != "written_at"}
