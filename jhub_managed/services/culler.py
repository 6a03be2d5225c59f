"""Per-profile idle timeouts for jupyterhub-idle-culler.

``configure()`` runs jupyterhub-idle-culler 2.0 as a hub-managed service with
``culler_config.py`` as its config file, which sets :func:`cull_arbiter` as its
``cull_arbiter_hook``: each server is judged by the ``idle_timeout`` of the profile it was
started with (read from its ``user_options``), or the hub's default.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from ..settings.profiles import idle_timeout_for
from ..store.source import SettingsSource
from .base import managed_config

log = logging.getLogger("jhub_managed.culler")
_source: SettingsSource | None = None


def settings_source() -> SettingsSource:
    global _source
    if _source is None:
        config = managed_config()
        _source = SettingsSource(
            config["db_url"],
            operator_defaults=config.get("operator_defaults"),
            hub_values=config.get("hub_values"),
            log=log,
        )
    return _source


def cull_arbiter(
    *, inactive: timedelta, inactive_limit: int, server: dict[str, Any], **kwargs: Any
) -> bool:
    """True when ``server`` has been idle longer than its profile allows."""
    profiles = settings_source().current().profiles
    limit = idle_timeout_for(profiles, server.get("user_options"), inactive_limit)
    return inactive.total_seconds() >= limit
