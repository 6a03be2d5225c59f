"""``configure(c, ...)``: the one call in ``jupyterhub_config.py`` that wires the suite in,
as a short list of steps, one per part of the suite, each in the module of what it wires.

It only builds configuration: what a running hub must do (read and migrate the store, start
the settings refresher) is handed to the hub's start (:mod:`.start`), and service ports are
chosen without binding anything (:mod:`.ports`), so loading a config file twice, or checking
one, has no side effect.
"""

from __future__ import annotations

import logging
from typing import Any

from traitlets.config import Config

from ..options.errors import ConfigureError
from ..options.legacy import adopt_spawner_options
from ..options.managedhub import ManagedHub
from .authenticator import wire_authenticator
from .budget_notice import wire_budget_notice
from .health import wire_health
from .services import wire_services
from .spawner import adopt_config_profile_list, wire_spawner
from .start import on_hub_start
from .templates import wire_templates


def configure(c: Config, **options: Any) -> ManagedHub:
    """Wire jhub-managed into the hub configuration ``c``.

    Sets the spawner and authenticator classes (when asked), the ``config``, ``usage`` and
    ``health`` services with their roles and scopes, the custom settings scope, the template
    paths and the template variables (announcement, branding). Options are the traits of
    :class:`~jhub_managed.hub.ManagedHub`; anything else raises
    :class:`~jhub_managed.hub.ConfigureError`.
    """
    hub = managed_hub(c, options)
    snapshot = hub.settings_snapshot()
    wire_authenticator(c, hub)
    wire_spawner(c, hub, snapshot)
    wire_services(c, hub)
    wire_templates(c, hub, snapshot)
    wire_health(c, hub, snapshot)
    wire_budget_notice(c, hub, snapshot)
    on_hub_start(c, snapshot.start)
    return hub


def managed_hub(c: Config, options: dict[str, Any]) -> ManagedHub:
    """The hub's options from ``options`` and ``c``, checked: the settings layers, the
    deprecated spawner options and a ``profile_list`` the configuration already has."""
    known = set(ManagedHub.class_traits(config=True))
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigureError(
            f"configure() got an unknown option {unknown[0]!r}; options are: "
            + ", ".join(sorted(known))
        )
    try:
        hub = ManagedHub(config=c, **options)
    except ConfigureError:
        raise
    except Exception as e:  # traitlets' TraitError for a wrong type
        raise ConfigureError(f"configure(): {e}") from None
    given = set(options) | set(c["ManagedHub"] if "ManagedHub" in c else ())
    adopt_spawner_options(c, hub, given)
    hub.check_settings_layers()
    adopt_config_profile_list(c, hub)
    hub.report_unknown_keys(
        [*(hub.operator_defaults.get("profiles") or []), *(hub.hub_values.get("profiles") or [])],
        logging.getLogger("JupyterHub"),
    )
    return hub
