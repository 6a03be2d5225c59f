"""Per-profile idle timeouts for jupyterhub-idle-culler.

``configure()`` runs jupyterhub-idle-culler 2.0 as a hub-managed service with
``culler_config.py`` as its config file, which sets the arbiter made by
:func:`make_cull_arbiter` as its ``cull_arbiter_hook``: each server is judged by the
``idle_timeout`` of the profile it was started with (read from its ``user_options``), or the
hub's default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ..options.managedhub import ManagedHub
from ..settings.profiles import idle_timeout_for
from ..store.source import SettingsSource

log = logging.getLogger("jhub_managed.culler")

Arbiter = Callable[..., bool]


def source_from_environment() -> SettingsSource:
    """The hub's settings, as the hub hands them to its services (``$JHUB_MANAGED_CONFIG``)."""
    hub = ManagedHub.from_environment()
    return SettingsSource.for_hub(hub, log=log)


def make_cull_arbiter(source: SettingsSource) -> Arbiter:
    """The culler's ``cull_arbiter_hook``, reading the profiles from ``source``."""

    def cull_arbiter(
        *, inactive: timedelta, inactive_limit: int, server: dict[str, Any], **kwargs: Any
    ) -> bool:
        """True when ``server`` has been idle longer than its profile allows."""
        profiles = source.current().profiles
        limit = idle_timeout_for(profiles, server.get("user_options"), inactive_limit)
        return inactive.total_seconds() >= limit

    return cull_arbiter
