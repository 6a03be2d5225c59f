"""The health service's side of ``configure()``: what the service is told (derived from the
hub's configuration, for :class:`~jhub_managed.hub.ManagedHub`), its options as its checks
read them, and what the hub's own process does for it (the spawner report, the notice on the
hub's pages)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from traitlets.config import Config

from . import spawnreport

if TYPE_CHECKING:
    from ...hub import ManagedHub

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


def identity_provider_url(hub: ManagedHub, c: Config) -> str:
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


def health_options(hub: ManagedHub) -> dict[str, Any]:
    """The health options of ``hub``, as the checks read them (``CheckContext.config``)."""
    return {
        "required": list(hub.health_required),
        "interval": hub.health_interval,
        "timeout": hub.health_timeout,
        "intervals": dict(hub.health_intervals),
        "timeouts": dict(hub.health_timeouts),
        "start_grace": hub.health_start_grace,
        "min_free_percent": hub.health_min_free_percent,
        "min_free_mib": hub.health_min_free_mib,
        "data_dir": hub.data_dir,
        "home_volume": hub.health_home_volume,
        "idp_url": hub.identity_provider_url,
        "usage_max_age": hub.health_usage_max_age,
        "check_user": hub.health_check_user,
        "deep_check_interval": hub.health_deep_check_interval,
        "deep_check_timeout": hub.health_deep_check_timeout,
        "spawner": hub.spawner,
        "kube": dict(hub.kube_client),
        "culler": bool(hub.idle_timeout),
        "spawner_report": spawnreport.report_path(hub.data_dir),
    }


def wire_hub_side(hub: ManagedHub, c: Config, snapshot: Any) -> None:
    """In the hub's process: where spawners report, and the notice on the hub's pages."""
    if "health" not in hub.services:
        spawnreport.configure(None)
        return
    spawnreport.configure(hub.data_dir)
    if not hub.health_notice:
        return
    from .notice import HealthNotice

    health = next((s for s in c.JupyterHub.services if s["name"] == "health"), None)
    if health is None:
        return
    tvars = dict(c.JupyterHub.get("template_vars", {}) or {})
    tvars["jhm_health_notice"] = HealthNotice(
        url=health["url"],
        base_url=c.JupyterHub.get("base_url", "/") or "/",
        interval=hub.health_interval,
        settings=snapshot,
    )
    c.JupyterHub.template_vars = tvars
