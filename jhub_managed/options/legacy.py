"""The suite's options a managed spawner class took itself before they were ManagedHub's
alone (``c.ManagedKubeSpawner.ceilings``, ``settings_db_url``, ...): still adopted from a
hub's configuration, with a warning. Deprecated."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from traitlets.config import Config
from traitlets.config.loader import LazyConfigValue

from .errors import ConfigureError, validated

if TYPE_CHECKING:
    from .managedhub import ManagedHub

#: spawner option -> ManagedHub option
SPAWNER_LEGACY_OPTIONS = {
    "settings_db_url": "db_url",
    "hub_name": "hub_name",
    "operator_defaults": "operator_defaults",
    "hub_values": "hub_values",
    "ceilings": "ceilings",
    "hub_admin_override_keys": "hub_admin_override_keys",
    "shared_storage": "shared_storage",
}
#: where a hub's configuration may have set them
SPAWNER_SECTIONS = ("ManagedSpawnerMixin", "ManagedKubeSpawner", "ManagedLocalSpawner")


def legacy_spawner_options(c: Config, sections: Iterable[str]) -> dict[str, tuple[str, Any]]:
    """The suite's options set on spawner classes (``c.ManagedKubeSpawner.ceilings``), by
    ManagedHub option: where each was set and its value (a later section wins)."""
    found: dict[str, tuple[str, Any]] = {}
    for section in sections:
        if section not in c:
            continue
        for name, option in SPAWNER_LEGACY_OPTIONS.items():
            if name in c[section]:
                found[option] = (f"c.{section}.{name}", c[section][name])
    return found


def adopt_spawner_options(c: Config, hub: ManagedHub, given: set[str]) -> None:
    """The suite's options set on a managed spawner class (``c.ManagedKubeSpawner.ceilings``)
    become the hub's: checked now, at hub start, and used by the services too. Taken from the
    spawner's section, so that spawners read them from the hub's one set of options."""
    log = logging.getLogger("JupyterHub")
    for section in SPAWNER_SECTIONS:
        if section not in c:
            continue
        for name, option in SPAWNER_LEGACY_OPTIONS.items():
            if name not in c[section]:
                continue
            where = f"c.{section}.{name}"
            value = c[section].pop(name)
            if isinstance(value, LazyConfigValue):  # .update() or .append() on no value yet
                value = value.get_value(getattr(hub, option))
            if option in given:
                if value != getattr(hub, option):
                    raise ConfigureError(
                        f"{where} and configure({option}=...) differ: set the {option} once, "
                        "with configure()"
                    )
                continue
            validated(where, lambda option=option, value=value: setattr(hub, option, value))
            given.add(option)
            log.warning("%s is deprecated: set %s with configure() instead", where, option)
