"""Layered resolution of the settings document.

Three layers, later ones win: the operator's fleet-wide defaults, the hub's own values (from
its deployment), and the hub admins' edits (the latest stored version). Mappings merge key by
key; any other value, lists included, is replaced whole by the later layer, so a hub admin's
``profiles`` list is the list, not an addition to the operator's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two mappings: keys of ``override`` win, nested mappings merge."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_layers(layers: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Merge settings layers from lowest to highest priority; ``None`` layers are skipped."""
    resolved: dict[str, Any] = {}
    for layer in layers:
        if layer:
            resolved = merge(resolved, layer)
    resolved.setdefault("profiles", [])
    return resolved
