"""The config's own ``profile_list`` (z2jh's ``singleuser.profileList``) checked as a
settings layer of the operator's, once per list."""

from __future__ import annotations

import json
from typing import Any

from ..settings import Ceilings, document_errors

#: how many valid configured profile lists a hub remembers (a callable may make one per user)
MAX_REMEMBERED_LISTS = 256


class ConfiguredProfilesError(ValueError):
    """The config's ``profile_list`` is not a valid settings layer (the message says why)."""


def check_configured_profiles(
    profiles: list[dict], ceilings: Ceilings, valid: set[str] | None = None
) -> None:
    """Validate the config's profile list as a settings layer of the operator's.

    The profiles' shape (names, slugs, options, choices, defaults, groups) is checked as in
    every layer; the ``kubespawner_override`` values are the operator's own, which may use
    any KubeSpawner key and value as KubeSpawner takes them (``environment`` entries set to
    ``None`` to remove them, for example), and the ceilings are applied to what a spawn
    selects. ``valid`` remembers lists already found valid (by their JSON), so a spawn pays
    for this once per list. Raises :class:`ConfiguredProfilesError`.
    """
    try:
        key = json.dumps(profiles, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        key = None
    if valid is not None and key is not None and key in valid:
        return
    errors = document_errors({"profiles": _without_overrides(profiles)}, ceilings)
    if errors:
        detail = "; ".join(f"{e.path or '/'}: {e.message}" for e in errors[:5])
        raise ConfiguredProfilesError(
            f"The hub's profile_list is not a valid settings layer: {detail}"
        )
    if valid is not None and key is not None:
        if len(valid) >= MAX_REMEMBERED_LISTS:
            valid.clear()  # a callable making ever new lists: start again, never grow
        valid.add(key)


def _without_overrides(value: Any) -> Any:
    """A copy of ``value`` with every ``kubespawner_override`` emptied."""
    if isinstance(value, dict):
        return {
            k: ({} if k == "kubespawner_override" else _without_overrides(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_overrides(v) for v in value]
    return value
