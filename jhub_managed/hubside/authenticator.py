"""``configure()``'s step for the authenticator: the class, the operator's staff, the check
user, and what a managed hub asks of any authenticator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from traitlets.config import Config

from ..options.general import AUTHENTICATORS

if TYPE_CHECKING:
    from ..options.managedhub import ManagedHub


def wire_authenticator(c: Config, hub: ManagedHub) -> None:
    if hub.authenticator:
        c.JupyterHub.authenticator_class = AUTHENTICATORS[hub.authenticator]
    staff = c.ManagedAuthenticatorMixin
    if hub.staff_users:
        staff.staff_users = set(hub.staff_users)
    if hub.staff_provider_groups:
        staff.staff_provider_groups = set(hub.staff_provider_groups)
    if hub.staff_opt_out:
        staff.staff_opt_out = True
    staff.health_check_user = hub.health_check_user
    _managed_authenticator_defaults(c)


#: what a hub wired by configure() asks of its authenticator, on top of upstream's defaults:
#: hub groups from the provider (profiles are restricted by group), and no two CILogon
#: institutions' people on one username. Options the config sets itself are left alone.
MANAGED_AUTHENTICATOR_DEFAULTS = {
    "ManagedAuthenticatorMixin": {"manage_groups": True},
    "ManagedCILogonOAuthenticator": {"username_collisions": "prefix"},
}


def _managed_authenticator_defaults(c: Config) -> None:
    for section, values in MANAGED_AUTHENTICATOR_DEFAULTS.items():
        for name, value in values.items():
            already = any(
                isinstance(c[key], Config) and name in c[key]
                for key in list(c)
                if key[:1].isupper()
            )
            if not already:
                c[section][name] = value
