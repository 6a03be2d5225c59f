"""The hub's settings: the operator's layers and ceilings, what hub admins may set, who may
edit, and how often the hub looks for a newly saved version."""

from __future__ import annotations

import logging
import re
from typing import Any

from traitlets import Dict, Float, HasTraits, List, Set, Unicode, validate

from ..settings import Ceilings, document_errors
from ..settings.allowlist import AdminAllowList
from ..settings.extensions import unknown_keys, unknown_keys_message
from ..settings.layers import operator_layer
from ..store.source import SettingsSnapshot, SettingsSource
from .errors import ConfigureError


class SettingsOptions(HasTraits):
    operator_defaults = Dict(
        config=True,
        help="""Fleet-wide settings from the operator: a settings document (profiles,
        announcement, branding) that every hub starts from.""",
    )
    hub_values = Dict(
        config=True,
        help="""This hub's settings from its deployment values, merged over
        ``operator_defaults``. Hub admins' edits in the settings service come on top.""",
    )
    ceilings = Dict(
        config=True,
        help="""Operator ceilings no hub admin can exceed: ``cpu_limit``, ``cpu_guarantee``
        (cores), ``mem_limit``, ``mem_guarantee`` (e.g. ``"16G"``), ``gpu_limit``,
        ``node_selectors`` (list of allowed selectors), ``image_patterns`` (regexes an
        image must match whole) and ``extra_resources`` (the resources besides GPUs a
        profile may ask for, each with its most per server or ``null``, e.g.
        ``{"example.com/fpga": 1}``).""",
    )

    @validate("ceilings")
    def _check_ceilings(self, proposal):
        try:
            Ceilings.from_config(proposal.value)
        except (ValueError, TypeError, re.error) as e:
            raise ConfigureError(f"ceilings: {e}") from None
        return proposal.value

    # -- security: what hub admins may put in a profile -----------------------------------

    hub_admin_override_keys = List(
        Unicode(),
        config=True,
        help="""KubeSpawner settings this hub's admins may set in a profile's
        ``kubespawner_override``, beyond the ones the settings schema lists (image, CPU and
        memory, named extra resources, node selector, environment, default URL).

        For a hub whose admins the operator trusts with its nodes, e.g.
        ``["tolerations", "volumes", "volume_mounts"]``; ``["*"]`` allows any key. The
        operator's own layers (``operator_defaults``, ``hub_values``) may set any key
        whatever this says. Environment names JupyterHub and the suite rely on, and
        resources not named in the ceilings' ``extra_resources``, stay refused.""",
    )

    @validate("hub_admin_override_keys")
    def _check_hub_admin_override_keys(self, proposal):
        try:
            AdminAllowList.from_config(proposal.value)
        except ValueError as e:
            raise ConfigureError(f"hub_admin_override_keys: {e}") from None
        return proposal.value

    settings_editor_groups = List(
        Unicode(),
        config=True,
        help="""Groups whose members hold the settings scope (``custom:jhub-managed:settings``)
        and so may use the settings service without being hub admins (hub admins always
        may).""",
    )

    # -- the hub's settings snapshot ----------------------------------------------------------

    settings_refresh_interval = Float(
        5.0,
        config=True,
        help="""How often, in seconds, the hub looks in the settings store for a newly saved
        version. The hub's pages and spawns read the settings it found last, never the store
        itself, so a save in the settings service is used by spawns and shown on the hub's
        pages within this many seconds. The store is read in a thread of its own, off the
        hub's event loop. Must be more than 0.""",
    )

    @validate("settings_refresh_interval")
    def _check_refresh_interval(self, proposal):
        if not proposal.value > 0 or proposal.value == float("inf"):
            raise ConfigureError(
                f"settings_refresh_interval must be a number of seconds above 0, "
                f"not {proposal.value!r}"
            )
        return proposal.value

    #: the JSON of configured profile lists found valid, so that a spawn from a callable
    #: ``profile_list`` checks each list once (see ``check_configured_profiles``)
    valid_profile_lists = Set()
    #: the keys KubeSpawner does not read that the hub's log has named, as (entry, key)
    reported_unknown_keys = Set()

    def settings_snapshot(self) -> SettingsSnapshot:
        """The hub's one settings snapshot. Made by ``configure()`` without any I/O: it
        creates and migrates the store, and starts looking for new versions, when the hub
        starts (:mod:`jhub_managed.hubside.start`) or at its first read."""
        source = SettingsSource.for_hub(self, log=logging.getLogger("JupyterHub"))
        return SettingsSnapshot(source, interval=self.settings_refresh_interval)

    def check_settings_layers(self) -> None:
        """Check the operator's layers as KubeSpawner would take their profiles (filled in as
        it fills them in), within the ceilings: a problem stops the hub at start."""
        ceilings = Ceilings.from_config(self.ceilings)
        for name in ("operator_defaults", "hub_values"):
            layer = getattr(self, name)
            if not layer:
                continue
            errors = document_errors(operator_layer(layer), ceilings)
            if errors:
                detail = "; ".join(f"{e.path or '/'}: {e.message}" for e in errors[:5])
                raise ConfigureError(f"{name} is not a valid settings document: {detail}")

    def report_unknown_keys(self, profiles: Any, log: logging.Logger) -> None:
        """Name, in one warning, the keys of ``profiles`` that KubeSpawner does not read and
        that the hub has not named yet: each key once, however many profiles carry it."""
        found = unknown_keys(profiles)
        new = {
            entry: [key for key in keys if (entry, key) not in self.reported_unknown_keys]
            for entry, keys in found.items()
        }
        new = {entry: keys for entry, keys in new.items() if keys}
        if new:
            self.reported_unknown_keys.update((e, k) for e, keys in new.items() for k in keys)
            log.warning(unknown_keys_message(new))
