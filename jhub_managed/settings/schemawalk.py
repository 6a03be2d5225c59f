"""Walking a JSON Schema: the schemas inside a schema, and the schemas along a path.

One walk serves every reader of a schema: the settings schema's derived views
(:mod:`.schema`), the order and words of validation errors (:mod:`.validate`) and the
reference documentation's tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

#: keywords whose value is one schema
_ONE = ("items", "additionalProperties", "propertyNames", "contains", "not")
#: keywords whose value is a list of schemas
_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")
#: keywords whose value maps names to schemas
_MAPPING = ("properties", "patternProperties", "$defs")


def subschemas(schema: Any) -> Iterator[tuple[str, Any, dict]]:
    """The schemas directly inside ``schema``, as ``(keyword, key, subschema)``: a
    property's schema with its name, an ``anyOf`` entry with its index, ``items`` or
    ``additionalProperties`` (where they are schemas, not ``true``/``false``) with ``None``.
    Properties come first, then the lists, then the single schemas, each in the schema's
    order."""
    if not isinstance(schema, dict):
        return
    for keyword in _MAPPING:
        mapping = schema.get(keyword)
        if isinstance(mapping, dict):
            for key, sub in mapping.items():
                if isinstance(sub, dict):
                    yield keyword, key, sub
    for keyword in _LIST:
        for index, sub in enumerate(schema.get(keyword) or ()):
            if isinstance(sub, dict):
                yield keyword, index, sub
    for keyword in _ONE:
        sub = schema.get(keyword)
        if isinstance(sub, dict):
            yield keyword, None, sub


def walk(schema: Any) -> Iterator[dict]:
    """``schema`` and every schema inside it, depth first in the schema's order; a schema
    object used at several places (one dict shared) comes once, at its first place."""
    seen: set[int] = set()
    stack = [schema] if isinstance(schema, dict) else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(reversed([sub for _, _, sub in subschemas(node)]))


def along(schema: Any, path: Iterable[Any]) -> Iterator[tuple[Any, Any, Any]]:
    """Each step of ``path`` (a validator's schema path) through ``schema``, as ``(node,
    part, node[part])``; stops where the path leaves the schema."""
    node = schema
    for part in path:
        try:
            child = node[part]
        except (KeyError, IndexError, TypeError):
            return
        yield node, part, child
        node = child


def at(schema: Any, path: Iterable[Any]) -> Any:
    """What ``path`` names in ``schema`` (``schema`` itself for an empty path; ``None``
    where the path leaves the schema)."""
    steps = list(path)
    taken = list(along(schema, steps))
    if len(taken) < len(steps):
        return None
    return taken[-1][2] if taken else schema
