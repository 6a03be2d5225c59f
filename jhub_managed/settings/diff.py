"""What changed between two settings documents, in words a hub admin reads.

Profiles are matched by slug, so moving a profile shows as a new order rather than as every
profile changed; options and choices are matched by key. Other mappings are compared key by
key; any other value (lists such as ``allowed_groups`` included) is compared whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: names of settings keys as the settings pages call them
FIELD_NAMES = {
    "profiles": "Profiles",
    "display_name": "Name",
    "slug": "Slug",
    "description": "Description",
    "default": "Default",
    "allowed_groups": "Allowed groups",
    "idle_timeout": "Idle timeout (seconds)",
    "kubespawner_override": "Spawner settings",
    "image": "Image",
    "cpu_guarantee": "CPU guarantee",
    "cpu_limit": "CPU limit",
    "mem_guarantee": "Memory guarantee",
    "mem_limit": "Memory limit",
    "extra_resource_limits": "Extra resource limits",
    "extra_resource_guarantees": "Extra resource guarantees",
    "node_selector": "Node selector",
    "environment": "Environment",
    "default_url": "Default URL",
    "profile_options": "Options",
    "choices": "Choices",
    "unlisted_choice": "Free-text choice",
    "enabled": "Enabled",
    "display_name_in_choices": "Name in the list",
    "validation_regex": "Pattern",
    "validation_message": "Message when it does not match",
    "announcement": "Announcement",
    "text": "Text",
    "level": "Level",
    "starts_at": "Starts",
    "expires_at": "Expires",
    "show_on": "Shown on",
    "branding": "Branding",
    "organization_name": "Organization name",
    "organization_url": "Organization URL",
    "logo_url": "Logo URL",
    "funded_by": "Funded by",
    "contact": "Contact",
}


@dataclass(frozen=True)
class Change:
    """One difference. ``path`` names keys (profiles by slug); ``labels`` says it in words."""

    path: tuple[str, ...]
    labels: tuple[str, ...]
    #: ``added``, ``removed``, ``changed`` or ``reordered``
    kind: str
    old: Any = None
    new: Any = None

    @property
    def label(self) -> str:
        return " \u203a ".join(self.labels)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": list(self.path),
            "label": self.label,
            "kind": self.kind,
            "old": self.old,
            "new": self.new,
        }


def _named(kind: str, key: str, value: Any) -> str:
    name = value.get("display_name") if isinstance(value, Mapping) else None
    return f"{kind} '{name}'" if name and name != key else f"{kind} '{key}'"


def _label_for(parent: tuple[str, ...], key: str, old: Any, new: Any) -> str:
    """The words for ``key`` under ``parent`` (a tuple of the keys above it)."""
    value = new if new is not None else old
    if parent[-1:] == ("profile_options",):
        return _named("Option", key, value)
    if len(parent) >= 3 and parent[-1] == "choices" and parent[-3] == "profile_options":
        return _named("Choice", key, value)
    return FIELD_NAMES.get(key, key)


def _diff_mappings(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    path: tuple[str, ...],
    labels: tuple[str, ...],
    out: list[Change],
) -> None:
    # a key set to nothing (null or "") is the same as no key: no "added —" rows
    old = {k: v for k, v in old.items() if not _nothing(v)}
    new = {k: v for k, v in new.items() if not _nothing(v)}
    keys = list(old) + [k for k in new if k not in old]
    for key in keys:
        o, n = old.get(key), new.get(key)
        sub_path = (*path, str(key))
        sub_labels = (*labels, _label_for(path, str(key), o, n))
        if _named_entries(path, str(key)) and (isinstance(o, Mapping) or isinstance(n, Mapping)):
            # an option or choice added or removed shows as its own entries, by name
            _diff_mappings(
                o if isinstance(o, Mapping) else {},
                n if isinstance(n, Mapping) else {},
                sub_path,
                sub_labels,
                out,
            )
            _note_non_mapping(o, n, sub_path, sub_labels, out)
        elif key not in new:
            out.append(Change(sub_path, sub_labels, "removed", o, None))
        elif key not in old:
            out.append(Change(sub_path, sub_labels, "added", None, n))
        elif isinstance(o, Mapping) and isinstance(n, Mapping):
            _diff_mappings(o, n, sub_path, sub_labels, out)
        elif o != n or type(o) is not type(n):
            out.append(Change(sub_path, sub_labels, "changed", o, n))


def _nothing(value: Any) -> bool:
    return value is None or value == ""


def _named_entries(parent: tuple[str, ...], key: str) -> bool:
    """Whether ``key`` holds entries users know by name: options, an option, choices."""
    return key in ("profile_options", "choices") or parent[-1:] == ("profile_options",)


def _note_non_mapping(o: Any, n: Any, path, labels, out: list[Change]) -> None:
    """A side that was not a mapping at all (absent is fine) is shown whole."""
    if o is not None and not isinstance(o, Mapping):
        out.append(Change(path, labels, "changed", o, n))
    elif n is not None and not isinstance(n, Mapping):
        out.append(Change(path, labels, "changed", o, n))


def _by_slug(profiles: Any) -> dict[str, Mapping] | None:
    if not isinstance(profiles, list):
        return None
    result: dict[str, Mapping] = {}
    for profile in profiles:
        slug = profile.get("slug") if isinstance(profile, Mapping) else None
        if not isinstance(slug, str) or slug in result:
            return None  # not matchable by slug: compare as a whole
        result[slug] = profile
    return result


def _profile_label(profile: Mapping) -> str:
    return f"Profile '{profile.get('display_name') or profile.get('slug')}'"


def diff_documents(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Change]:
    """The changes that turn settings document ``old`` into ``new``, in document order."""
    old, new = dict(old or {}), dict(new or {})
    changes: list[Change] = []
    old_profiles, new_profiles = (
        _by_slug(old.get("profiles", [])),
        _by_slug(new.get("profiles", [])),
    )
    if old_profiles is not None and new_profiles is not None:
        for slug in [*old_profiles, *[s for s in new_profiles if s not in old_profiles]]:
            o, n = old_profiles.get(slug), new_profiles.get(slug)
            path = ("profiles", slug)
            labels = ("Profiles", _profile_label(n or o))
            if n is None:
                changes.append(Change(path, labels, "removed", o, None))
            elif o is None:
                changes.append(Change(path, labels, "added", None, n))
            else:
                _diff_mappings(o, n, path, labels, changes)
        old_order = [s for s in old_profiles if s in new_profiles]
        new_order = [s for s in new_profiles if s in old_profiles]
        if old_order != new_order:
            changes.append(
                Change(
                    ("profiles",),
                    ("Profiles", "Order"),
                    "reordered",
                    [old_profiles[s].get("display_name") or s for s in old_order],
                    [new_profiles[s].get("display_name") or s for s in new_order],
                )
            )
        old = {k: v for k, v in old.items() if k != "profiles"}
        new = {k: v for k, v in new.items() if k != "profiles"}
    _diff_mappings(old, new, (), (), changes)
    return changes


def describe_value(value: Any) -> str:
    """A value as a short text for a diff: lists joined, mappings as JSON, none as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value if value else "(empty)"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
