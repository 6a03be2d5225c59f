"""``configure()``'s step for what the hub's process does for the health service: the
spawner report its spawners write, and the notice on the hub's pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from traitlets.config import Config

from ..store.source import SettingsSnapshot
from .config_values import add_template_vars
from .health_notice import HealthNotice
from .spawn_report import SpawnReport

if TYPE_CHECKING:
    from ..options.managedhub import ManagedHub


def wire_health(c: Config, hub: ManagedHub, snapshot: SettingsSnapshot) -> None:
    """With the health service: the hub's spawner report (handed to the spawners with the
    options) and, unless ``health_notice`` is off, the notice's template variable."""
    if "health" not in hub.services:
        hub.spawn_report = None
        return
    hub.spawn_report = SpawnReport(hub.data_dir)
    if not hub.health_notice:
        return
    health = next((s for s in c.JupyterHub.services if s["name"] == "health"), None)
    if health is None:
        return
    notice = HealthNotice(
        url=health["url"],
        base_url=c.JupyterHub.get("base_url", "/") or "/",
        interval=hub.health_interval,
        settings=snapshot,
    )
    add_template_vars(c, {"jhm_health_notice": notice})
