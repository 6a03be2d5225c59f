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
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import socket
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from traitlets import Bool, Dict, Float, List, Set, TraitError, Unicode, default, validate
from traitlets import Integer as Int
from traitlets.config import Config, Configurable
from traitlets.config.loader import LazyConfigValue

from .roles import ADMINS_ROLE, follow_admins
from .services.health.catalog import CHECKS as HEALTH_CHECKS
from .services.health.catalog import DEFAULT_REQUIRED
from .settings import Ceilings, document_errors
from .settings.allowlist import AdminAllowList
from .settings.extensions import unknown_keys, unknown_keys_message
from .settings.layers import operator_layer
from .settings.validate import ceiling_errors
from .store.attribution import DEFAULT_CHECK_USER
from .store.source import SettingsSnapshot, SettingsSource

#: the custom scope whose holders may edit the hub's settings
SETTINGS_SCOPE = "custom:jhub-managed:settings"
SETTINGS_ROLE = "jhub-managed-settings-editors"
#: the custom scope whose holders may run the health service's deep check on demand
HEALTH_SCOPE = "custom:jhub-managed:health"
HEALTH_ROLE = "jhub-managed-health-operators"
#: the custom scope whose holders may read everyone's usage reports and the usage metrics
USAGE_SCOPE = "custom:jhub-managed:usage-reports"
USAGE_ROLE = "jhub-managed-usage-readers"
#: the scopes every hub admin holds, through the role :data:`~jhub_managed.roles.ADMINS_ROLE`
ADMIN_SCOPES = (SETTINGS_SCOPE, USAGE_SCOPE)
SERVICE_NAMES = ("config", "usage", "health")
CULLER_SERVICE = "idle-culler"
CULLER_CONFIG = os.path.join(os.path.dirname(__file__), "services", "culler_config.py")
TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")

#: what each service may do with the hub's API, no more
SERVICE_SCOPES = {
    "config": ["list:groups", "read:groups:name"],
    # users with their groups; their servers with user_options, started and last_activity
    "usage": ["list:users", "read:users:groups", "read:servers"],
    # the proxy scope is for reading the routing table (GET /hub/api/proxy); the check
    # user's scopes are added by ManagedHub.health_check_user_scopes()
    "health": ["read:hub", "list:services", "read:services", "proxy"],
}
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
#: the environment variable in which the hub hands its services the suite's options
CONFIG_ENV = "JHUB_MANAGED_CONFIG"
_HUB_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _service_has_timeout() -> bool:
    """Whether this JupyterHub's services take a start ``timeout`` (6.0 and later)."""
    from jupyterhub.services.service import Service

    return "timeout" in Service.class_traits(input=True)


class ConfigureError(ValueError):
    """A wrong option of :func:`configure`; the message says which and why."""


def _free_port(ip: str = "127.0.0.1") -> int:
    """A free port for a service, below the kernel's ephemeral range when one is free there:
    a port the kernel picks is let go until the service binds it, and in the meantime any
    process that binds port 0 or connects somewhere may be handed it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(100):
        port = random.randrange(min(20000, low // 2), low)  # noqa: S311 - a port, no secret
        with socket.socket() as sock:
            try:
                sock.bind((ip, port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


class ManagedHub(Configurable):
    """Options of :func:`configure`, the one call that wires jhub-managed into a hub."""

    hub_name = Unicode(
        "hub",
        config=True,
        help="""Name of this hub in the fleet (lowercase letters, digits and dashes).

        Used in pod labels, so that pods of different hubs can be told apart.""",
    )

    @validate("hub_name")
    def _check_hub_name(self, proposal):
        if not _HUB_NAME.fullmatch(proposal.value):
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
    services = List(
        Unicode(),
        default_value=list(SERVICE_NAMES),
        config=True,
        help="Which of the hub-managed services to run: any of config, usage, health.",
    )

    @validate("services")
    def _check_services(self, proposal):
        unknown = sorted(set(proposal.value) - set(SERVICE_NAMES))
        if unknown:
            raise ConfigureError(
                f"unknown service {unknown[0]!r}; services are {', '.join(SERVICE_NAMES)}"
            )
        return proposal.value

    service_ip = Unicode(
        "127.0.0.1",
        config=True,
        help="""Address the services listen on (``0.0.0.0`` in a hub pod, so that the proxy
        reaches them).""",
    )
    service_host = Unicode(
        "",
        config=True,
        help="""Host name the proxy uses to reach the services; defaults to ``service_ip``.
        In a hub pod, the hub's Kubernetes service name (``hub`` in zero-to-jupyterhub).""",
    )
    service_ports = Dict(
        value_trait=Int(),
        config=True,
        help="""Port of each service, e.g. ``{"config": 10101}``. A service without a port
        gets a free one at hub start (fine on one machine; set them in a hub pod).""",
    )
    extra_service_environment = Dict(
        value_trait=Unicode(),
        config=True,
        help="Extra environment variables for every jhub-managed service.",
    )
    home_storage = Dict(
        config=True,
        help="""Per-user home volumes on Kubernetes, through kubespawner's storage options:
        ``{"capacity": "10Gi", "storage_class": "standard", "mount_path": "/home/jovyan"}``
        (``storage_class`` optional). Each user gets a claim, made at their first start.
        Empty: no persistent home.""",
    )

    shared_storage = Dict(
        config=True,
        help="""A directory shared by the hub's users on Kubernetes: ``{"pvc": "<claim>",
        "mount_path": "/home/jovyan/shared", "sub_path": ""}``. Read-only for users,
        read-write for hub admins. Empty: none.""",
    )

    #: storage option -> (its keys, the required one, what the required one is)
    _STORAGE_KEYS = {
        "home_storage": ({"capacity", "storage_class", "mount_path"}, "capacity", "e.g. '10Gi'"),
        "shared_storage": ({"pvc", "mount_path", "sub_path"}, "pvc", "the name of its claim"),
    }

    @validate("home_storage", "shared_storage")
    def _check_storage(self, proposal):
        name = proposal.trait.name
        keys, required, what = self._STORAGE_KEYS[name]
        value = dict(proposal.value)
        unknown = sorted(set(value) - keys)
        if unknown:
            raise ConfigureError(f"{name}: unknown key {unknown[0]!r}")
        if value and not value.get(required):
            raise ConfigureError(f"{name} needs '{required}': {what}")
        return value

    idle_timeout = Int(
        3600,
        config=True,
        help="""Seconds of inactivity after which a server is stopped, unless its profile sets
        its own ``idle_timeout``. 0 turns the idle culler off.""",
    )
    cull_every = Int(
        300,
        config=True,
        help="How often, in seconds, the idle culler looks for idle servers.",
    )

    @validate("idle_timeout", "cull_every")
    def _check_positive(self, proposal):
        if proposal.value < 0:
            raise ConfigureError(f"{proposal.trait.name} cannot be negative")
        return proposal.value

    # -- usage pages: the budget notice on the hub's home page (services/usage/notice.py) ----

    usage_notice_refresh = Int(
        60,
        config=True,
        help="""Seconds for which the hub keeps the budgets' use it shows in the budget notice
        on its home page before adding it up again (in a background thread; a page never
        waits for it). Members of a group see the notice at 80 % and 100 % of its monthly
        budget.""",
    )

    @validate("usage_notice_refresh")
    def _check_notice_refresh(self, proposal):
        if not 1 <= proposal.value <= 86400:
            raise ConfigureError("usage_notice_refresh must be between 1 and 86400 seconds")
        return proposal.value

    announcement_in_templates = Bool(
        True,
        config=True,
        help="Show the hub admins' announcement and branding on the hub's own pages.",
    )

    # -- the health service (services/health/) ---------------------------------------------

    health_required = List(
        Unicode(),
        default_value=list(DEFAULT_REQUIRED),
        config=True,
        help=f"""Health checks that must pass for ``/services/health/api/health`` to answer
        200; the others are warnings (shown, never a 503). Default:
        ``{", ".join(DEFAULT_REQUIRED)}``. Every check is listed in the health check
        reference.""",
    )
    health_interval = Float(
        30,
        config=True,
        help="""Seconds between two runs of each health check. Probes in between get the
        cached results, so any number of probes cause no more work than this schedule.""",
    )
    health_timeout = Float(
        5,
        config=True,
        help="Seconds a health check may take before it counts as failed.",
    )
    health_intervals = Dict(
        value_trait=Float(),
        config=True,
        help="""Per-check intervals overriding ``health_interval``, e.g.
        ``{"spawner-backend": 10}``.""",
    )
    health_timeouts = Dict(
        value_trait=Float(),
        config=True,
        help="Per-check timeouts overriding ``health_timeout``.",
    )
    health_start_grace = Float(
        300,
        config=True,
        help="""Seconds after the health service starts during which a check that does not
        pass says ``starting`` rather than ``failing``, until the hub has finished starting
        (JupyterHub adds its routes to the proxy once every service answers, as the last step
        of its start). The probe answers 503 either way; checks that do not pass are tried
        again every second meanwhile.""",
    )
    health_min_free_percent = Float(
        5,
        config=True,
        help="""The ``data-disk`` and ``home-disk`` checks fail when less than this share
        (percent) of the volume is free.""",
    )
    health_min_free_mib = Float(
        500,
        config=True,
        help="... or when less than this many MiB are free.",
    )
    health_home_volume = Unicode(
        "",
        config=True,
        help="""A directory on the users' home volume, as mounted in the hub (e.g. an NFS
        share), for the ``home-disk`` check. Empty: the check is skipped (not configured).""",
    )
    health_idp_url = Unicode(
        "",
        config=True,
        help="""URL the ``identity-provider`` check fetches: the provider's OpenID discovery
        document or an API endpoint. Empty: derived from the authenticator's configuration
        (its ``userdata_url``, or GitHub's API); no check for password logins.""",
    )
    health_usage_max_age = Float(
        900,
        config=True,
        help="Seconds since the usage collector's last successful poll before it is stale.",
    )
    health_check_user = Unicode(
        DEFAULT_CHECK_USER,
        config=True,
        help="""The deep check's user: made at hub start, refused by every browser login
        (``c.ManagedAuthenticatorMixin.health_check_user``), left out of usage figures.""",
    )
    health_deep_check_interval = Float(
        3600,
        config=True,
        help="""Seconds between two scheduled deep checks (a real server start for the check
        user). 0: only on demand (``POST /services/health/api/deep-check``).""",
    )
    health_deep_check_timeout = Float(
        300,
        config=True,
        help="""Seconds the deep check's server may take to become ready; a server that is
        not ready by then fails the check at its ``ready`` step.""",
    )
    health_operator_groups = List(
        Unicode(),
        config=True,
        help=f"""Groups whose members hold ``{HEALTH_SCOPE}`` and so may run the deep check
        on demand (as may ``staff_users`` and any token with ``admin:servers``).""",
    )
    service_start_timeout = Int(
        60,
        config=True,
        help="""Seconds the hub waits at start for each jhub-managed service to answer at its
        root before it gives up and exits (JupyterHub's own default is 10, short for a busy
        node).""",
    )
    health_notice = Bool(
        True,
        config=True,
        help="""While a required health check fails, show a short notice on the hub's home
        and spawn pages that the operators know (with the branding's contact).""",
    )

    @validate("health_required", "health_intervals", "health_timeouts")
    def _check_health_names(self, proposal):
        unknown = sorted(set(proposal.value) - set(HEALTH_CHECKS))
        if unknown:
            raise ConfigureError(
                f"{proposal.trait.name}: unknown health check {unknown[0]!r}; checks are "
                + ", ".join(HEALTH_CHECKS)
            )
        values = proposal.value.values() if isinstance(proposal.value, dict) else []
        if any(v <= 0 for v in values):
            raise ConfigureError(f"{proposal.trait.name}: seconds must be positive")
        return proposal.value

    @validate(
        "health_interval",
        "health_timeout",
        "health_min_free_percent",
        "health_min_free_mib",
        "health_usage_max_age",
        "health_deep_check_interval",
        "health_deep_check_timeout",
        "health_start_grace",
    )
    def _check_health_numbers(self, proposal):
        name, value = proposal.trait.name, proposal.value
        may_be_zero = name in ("health_deep_check_interval", "health_min_free_mib")
        if value < 0 or (value == 0 and not may_be_zero):
            raise ConfigureError(f"{name} must be positive")
        if name == "health_min_free_percent" and value > 100:
            raise ConfigureError("health_min_free_percent is a percentage, at most 100")
        return value

    # -- usage: sessions, reports, budgets and metrics (services/usage/) ---------------------

    usage_poll_interval = Int(
        60,
        config=True,
        help="""Seconds between two polls of the hub's REST API by the usage service. The
        managed spawners report starts and stops at once; the poll catches what they could
        not (servers of other spawners, a stop while the hub was down) and keeps the last
        activity of running servers.""",
    )

    @validate("usage_poll_interval")
    def _check_poll_interval(self, proposal):
        if not 5 <= proposal.value <= 3600:
            raise ConfigureError("usage_poll_interval must be between 5 and 3600 seconds")
        return proposal.value

    usage_rate_card = Dict(
        config=True,
        help="""Prices for the usage reports' cost column: ``{"currency": "EUR",
        "server_hour": 0.01, "cpu_hour": 0.03, "memory_gib_hour": 0.004, "gpu_hour": 0.9,
        "profiles": {"<slug>": {"gpu_hour": 1.5}}}``. A price not given is 0; a profile's
        prices fall back to the card's. Empty: reports have no cost.""",
    )

    @validate("usage_rate_card")
    def _check_rate_card(self, proposal):
        from .services.usage.rates import RateCard

        try:
            RateCard.from_config(proposal.value)
        except ValueError as e:
            raise ConfigureError(f"usage_rate_card: {e}") from None
        return proposal.value

    usage_budgets = Dict(
        config=True,
        help="""Monthly budgets of groups from the operator: ``{"<group>": {"server_hours":
        500}}`` or ``{"<group>": {"cost": 1200}}`` (in the rate card's currency). Hub admins
        may set budgets in the ``budgets`` section of the hub's settings, which win for
        their groups. Members see a notice at 80 % and 100 %; nothing is stopped.""",
    )

    @validate("usage_budgets")
    def _check_budgets(self, proposal):
        from .services.usage.budgets import budget_errors

        errors = budget_errors(proposal.value, "usage_budgets")
        if errors:
            raise ConfigureError(errors[0])
        return proposal.value

    usage_split_groups = Bool(
        False,
        config=True,
        help="""Split a session of a user in several groups (on a profile open to all of
        them) evenly between those groups in reports by group, budgets and metrics. Off:
        such sessions are billed to ``multiple``.""",
    )
    usage_per_user_metrics = Bool(
        False,
        config=True,
        help="""Add per-user series to the usage service's ``/metrics`` (server-hours and
        running servers by user). Off by default: one series per user can be many.""",
    )
    usage_report_groups = List(
        Unicode(),
        config=True,
        help="""Groups whose members hold the usage-report scope
        (``custom:jhub-managed:usage-reports``): they may read everyone's usage reports and
        the usage metrics without being hub admins.""",
    )

    # -- what the hub's process knows and its services cannot see ---------------------------
    # Not options: found at hub start in the hub's configuration and environment, and handed
    # to the services with the options (see HUB_FACTS).

    staff_group = Unicode(
        help="""The managed authenticators' group of the operator's staff
        (``c.ManagedAuthenticatorMixin.staff_group``), whom usage figures leave out."""
    )

    @default("staff_group")
    def _default_staff_group(self):
        authenticator = self.config.get("ManagedAuthenticatorMixin") or {}
        return authenticator.get("staff_group", "staff")

    metrics_namespace = Unicode(
        help="""The ``namespace`` label of the usage metrics: the hub pod's namespace
        (``$POD_NAMESPACE``), else ``hub_name``."""
    )

    @default("metrics_namespace")
    def _default_metrics_namespace(self):
        return os.environ.get("POD_NAMESPACE") or self.hub_name

    identity_provider_url = Unicode(
        help="""What the ``identity-provider`` health check fetches: ``health_idp_url``, else
        derived from the authenticator's configuration."""
    )

    @default("identity_provider_url")
    def _default_identity_provider_url(self):
        from .services.health.wiring import identity_provider_url

        return identity_provider_url(self, self.config)

    kube_client = Dict(
        help="""KubeSpawner's own client settings (``k8s_api_*``) for the ``spawner-backend``
        health check; empty on other spawners."""
    )

    @default("kube_client")
    def _default_kube_client(self):
        from .services.health.wiring import kube_client_config

        return kube_client_config(self.config) if self.spawner == "kube" else {}

    #: option sets adopted from spawner classes (with_spawner_options), one per distinct set
    _spawner_copies = Dict()
    #: the JSON of configured profile lists found valid, so that a spawn from a callable
    #: ``profile_list`` checks each list once (see ``check_configured_profiles``)
    valid_profile_lists = Set()
    #: the keys KubeSpawner does not read that the hub's log has named, as (entry, key)
    reported_unknown_keys = Set()

    def __deepcopy__(self, memo: dict) -> ManagedHub:
        # one per hub process: traitlets copies each config value a spawner loads, and every
        # spawner must read this same object
        return self

    # -- the one set of options, in the services' environment ---------------------------------

    def option_values(self) -> dict[str, Any]:
        """Every option (each config trait) by name, as JSON takes it."""
        return {name: getattr(self, name) for name in sorted(self.class_own_traits(config=True))}

    def service_config(self) -> str:
        """``$JHUB_MANAGED_CONFIG``: every option and :data:`HUB_FACTS`, as a JSON object."""
        values = self.option_values()
        values.update({name: getattr(self, name) for name in HUB_FACTS})
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ManagedHub:
        """The hub's options, rebuilt in a service from ``$JHUB_MANAGED_CONFIG`` through the
        same validation as at hub start. Raises :class:`ConfigureError` naming a wrong one."""
        raw = environ.get(CONFIG_ENV, "")
        try:
            values = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            raise ConfigureError(f"${CONFIG_ENV} is not JSON: {e}") from None
        if not isinstance(values, dict):
            raise ConfigureError(f"${CONFIG_ENV} must be a JSON object of options")
        options = set(cls.class_own_traits(config=True))
        unknown = sorted(set(values) - options - set(HUB_FACTS))
        if unknown:
            raise ConfigureError(f"${CONFIG_ENV}: unknown option {unknown[0]!r}")
        config = Config({"ManagedHub": {k: v for k, v in values.items() if k in options}})
        facts = {k: v for k, v in values.items() if k in HUB_FACTS}
        return _validated(f"${CONFIG_ENV}", lambda: cls(config=config, **facts))

    @classmethod
    def from_config(cls, config: Config) -> ManagedHub:
        """The options in ``c.ManagedHub`` of a hub configured without :func:`configure`
        (a spawner configured by hand); a wrong one is a :class:`ConfigureError`."""
        return _validated("c.ManagedHub", lambda: cls(config=config))

    def with_options(self, where: str, **values: Any) -> ManagedHub:
        """A copy of these options with ``values`` over them, validated as at hub start."""
        config = Config({"ManagedHub": {**self.option_values(), **values}})
        facts = {name: getattr(self, name) for name in HUB_FACTS}
        return _validated(where, lambda: type(self)(config=config, **facts))

    def with_spawner_options(
        self, legacy: Mapping[str, tuple[str, Any]], log: logging.Logger
    ) -> ManagedHub:
        """These options with those set on a spawner class after :func:`configure` (or
        without it) over them, as :func:`legacy_spawner_options` finds them: deprecated,
        checked one by one, and warned about once per hub for each such set."""
        key = json.dumps(
            {option: [where, value] for option, (where, value) in legacy.items()},
            sort_keys=True,
            default=repr,
        )
        adopted = self._spawner_copies.get(key)
        if adopted is None:
            adopted = self
            for option, (where, value) in legacy.items():
                adopted = adopted.with_options(where, **{option: value})
            log.warning(
                "%s: deprecated; set %s with configure() or c.ManagedHub",
                ", ".join(where for where, _ in legacy.values()),
                ", ".join(legacy),
            )
            self._spawner_copies[key] = adopted
        return adopted

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

    def settings_snapshot(self) -> SettingsSnapshot:
        """The hub's one settings snapshot, made now (at hub start): the store is created
        and migrated here, never inside a request."""
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

    def service_environment(self) -> dict[str, str]:
        return {
            CONFIG_ENV: self.service_config(),
            "PYTHONUNBUFFERED": "1",
            **_kubernetes_environment(),
            **self.extra_service_environment,
        }

    def service_definitions(self) -> list[dict[str, Any]]:
        env = self.service_environment()
        host = self.service_host or self.service_ip
        services = []
        for name in self.services:
            port = self.service_ports.get(name) or _free_port(self.service_ip)
            service = {
                "name": name,
                "url": f"http://{host}:{port}",
                "command": [
                    sys.executable,
                    "-m",
                    f"jhub_managed.services.{name}",
                    f"--ip={self.service_ip}",
                    f"--port={port}",
                ],
                "environment": dict(env),
                "display": True,
                "oauth_no_confirm": True,
            }
            if _service_has_timeout():
                # JupyterHub 6 only; 5.5 refuses an unknown field (and waits 10 s: the
                # services bind their port first, see services/listen.py)
                service["timeout"] = self.service_start_timeout
            if name == "config":
                # the settings scope rides on the service's OAuth tokens, so the service can
                # see who holds it
                service["oauth_client_allowed_scopes"] = [SETTINGS_SCOPE]
            if name == "health":
                service["oauth_client_allowed_scopes"] = [HEALTH_SCOPE]
            if name == "usage":
                service["oauth_client_allowed_scopes"] = [USAGE_SCOPE]
            services.append(service)
        if self.idle_timeout:
            services.append(
                {
                    "name": CULLER_SERVICE,
                    "command": [
                        sys.executable,
                        "-m",
                        "jupyterhub_idle_culler",
                        f"--timeout={self.idle_timeout}",
                        f"--cull-every={self.cull_every or 300}",
                        f"--config={CULLER_CONFIG}",
                    ],
                    "environment": dict(env),
                }
            )
        return services

    def roles(self) -> list[dict[str, Any]]:
        roles = [
            {
                "name": "user",
                "description": "Standard user privileges, plus the jhub-managed pages",
                "scopes": ["self"] + [f"access:services!service={name}" for name in self.services],
            },
            {
                "name": SETTINGS_ROLE,
                "description": "Edit this hub's profiles, announcement and branding",
                "scopes": [SETTINGS_SCOPE, "access:services!service=config"],
                "groups": list(self.settings_editor_groups),
            },
            {
                "name": USAGE_ROLE,
                "description": "Read everyone's usage reports and the usage metrics",
                "scopes": [USAGE_SCOPE, "access:services!service=usage"],
                "groups": list(self.usage_report_groups),
            },
            # security: hub admins hold the suite's scopes through a role whose members
            # follow the hub's admin users (see jhub_managed.roles)
            {
                "name": ADMINS_ROLE,
                "description": "What the hub's admins may do in the jhub-managed services "
                "(its members are the hub's admin users, kept in step by jhub-managed)",
                "scopes": list(ADMIN_SCOPES),
            },
        ]
        if self.idle_timeout:
            roles.append(
                {
                    "name": "jhub-managed-idle-culler",
                    "description": "Stop servers idle longer than their profile allows",
                    "scopes": [
                        "list:users",
                        "read:users:activity",
                        "read:servers",
                        "delete:servers",
                    ],
                    "services": [CULLER_SERVICE],
                }
            )
        for name in self.services:
            scopes = list(SERVICE_SCOPES[name])
            if name == "health":
                scopes += self.health_check_user_scopes()
                if "usage" in self.services:
                    # the usage-collector check reads the collector's last poll in the
                    # usage metrics
                    scopes += [USAGE_SCOPE, "access:services!service=usage"]
            roles.append(
                {
                    "name": f"jhub-managed-{name}-service",
                    "description": f"What the jhub-managed {name} service may do",
                    "scopes": scopes,
                    "services": [name],
                }
            )
        if "health" in self.services:
            roles += self.health_roles()
        return roles

    def health_check_user_scopes(self) -> list[str]:
        """What the health service may do to its check user (and nobody else)."""
        user = self.health_check_user
        return [
            f"{scope}!user={user}"
            for scope in (
                "read:users",
                "read:users:activity",
                "users:activity",
                "read:servers",
                "servers",
                "access:servers",
            )
        ]

    def health_roles(self) -> list[dict[str, Any]]:
        return [
            {
                "name": HEALTH_ROLE,
                "description": "Run the health service's deep check on demand",
                "scopes": [HEALTH_SCOPE, "access:services!service=health"],
                "users": sorted(self.staff_users),
                "groups": list(self.health_operator_groups),
            },
            {
                # listing the check user in a role makes the hub create it at start
                "name": "jhub-managed-health-check-user",
                "description": "The health service's check user",
                "scopes": ["self"],
                "users": [self.health_check_user],
            },
        ]


#: what the services are told besides the options (see ManagedHub.service_config)
HUB_FACTS = ("staff_group", "metrics_namespace", "identity_provider_url", "kube_client")


def _validated(where: str, make: Any) -> Any:
    """``make()``, with a wrong value of any option as one :class:`ConfigureError` that says
    ``where`` the options came from."""
    try:
        return make()
    except (ConfigureError, TraitError) as e:  # TraitError: a wrong type
        message = str(e)
        option = where.rsplit(".", 1)[-1]
        raise ConfigureError(f"{where}: {message.removeprefix(option + ': ')}") from None


def _kubernetes_environment() -> dict[str, str]:
    """What KubeSpawner's client reads from the environment, for the health service's
    ``spawner-backend`` check (JupyterHub passes services only a few variables)."""
    names = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")
    return {name: os.environ[name] for name in names if name in os.environ}


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


def _merge_roles(existing: list[dict], ours: list[dict]) -> list[dict]:
    by_name = {role["name"]: dict(role) for role in existing}
    for role in ours:
        if role["name"] in by_name:
            merged = by_name[role["name"]]
            for key in ("scopes", "users", "groups", "services"):
                if key in role:
                    merged[key] = sorted(set(merged.get(key, [])) | set(role[key]))
        else:
            by_name[role["name"]] = role
    return list(by_name.values())


#: the suite's options a managed spawner class took itself before they were ManagedHub's
#: alone (spawner option -> ManagedHub option); still adopted from a hub's config, deprecated
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


def _adopt_spawner_options(c: Config, hub: ManagedHub, given: set[str]) -> None:
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
            _validated(where, lambda option=option, value=value: setattr(hub, option, value))
            given.add(option)
            log.warning("%s is deprecated: set %s with configure() instead", where, option)


#: where a z2jh hub's configuration sets its profiles (``singleuser.profileList``)
PROFILE_LIST_SECTIONS = ("KubeSpawner", "ManagedKubeSpawner")


def _adopt_config_profile_list(c: Config, hub: ManagedHub) -> None:
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
        from .spawner.kube import initialized_profiles
        from .spawner.mixin import ConfiguredProfilesError, check_configured_profiles

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


def _configured(section: Config, name: str, empty: list | dict) -> Any:
    """A copy of the list or dict ``section.name`` holds, however it was set: assigned, or
    with ``.append()``, ``.extend()`` or ``.update()`` before the option had a value (as
    zero-to-jupyterhub's ``jupyterhub_config.py`` adds ``hub.services`` and
    ``hub.loadRoles``), which traitlets keeps as a ``LazyConfigValue`` until the hub reads it."""
    value = section.get(name, empty)
    if isinstance(value, LazyConfigValue):
        value = value.get_value(type(empty)())
    return type(empty)(value or empty)


def configure(c: Config, **options: Any) -> ManagedHub:
    """Wire jhub-managed into the hub configuration ``c``.

    Sets the spawner and authenticator classes (when asked), the ``config``, ``usage`` and
    ``health`` services with their roles and scopes, the custom settings scope, the template
    paths and the template variables (announcement, branding). Options are the traits of
    :class:`ManagedHub`; anything else raises :class:`ConfigureError`.
    """
    known = set(ManagedHub.class_own_traits(config=True))
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
    _adopt_spawner_options(c, hub, given)
    hub.check_settings_layers()
    _adopt_config_profile_list(c, hub)
    hub.report_unknown_keys(
        [*(hub.operator_defaults.get("profiles") or []), *(hub.hub_values.get("profiles") or [])],
        logging.getLogger("JupyterHub"),
    )

    if hub.spawner:
        c.JupyterHub.spawner_class = SPAWNERS[hub.spawner]
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
    snapshot = hub.settings_snapshot()
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

    existing_services = _configured(c.JupyterHub, "services", [])
    ours = hub.service_definitions()
    taken = {s["name"] for s in existing_services}
    clash = sorted(taken & {s["name"] for s in ours})
    if CULLER_SERVICE in clash:
        raise ConfigureError(
            f"a service named {CULLER_SERVICE!r} is already configured: remove it, or set "
            "idle_timeout=0 to keep your own"
        )
    if clash:
        raise ConfigureError(f"a service named {clash[0]!r} is already configured")
    c.JupyterHub.services = existing_services + ours

    scopes = _configured(c.JupyterHub, "custom_scopes", {})
    scopes[SETTINGS_SCOPE] = {"description": "Edit this hub's profiles, announcement and branding"}
    scopes[HEALTH_SCOPE] = {"description": "Run the health service's deep check on demand"}
    scopes[USAGE_SCOPE] = {"description": "Read everyone's usage reports and the usage metrics"}
    c.JupyterHub.custom_scopes = scopes
    c.JupyterHub.load_roles = _merge_roles(_configured(c.JupyterHub, "load_roles", []), hub.roles())
    follow_admins()

    paths = _configured(c.JupyterHub, "template_paths", [])
    hub_templates = os.path.join(TEMPLATES, "hub")
    if hub_templates not in paths:
        c.JupyterHub.template_paths = [hub_templates, *paths]
    if hub.announcement_in_templates:
        from .templating import template_vars

        tvars = _configured(c.JupyterHub, "template_vars", {})
        tvars.update(template_vars(hub, snapshot))
        c.JupyterHub.template_vars = tvars
    from .services.health.wiring import wire_hub_side

    wire_hub_side(hub, c, snapshot)
    if "usage" in hub.services:
        from .services.usage.notice import hub_budget_notices

        tvars = _configured(c.JupyterHub, "template_vars", {})
        tvars["jhm_budget_notices"] = hub_budget_notices(hub, snapshot)
        c.JupyterHub.template_vars = tvars
    return hub
