"""Keys of a profile list that neither KubeSpawner nor the suite reads.

Spawn-page extensions (jupyterhub-fancy-profiles, for one) read keys of their own from the
``profile_list`` they are given: ``slug`` on a choice, ``dynamic_image_building`` on a
profile option, ``description`` and ``description_in_choices`` on an unlisted choice, and
others to come. KubeSpawner ignores them; the operator's layers keep them as they are (stored,
served by the settings API, given to the spawn page). The hub names them once when it starts,
so that a typo among them does not pass unseen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .schema import SETTINGS_SCHEMA
from .schema_views import DESCRIPTIVE_KEYS, profile_list_entries

#: the keys KubeSpawner or the suite reads, by entry
READ_KEYS = {
    name: frozenset(entry["properties"]) - DESCRIPTIVE_KEYS[name]
    for name, entry in profile_list_entries(SETTINGS_SCHEMA).items()
}


def unknown_keys(profiles: Any) -> dict[str, list[str]]:
    """The keys of ``profiles`` that neither KubeSpawner nor the suite reads, each once, by
    entry (``profile``, ``profile option``, ``choice``, ``unlisted choice``)."""
    found: dict[str, set[str]] = {name: set() for name in READ_KEYS}

    def note(name: str, entry: Any) -> None:
        if isinstance(entry, Mapping):
            found[name].update(str(k) for k in entry if k not in READ_KEYS[name])

    for profile in _mappings(profiles):
        note("profile", profile)
        for option in _mappings(profile.get("profile_options")):
            note("profile option", option)
            for choice in _mappings(option.get("choices")):
                note("choice", choice)
            note("unlisted choice", option.get("unlisted_choice"))
    return {name: sorted(keys) for name, keys in found.items() if keys}


def _mappings(value: Any) -> Iterable[Mapping]:
    items = value.values() if isinstance(value, Mapping) else value
    if not isinstance(items, Iterable) or isinstance(items, str | bytes):
        return []
    return [item for item in items if isinstance(item, Mapping)]


def unknown_keys_message(keys: Mapping[str, list[str]]) -> str:
    """``{"choice": ["slug"]}`` -> a sentence for the hub's log."""
    listed = "; ".join(f"{name}: {', '.join(names)}" for name, names in keys.items())
    return (
        "The profile list has keys KubeSpawner does not read, kept as they are for spawn-page "
        f"extensions (check them for typos): {listed}"
    )
