"""Values files merged as Helm merges them, remembering which file set each key.

Helm gives a release its values files in order: mappings are merged key by key, anything
else (lists too) is replaced whole by the later file, and ``null`` removes a key. An error
found in the merged values is worth little unless it says which file to fix, so the merge
keeps, for every key path, the file that last set it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[Any, ...]


class ValuesFileError(Exception):
    """A values file that can't be read or is not a YAML mapping."""

    def __init__(self, file: Path, message: str):
        super().__init__(f"{file}: {message}")
        self.file = file
        self.message = message


def key_path(parts: Iterable[Any]) -> str:
    """``("jupyterhub", "hub", "extraEnv", 0)`` -> ``jupyterhub.hub.extraEnv[0]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if not text or any(c in text for c in ".[] "):
                out += f"[{text!r}]"
            else:
                out += ("." if out else "") + text
    return out


def load_yaml_file(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text()
    except OSError as e:
        raise ValuesFileError(file, f"can't read it ({e.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ValuesFileError(file, f"not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValuesFileError(file, f"must be a mapping of values, not a {type(data).__name__}")
    return data


@dataclass
class MergedValues:
    """The merged values and, per key path, the file that set it."""

    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[Path_, Path] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def add(self, data: dict[str, Any], file: Path) -> None:
        self.files.append(file)
        self.values = self._merge(self.values, data, file, ())

    def _merge(self, base: Any, new: Any, file: Path, path: Path_) -> Any:
        if isinstance(base, dict) and isinstance(new, dict):
            out = dict(base)
            for key, value in new.items():
                sub = (*path, key)
                if value is None:
                    out.pop(key, None)
                    self._forget(sub)
                    continue
                out[key] = self._merge(base.get(key), value, file, sub)
            self.origins[path] = self.origins.get(path, file)
            return out
        self._forget(path)
        self._mark(new, file, path)
        return new

    def _forget(self, path: Path_) -> None:
        for known in [p for p in self.origins if p[: len(path)] == path]:
            del self.origins[known]

    def _mark(self, value: Any, file: Path, path: Path_) -> None:
        self.origins[path] = file
        if isinstance(value, dict):
            for key, sub in value.items():
                self._mark(sub, file, (*path, key))
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                self._mark(sub, file, (*path, index))

    def origin(self, path: Iterable[Any]) -> Path | None:
        """The file that set ``path`` (or the nearest key above it that a file set)."""
        path = tuple(path)
        while True:
            if path in self.origins:
                return self.origins[path]
            if not path:
                return self.files[-1] if self.files else None
            path = path[:-1]

    def get(self, *path: Any, default: Any = None) -> Any:
        value: Any = self.values
        for part in path:
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and isinstance(part, int) and part < len(value):
                value = value[part]
            else:
                return default
        return value


def merge_files(files: Iterable[Path]) -> MergedValues:
    merged = MergedValues()
    for file in files:
        merged.add(load_yaml_file(file), file)
    return merged


def deep_merge(base: Any, new: Any) -> Any:
    """Helm's merge of two values trees, without the bookkeeping."""
    if isinstance(base, dict) and isinstance(new, dict):
        out = dict(base)
        for key, value in new.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = deep_merge(base.get(key), value)
        return out
    return new


def dump(values: Any) -> str:
    return yaml.safe_dump(values, sort_keys=True, default_flow_style=False, allow_unicode=True)
