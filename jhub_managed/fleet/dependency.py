"""The chart's dependencies as Helm finds them: in the chart's ``charts/`` folder.

``helm dependency build CHART`` fetches each dependency named in ``Chart.yaml`` into
``CHART/charts/`` as ``NAME-VERSION.tgz``; an unpacked ``charts/NAME/`` folder works too.
Helm checks a subchart's values against the subchart's own ``values.schema.json``, over the
subchart's ``values.yaml`` with the parent's values under the dependency's name (or alias)
merged on top, and the parent's ``global`` values beside them. :func:`find_subcharts` reads
the same files the same way, from the archive itself, so that ``fleet validate`` judges the
``jupyterhub:`` values with zero-to-jupyterhub's schema as shipped in its chart.

A dependency that is not there is an error that says how to fetch it; nothing is looked
for anywhere else.
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .fleetfile import FleetError
from .values import ValuesFileError, deep_merge, load_yaml_file

CHARTS = "charts"
#: what operators call a chart, where its name says less
KNOWN_AS = {"jupyterhub": "zero-to-jupyterhub"}
SKIP_FLAG = "--skip-dependency-schema"
_EXACT_VERSION = re.compile(r"^=?\s*v?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)$")


class MissingDependency(FleetError):
    """A dependency of the chart that is not in ``charts/`` (or not the version asked for)."""


@dataclass(frozen=True)
class Dependency:
    """One entry of ``dependencies`` in the chart's ``Chart.yaml``."""

    index: int
    name: str
    version: str = ""
    alias: str = ""

    @property
    def key(self) -> str:
        """Where the parent's values for it are."""
        return self.alias or self.name

    @property
    def known_as(self) -> str:
        return KNOWN_AS.get(self.name, self.name)

    def accepts(self, version: str) -> bool:
        """Whether ``version`` fits the constraint (only an exact one is checked)."""
        exact = _EXACT_VERSION.match(self.version.strip())
        return not exact or exact.group(1) == version.removeprefix("v")


@dataclass
class SubChart:
    """A dependency as found in ``charts/``: its schema and its default values."""

    dependency: Dependency
    source: Path
    version: str
    schema: dict[str, Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.dependency.known_as} {self.version}"

    def values(self, parent: dict[str, Any]) -> dict[str, Any]:
        """The values Helm gives the subchart: its defaults, the parent's on top."""
        mine = parent.get(self.dependency.key)
        combined = deep_merge(self.defaults, mine if isinstance(mine, dict) else {})
        if isinstance(parent.get("global"), dict):
            combined["global"] = deep_merge(combined.get("global") or {}, parent["global"])
        return combined

    def parent_path(self, path: tuple[Any, ...]) -> tuple[Any, ...]:
        """A key path in the subchart's values as a key path in the parent's."""
        if path and path[0] == "global":
            return path
        return (self.dependency.key, *path)


def declared(chart: Path) -> list[Dependency]:
    """The dependencies the chart's ``Chart.yaml`` names."""
    meta_file = chart / "Chart.yaml"
    try:
        meta = load_yaml_file(meta_file)
    except ValuesFileError as e:
        raise FleetError(e.message, file=meta_file) from None
    entries = meta.get("dependencies") or []
    if not isinstance(entries, list):
        raise FleetError("must be a list", file=meta_file, key="dependencies")
    found = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise FleetError("needs a name", file=meta_file, key=f"dependencies[{index}]")
        found.append(
            Dependency(
                index=index,
                name=entry["name"],
                version=str(entry.get("version") or ""),
                alias=str(entry.get("alias") or ""),
            )
        )
    return found


def _archive_files(archive: Path) -> dict[str, bytes]:
    """Chart.yaml, values.yaml and values.schema.json of a chart archive (``NAME/...``)."""
    wanted = {"Chart.yaml", "values.yaml", "values.schema.json"}
    files: dict[str, bytes] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] in wanted and member.isfile():
                handle = tar.extractfile(member)
                if handle is not None:
                    files.setdefault(parts[1], handle.read())
    return files


def _folder_files(folder: Path) -> dict[str, bytes]:
    names = ("Chart.yaml", "values.yaml", "values.schema.json")
    return {name: (folder / name).read_bytes() for name in names if (folder / name).is_file()}


def _parse(files: dict[str, bytes]) -> tuple[dict, dict, dict | None]:
    def mapping(name: str) -> dict[str, Any]:
        data = yaml.safe_load(files[name]) if name in files else {}
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ValueError(f"its {name} is not a mapping")
        return data

    meta, defaults = mapping("Chart.yaml"), mapping("values.yaml")
    schema = json.loads(files["values.schema.json"]) if "values.schema.json" in files else None
    if schema is not None and not isinstance(schema, dict):
        raise ValueError("its values.schema.json is not an object")
    return meta, defaults, schema


def in_charts_folder(chart: Path) -> list[tuple[Path, dict, dict, dict | None]]:
    """Every chart in ``charts/`` as Helm loads them (archives and folders, not hidden
    ones): its source, ``Chart.yaml``, ``values.yaml`` and schema."""
    folder = chart / CHARTS
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name[:1] in "._":
            continue
        try:
            if entry.is_file() and entry.name.endswith(".tgz"):
                files = _archive_files(entry)
            elif entry.is_dir() and (entry / "Chart.yaml").is_file():
                files = _folder_files(entry)
            else:
                continue
            meta, defaults, schema = _parse(files)
        except (OSError, tarfile.TarError, EOFError, ValueError, yaml.YAMLError) as e:
            reason = getattr(e, "strerror", None) or str(e).splitlines()[0]
            raise FleetError(f"can't read this chart: {reason}", file=entry) from None
        found.append((entry, meta, defaults, schema))
    return found


def fetch_hint(chart: Path) -> str:
    return (
        f"fetch it with `helm dependency build {chart}`, or pass {SKIP_FLAG} to go on "
        "without its schema"
    )


def find_subcharts(chart: Path) -> list[SubChart]:
    """Each dependency of ``chart`` from its ``charts/`` folder; :class:`MissingDependency`
    for the first one that is not there, saying how to fetch it."""
    present = in_charts_folder(chart)
    subcharts = []
    for dependency in declared(chart):
        named = [entry for entry in present if entry[1].get("name") == dependency.name]
        fitting = [entry for entry in named if dependency.accepts(str(entry[1].get("version")))]
        where = dict(file=chart / "Chart.yaml", key=f"dependencies[{dependency.index}]")
        wanted = f"{dependency.name} {dependency.version}".strip()
        if not named:
            raise MissingDependency(
                f"the chart's dependency {wanted} ({dependency.known_as}) is not in "
                f"{chart / CHARTS}/: {fetch_hint(chart)}",
                **where,
            )
        if not fitting:
            held = ", ".join(f"{e[1].get('version')} ({e[0].name})" for e in named)
            raise MissingDependency(
                f"the chart's dependency {wanted} ({dependency.known_as}): {chart / CHARTS}/ "
                f"holds {dependency.name} {held} instead: {fetch_hint(chart)}",
                **where,
            )
        source, meta, defaults, schema = fitting[0]
        subcharts.append(
            SubChart(
                dependency=dependency,
                source=source,
                version=str(meta.get("version", "")),
                schema=schema,
                defaults=defaults,
            )
        )
    return subcharts
