"""``configure(c, ...)``: the one call in ``jupyterhub_config.py`` that wires the suite in.

.. code-block:: python

    from jhub_managed.hub import configure
    configure(c, hub_name="physics", spawner="kube", authenticator="github")

Every option is a trait of :class:`ManagedHub`; the same names can be set as
``c.ManagedHub.<name>`` before the call. A wrong name or value stops the hub at start with
one clear message.

The :class:`ManagedHub` that ``configure()`` makes is the suite's one set of options: the
managed spawners read that same object, and the hub's services rebuild it from
``$JHUB_MANAGED_CONFIG`` through the same validation (:meth:`ManagedHub.from_environment`).

This module only names what lives elsewhere: ``configure()`` and its steps in
:mod:`jhub_managed.hubside`, the options in :mod:`jhub_managed.options`, the scope and role
names in :mod:`jhub_managed.scopes`.
"""

from __future__ import annotations

from .hubside.configure import configure
from .hubside.ports import quiet_port as _free_port  # the old name of the port choice
from .options.errors import ConfigureError
from .options.general import AUTHENTICATORS, SPAWNERS
from .options.general import HUB_NAME as _HUB_NAME
from .options.legacy import SPAWNER_LEGACY_OPTIONS, legacy_spawner_options
from .options.managedhub import CONFIG_ENV, HUB_FACTS, ManagedHub
from .scopes import (
    ADMIN_SCOPES,
    ADMINS_ROLE,
    CULLER_SERVICE,
    HEALTH_ROLE,
    HEALTH_SCOPE,
    SERVICE_NAMES,
    SERVICE_SCOPES,
    SETTINGS_ROLE,
    SETTINGS_SCOPE,
    USAGE_ROLE,
    USAGE_SCOPE,
)

__all__ = [
    "ADMINS_ROLE",
    "ADMIN_SCOPES",
    "AUTHENTICATORS",
    "CONFIG_ENV",
    "CULLER_SERVICE",
    "HEALTH_ROLE",
    "HEALTH_SCOPE",
    "HUB_FACTS",
    "SERVICE_NAMES",
    "SERVICE_SCOPES",
    "SETTINGS_ROLE",
    "SETTINGS_SCOPE",
    "SPAWNERS",
    "SPAWNER_LEGACY_OPTIONS",
    "USAGE_ROLE",
    "USAGE_SCOPE",
    "_HUB_NAME",
    "ConfigureError",
    "ManagedHub",
    "_free_port",
    "configure",
    "legacy_spawner_options",
]
