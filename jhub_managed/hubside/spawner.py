"""``configure()``'s steps for the spawner: the class, the hub's settings snapshot handed to
it, the home volumes, and a ``profile_list`` the configuration already has."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from traitlets.config import Config
from traitlets.config.loader import LazyConfigValue

from ..options.errors import ConfigureError
from ..options.general import SPAWNERS
from ..settings import Ceilings
from ..settings.validate import ceiling_errors
from ..store.source import SettingsSnapshot

if TYPE_CHECKING:
    from ..options.managedhub import ManagedHub


def wire_spawner(c: Config, hub: ManagedHub, snapshot: SettingsSnapshot) -> None:
    """The managed spawner class (when asked for), the objects every managed spawner reads,
    and the users' home volumes."""
    if hub.spawner:
        c.JupyterHub.spawner_class = SPAWNERS[hub.spawner]
    for cls in ("ManagedKubeSpawner", "ManagedLocalSpawner"):
        section = c[cls]
        section.settings_snapshot = snapshot
        # the spawners read this same object: the options are declared and checked once
        section.managed_hub = hub
    if hub.home_storage:
        home = hub.home_storage
        c.KubeSpawner.storage_pvc_ensure = True
        c.KubeSpawner.storage_capacity = home["capacity"]
        if home.get("storage_class"):
            c.KubeSpawner.storage_class = home["storage_class"]
        c.KubeSpawner.volumes = {
            "jhm-home": {"name": "jhm-home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
        }
        c.KubeSpawner.volume_mounts = {
            "jhm-home": {"name": "jhm-home", "mountPath": home.get("mount_path", "/home/jovyan")}
        }


#: where a z2jh hub's configuration sets its profiles (``singleuser.profileList``)
PROFILE_LIST_SECTIONS = ("KubeSpawner", "ManagedKubeSpawner")


def adopt_config_profile_list(c: Config, hub: ManagedHub) -> None:
    """A ``profile_list`` already in the config (a list or a dict, as z2jh writes
    ``singleuser.profileList``) is the hub's starting profiles when ``hub_values`` has none:
    validated now, at hub start, and put in ``hub_values``, so the settings service shows
    and edits on top of what users are offered. A callable ``profile_list`` can only be
    called by a spawner: it is read and validated at each spawn instead."""
    if hub.hub_values.get("profiles") or hub.spawner == "local":
        return
    for section in reversed(PROFILE_LIST_SECTIONS):  # the managed class's own wins
        if section not in c or "profile_list" not in c[section]:
            continue
        value = c[section].profile_list
        if isinstance(value, LazyConfigValue):  # profile_list.append(...) on no value yet
            value = value.get_value([])
        if callable(value):
            return
        from ..spawner.kube import initialized_profiles
        from ..spawner.mixin import ConfiguredProfilesError, check_configured_profiles

        try:
            profiles = initialized_profiles(value)
        except (KeyError, TypeError, AttributeError) as e:
            raise ConfigureError(f"c.{section}.profile_list: not a profile list ({e})") from None
        if not profiles:
            if value and not isinstance(value, (list, dict)):
                raise ConfigureError(
                    f"c.{section}.profile_list: not a profile list (a list of profiles, "
                    f"a dict of them or a callable; got {type(value).__name__})"
                )
            return
        try:
            json.dumps(profiles)
        except (TypeError, ValueError):
            return  # callables among the overrides: a spawner reads them at each spawn
        ceilings = Ceilings.from_config(hub.ceilings)
        try:
            check_configured_profiles(profiles, ceilings)
        except ConfiguredProfilesError as e:
            raise ConfigureError(f"c.{section}.profile_list: {e}") from None
        # a profile over the ceilings would be refused at every spawn: say so now
        over = ceiling_errors({"profiles": profiles}, ceilings)
        if over:
            detail = "; ".join(f"{e.path}: {e.message}" for e in over[:5])
            raise ConfigureError(f"c.{section}.profile_list is over the ceilings: {detail}")
        hub.hub_values = {**hub.hub_values, "profiles": profiles}
        return
