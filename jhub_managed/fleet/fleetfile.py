"""The fleet file: the chart, the common values and one entry per hub.

.. code-block:: yaml

    chart: ../jhub-managed            # relative to this file
    common: [common.values.yaml]      # every hub gets these first
    hubs:
      - name: physics-course          # Helm release and Kubernetes namespace
        url: https://physics.example.org
        values: [hubs/physics-course.values.yaml]
        token_env: PHYSICS_COURSE_TOKEN   # operator's API token, from the environment

Paths are relative to the fleet file. A hub's values are the chart's ``values.yaml``, then
the common files, then its own files, merged as Helm merges them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from .values import MergedValues, ValuesFileError, key_path, load_yaml_file, merge_files

_NAME = r"^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$"
FLEET_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "required": ["chart", "hubs"],
    "properties": {
        "chart": {"type": "string", "minLength": 1, "description": "the chart's directory"},
        "common": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "hubs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "url", "values"],
                "properties": {
                    "name": {
                        "type": "string",
                        "pattern": _NAME,
                        "description": "Helm release and namespace (at most 53 characters)",
                    },
                    "url": {"type": "string", "pattern": r"^https?://[^/\s]+(/\S*)?$"},
                    "values": {"type": "array", "items": {"type": "string", "minLength": 1}},
                    "token_env": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                    "namespace": {"type": "string", "pattern": _NAME},
                },
            },
        },
    },
}


class FleetError(Exception):
    """Something wrong with the fleet, said as ``hub: file: key: message``."""

    def __init__(self, message: str, *, hub: str = "", file: Path | str = "", key: str = ""):
        self.hub = hub
        self.file = str(file) if file else ""
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [part for part in (self.hub and f"hub {self.hub}", self.file, self.key) if part]
        return ": ".join([*where, self.message])


@dataclass
class Hub:
    name: str
    url: str
    values: list[Path]
    token_env: str = ""
    namespace: str = ""

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/") + "/"

    def token(self) -> str:
        return os.environ.get(self.token_env, "") if self.token_env else ""


@dataclass
class Fleet:
    file: Path
    chart: Path
    common: list[Path]
    hubs: list[Hub] = field(default_factory=list)

    @property
    def chart_values(self) -> Path:
        return self.chart / "values.yaml"

    def value_files(self, hub: Hub) -> list[Path]:
        files = [*self.common, *hub.values]
        if self.chart_values.is_file():
            files.insert(0, self.chart_values)
        return files

    def merged(self, hub: Hub) -> MergedValues:
        try:
            return merge_files(self.value_files(hub))
        except ValuesFileError as e:
            raise FleetError(e.message, hub=hub.name, file=e.file) from None

    def select(self, names: Iterable[str] | None) -> list[Hub]:
        names = list(names or [])
        if not names:
            return list(self.hubs)
        known = {hub.name: hub for hub in self.hubs}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise FleetError(
                f"no hub named {unknown[0]!r} in the fleet; hubs are: {', '.join(known)}",
                file=self.file,
            )
        return [known[name] for name in dict.fromkeys(names)]


def load_fleet(file: str | os.PathLike) -> Fleet:
    path = Path(file)
    try:
        data = load_yaml_file(path)
    except ValuesFileError as e:
        raise FleetError(e.message, file=e.file) from None
    validator = jsonschema.Draft7Validator(FLEET_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        hub = ""
        parts = list(error.absolute_path)
        parts += unknown_keys(error)[:1]
        if len(parts) >= 2 and parts[0] == "hubs" and isinstance(parts[1], int):
            entry = data["hubs"][parts[1]]
            hub = entry.get("name", "") if isinstance(entry, dict) else ""
        raise FleetError(
            _schema_message(error), hub=str(hub), file=path, key=key_path(parts) or "(top)"
        )
    base = path.parent
    chart = (base / data["chart"]).resolve()
    if not (chart / "Chart.yaml").is_file():
        raise FleetError(f"no chart at {chart} (no Chart.yaml)", file=path, key="chart")
    fleet = Fleet(
        file=path,
        chart=chart,
        common=[(base / f) for f in data.get("common") or []],
        hubs=[],
    )
    seen: set[str] = set()
    for index, entry in enumerate(data["hubs"]):
        name = entry["name"]
        if name in seen:
            raise FleetError(
                "a second hub with this name", hub=name, file=path, key=f"hubs[{index}].name"
            )
        seen.add(name)
        fleet.hubs.append(
            Hub(
                name=name,
                url=entry["url"],
                values=[(base / f) for f in entry["values"]],
                token_env=entry.get("token_env", ""),
                namespace=entry.get("namespace") or name,
            )
        )
    return fleet


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        extra = unknown_keys(error)
        return f"unknown key {extra[0]!r}" if extra else error.message
    if error.validator == "pattern":
        return f"{error.instance!r} is not allowed here (must match {error.schema['pattern']})"
    return error.message


def unknown_keys(error: jsonschema.ValidationError) -> list[str]:
    """The keys an ``additionalProperties`` error is about, sorted (none for other errors)."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    known = set(error.schema.get("properties", {}))
    patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
    return sorted(
        key
        for key in error.instance
        if key not in known and not any(p.search(key) for p in patterns)
    )
