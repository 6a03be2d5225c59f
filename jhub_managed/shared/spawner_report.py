"""The spawner report's file: where it is and how it is read.

The spawner runs in the hub's process and the health service in its own, beside it (managed
services are the hub's subprocesses), so the hub's spawners write a small JSON file in the
hub's data directory (:class:`jhub_managed.hubside.spawn_report.SpawnReport`) and the
``spawner-settings`` check reads it.
"""

from __future__ import annotations

import json
import os
from typing import Any

FILE_NAME = "jhub-managed-spawner-report.json"


def report_path(data_dir: str) -> str:
    return os.path.join(os.path.abspath(data_dir), FILE_NAME)


def read(path: str) -> dict[str, Any] | None:
    """The report, or ``None`` when no spawn happened since the data directory was made."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
