"""Layered resolution of the settings document.

Three layers, later ones win: the operator's fleet-wide defaults, the hub's own values (from
its deployment), and the hub admins' edits (the latest stored version). Mappings merge key by
key; any other value, lists included, is replaced whole by the later layer, so a hub admin's
``profiles`` list is the list, not an addition to the operator's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from slugify import slugify


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two mappings: keys of ``override`` win, nested mappings merge.

    The result shares the values it takes whole with ``base`` and ``override``;
    :func:`resolve_layers` copies once, at the end.
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def json_copy(value: Any) -> Any:
    """A copy of a JSON-like value: mappings become new dicts and lists new lists, all the
    way down; anything else (text, numbers) is immutable and kept. Twice as fast as
    ``copy.deepcopy``, which the settings' size makes worth it."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, dict | Mapping):  # a dict first: the abstract check is slower
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_copy(item) for item in value]
    return value


def resolve_layers(layers: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Merge settings layers from lowest to highest priority; ``None`` layers are skipped.

    The result is the caller's own: changing it changes no layer."""
    resolved: dict[str, Any] = {}
    for layer in layers:
        if layer:
            resolved = merge(resolved, layer)
    resolved = json_copy(resolved)
    resolved.setdefault("profiles", [])
    return resolved


def operator_layer(layer: Mapping[str, Any] | None) -> dict[str, Any]:
    """An operator's layer with its profiles filled in as KubeSpawner fills them in: a
    profile without a ``slug`` gets the one KubeSpawner derives from its display name (with
    the same function, however long the name). Nothing else changes; the layer given is
    left as it is."""
    layer = dict(layer or {})
    profiles = layer.get("profiles")
    if isinstance(profiles, list):
        layer["profiles"] = [
            {**p, "slug": slugify(p["display_name"])}
            if isinstance(p, Mapping) and "slug" not in p and isinstance(p.get("display_name"), str)
            else p
            for p in profiles
        ]
    return layer
