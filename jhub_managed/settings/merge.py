"""Edits of the settings document: the three-way merge of a save over someone else's
change, and the changes to the profile list the profile page makes. Pure functions."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

_MISSING = object()


def three_way(base: Any, mine: Any, theirs: Any) -> tuple[Any, list[tuple[str, ...]]]:
    """Merge my edit of ``base`` with theirs: what I changed wins, what I left alone takes
    their value. Mappings merge key by key (an absent key is a value too); anything else is
    compared whole. Also answers the paths both of us changed, differently (mine is kept).
    """
    clashes: list[tuple[str, ...]] = []
    merged = _merge3(base, mine, theirs, (), clashes)
    return (None if merged is _MISSING else merged), clashes


def _merge3(base: Any, mine: Any, theirs: Any, path: tuple[str, ...], clashes: list) -> Any:
    if isinstance(mine, Mapping) and isinstance(theirs, Mapping):
        base_map = base if isinstance(base, Mapping) else {}
        merged = {}
        for key in [*mine, *[k for k in theirs if k not in mine]]:
            value = _merge3(
                base_map.get(key, _MISSING),
                mine.get(key, _MISSING),
                theirs.get(key, _MISSING),
                (*path, str(key)),
                clashes,
            )
            if value is not _MISSING:
                merged[key] = value
        return merged
    if mine == base:
        return theirs
    if theirs == base or theirs == mine:
        return mine
    clashes.append(path)
    return mine


class ProfileNotFound(LookupError):
    pass


def _index(profiles: list[dict], slug: str) -> int:
    for index, profile in enumerate(profiles):
        if profile.get("slug") == slug:
            return index
    raise ProfileNotFound(slug)


def put_profile(
    profiles: list[dict], profile: dict, original_slug: str | None
) -> tuple[list[dict], int]:
    """The list with ``profile`` in place of ``original_slug`` (or added at the end) and
    its index. A profile marked default takes the mark from every other one."""
    result = copy.deepcopy(profiles)
    try:
        index = _index(result, original_slug) if original_slug else -1
    except ProfileNotFound:
        index = -1
    if index < 0:
        result.append(profile)
        index = len(result) - 1
    else:
        result[index] = profile
    if profile.get("default"):
        for i, other in enumerate(result):
            if i != index:
                other.pop("default", None)
    return result, index


def move_profile(profiles: list[dict], slug: str, delta: int) -> list[dict]:
    result = copy.deepcopy(profiles)
    index = _index(result, slug)
    target = max(0, min(len(result) - 1, index + delta))
    result.insert(target, result.pop(index))
    return result


def make_default(profiles: list[dict], slug: str) -> list[dict]:
    result = copy.deepcopy(profiles)
    index = _index(result, slug)
    for i, profile in enumerate(result):
        if i == index:
            profile["default"] = True
        else:
            profile.pop("default", None)
    return result


def delete_profile(profiles: list[dict], slug: str) -> list[dict]:
    result = copy.deepcopy(profiles)
    result.pop(_index(result, slug))
    return result
