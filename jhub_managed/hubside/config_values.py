"""Reading and merging values a hub's configuration may already hold."""

from __future__ import annotations

from typing import Any

from traitlets.config import Config
from traitlets.config.loader import LazyConfigValue


def configured(section: Config, name: str, empty: list | dict) -> Any:
    """A copy of the list or dict ``section.name`` holds, however it was set: assigned, or
    with ``.append()``, ``.extend()`` or ``.update()`` before the option had a value (as
    zero-to-jupyterhub's ``jupyterhub_config.py`` adds ``hub.services`` and
    ``hub.loadRoles``), which traitlets keeps as a ``LazyConfigValue`` until the hub reads it."""
    value = section.get(name, empty)
    if isinstance(value, LazyConfigValue):
        value = value.get_value(type(empty)())
    return type(empty)(value or empty)


def add_template_vars(c: Config, values: dict[str, Any]) -> None:
    """Add ``values`` to ``c.JupyterHub.template_vars``, keeping what is there."""
    tvars = configured(c.JupyterHub, "template_vars", {})
    tvars.update(values)
    c.JupyterHub.template_vars = tvars


def merge_roles(existing: list[dict], ours: list[dict]) -> list[dict]:
    by_name = {role["name"]: dict(role) for role in existing}
    for role in ours:
        if role["name"] in by_name:
            merged = by_name[role["name"]]
            for key in ("scopes", "users", "groups", "services"):
                if key in role:
                    merged[key] = sorted(set(merged.get(key, [])) | set(role[key]))
        else:
            by_name[role["name"]] = role
    return list(by_name.values())
