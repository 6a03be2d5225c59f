"""The health service's options, and what it is told that only the hub's configuration says
(the identity provider's URL, KubeSpawner's client settings)."""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Dict, Float, HasTraits, List, Unicode, default, validate
from traitlets.config import Config

from ..scopes import HEALTH_SCOPE
from ..shared.health_checks import CHECKS as HEALTH_CHECKS
from ..shared.health_checks import DEFAULT_REQUIRED
from ..store.attribution import DEFAULT_CHECK_USER
from .errors import ConfigureError

GITHUB_API = "https://api.github.com/user"
CILOGON_USERINFO = "https://cilogon.org/oauth2/userinfo"
_AUTH_SECTIONS = {
    "github": ("ManagedGitHubOAuthenticator", "GitHubOAuthenticator", "OAuthenticator"),
    "cilogon": ("ManagedCILogonOAuthenticator", "CILogonOAuthenticator", "OAuthenticator"),
    "generic": ("ManagedGenericOAuthenticator", "GenericOAuthenticator", "OAuthenticator"),
}
_KUBE_SECTIONS = ("ManagedKubeSpawner", "KubeSpawner")


def _first(c: Config, sections: tuple[str, ...], key: str) -> Any:
    for section in sections:
        if section in c and key in c[section]:
            return c[section][key]
    return None


def identity_provider_url(hub: Any, c: Config) -> str:
    """The provider endpoint the ``identity-provider`` check fetches (no secret in it)."""
    if hub.health_idp_url:
        return hub.health_idp_url
    sections = _AUTH_SECTIONS.get(hub.authenticator)
    if not sections:
        return ""
    if hub.authenticator == "github":
        github_url = _first(c, sections, "github_url")
        if github_url and github_url.rstrip("/") != "https://github.com":
            return github_url.rstrip("/") + "/api/v3/user"
        return GITHUB_API
    url = _first(c, sections, "userdata_url")
    if not url and hub.authenticator == "cilogon":
        return CILOGON_USERINFO
    return url or ""


def kube_client_config(c: Config) -> dict[str, Any]:
    """KubeSpawner's own client settings (``k8s_api_*``), as its ``load_config`` takes them."""
    return {
        "host": _first(c, _KUBE_SECTIONS, "k8s_api_host"),
        "ssl_ca_cert": _first(c, _KUBE_SECTIONS, "k8s_api_ssl_ca_cert"),
        "verify_ssl": _first(c, _KUBE_SECTIONS, "k8s_api_verify_ssl"),
    }


class HealthOptions(HasTraits):
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

    # -- found at hub start in the hub's configuration (see managedhub.HUB_FACTS) ----------

    identity_provider_url = Unicode(
        help="""What the ``identity-provider`` health check fetches: ``health_idp_url``, else
        derived from the authenticator's configuration."""
    )

    @default("identity_provider_url")
    def _default_identity_provider_url(self):
        return identity_provider_url(self, self.config)

    kube_client = Dict(
        help="""KubeSpawner's own client settings (``k8s_api_*``) for the ``spawner-backend``
        health check; empty on other spawners."""
    )

    @default("kube_client")
    def _default_kube_client(self):
        return kube_client_config(self.config) if self.spawner == "kube" else {}
