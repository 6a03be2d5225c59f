"""The hub's name, which spawner and authenticator, the operator's staff, and where the
suite keeps its files."""

from __future__ import annotations

import os
import re

from traitlets import Bool, HasTraits, List, Unicode, default, validate

from .errors import ConfigureError

SPAWNERS = {
    "local": "jhub_managed.spawner.ManagedLocalSpawner",
    "kube": "jhub_managed.spawner.ManagedKubeSpawner",
}
AUTHENTICATORS = {
    "demo": "jhub_managed.authenticators.ManagedDemoAuthenticator",
    "github": "jhub_managed.authenticators.ManagedGitHubOAuthenticator",
    "cilogon": "jhub_managed.authenticators.ManagedCILogonOAuthenticator",
    "generic": "jhub_managed.authenticators.ManagedGenericOAuthenticator",
}
HUB_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class GeneralOptions(HasTraits):
    hub_name = Unicode(
        "hub",
        config=True,
        help="""Name of this hub in the fleet (lowercase letters, digits and dashes).

        Used in pod labels, so that pods of different hubs can be told apart.""",
    )

    @validate("hub_name")
    def _check_hub_name(self, proposal):
        if not HUB_NAME.fullmatch(proposal.value):
            raise ConfigureError(
                f"hub_name {proposal.value!r} must be 1-63 lowercase letters, digits or "
                "dashes, starting and ending with a letter or digit"
            )
        return proposal.value

    spawner = Unicode(
        "kube",
        config=True,
        help="""Which managed spawner to use: ``kube`` (ManagedKubeSpawner), ``local``
        (ManagedLocalSpawner, for demos and tests) or ``""`` to leave
        ``c.JupyterHub.spawner_class`` as it is.""",
    )

    @validate("spawner")
    def _check_spawner(self, proposal):
        if proposal.value and proposal.value not in SPAWNERS:
            raise ConfigureError(
                f"spawner {proposal.value!r} is not one of {', '.join(sorted(SPAWNERS))}"
            )
        return proposal.value

    authenticator = Unicode(
        "",
        config=True,
        help="""Which managed authenticator to use: ``github``, ``cilogon``, ``generic`` (any
        OpenID Connect provider), ``demo`` (password login for demos and tests), or ``""``
        to leave ``c.JupyterHub.authenticator_class`` as it is.""",
    )

    @validate("authenticator")
    def _check_authenticator(self, proposal):
        if proposal.value and proposal.value not in AUTHENTICATORS:
            raise ConfigureError(
                f"authenticator {proposal.value!r} is not one of "
                f"{', '.join(sorted(AUTHENTICATORS))}"
            )
        return proposal.value

    staff_users = List(
        Unicode(),
        config=True,
        help="""The operator's staff, by hub username, on every hub of the fleet: admins
        (unless ``staff_opt_out``), allowed in, and in the ``staff`` group so usage reports
        can leave them out. Blocked users stay blocked. Passed to the managed authenticators
        (``c.ManagedAuthenticatorMixin.staff_users``).""",
    )
    staff_provider_groups = List(
        Unicode(),
        config=True,
        help="""Identity-provider groups whose members are the operator's staff, as the
        provider names them: GitHub teams as ``org:team``, OIDC or CILogon group claim
        values. Passed to ``c.ManagedAuthenticatorMixin.staff_provider_groups``.""",
    )
    staff_opt_out = Bool(
        False,
        config=True,
        help="""This hub does not give the operator's staff admin rights or access (they are
        still marked as staff when they log in for another reason).""",
    )

    data_dir = Unicode(
        config=True,
        help="""Directory for jhub-managed's own files (the SQLite store by default).
        Defaults to the hub's working directory.""",
    )

    @default("data_dir")
    def _default_data_dir(self):
        return os.getcwd()

    @validate("data_dir")
    def _absolute_data_dir(self, proposal):
        # the services run from another directory: they are told where it is, whole
        return os.path.abspath(proposal.value)

    db_url = Unicode(
        config=True,
        help="""SQLAlchemy URL of the jhub-managed store, which keeps every version of the
        hub's settings.

        Defaults to SQLite in ``data_dir``. For PostgreSQL use e.g.
        ``postgresql+psycopg://user:password@host/dbname``.""",
    )

    @default("db_url")
    def _default_db_url(self):
        return "sqlite:///" + os.path.join(os.path.abspath(self.data_dir), "jhub-managed.sqlite")
