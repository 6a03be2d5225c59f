"""The health options of the hub (rebuilt in the service from ``$JHUB_MANAGED_CONFIG``), as
the checks read them (``CheckContext.config``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...shared.spawner_report import report_path

if TYPE_CHECKING:
    from ...options.managedhub import ManagedHub


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
        "spawner_report": report_path(hub.data_dir),
    }
