"""``configure()``'s steps for the services: the ``config``, ``usage`` and ``health``
services and the idle culler, their custom scopes, and the roles that grant them."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from traitlets.config import Config

from ..options.errors import ConfigureError
from ..scopes import (
    ADMIN_SCOPES,
    ADMINS_ROLE,
    CULLER_SERVICE,
    CUSTOM_SCOPES,
    HEALTH_ROLE,
    HEALTH_SCOPE,
    SERVICE_OAUTH_SCOPES,
    SERVICE_SCOPES,
    SETTINGS_ROLE,
    SETTINGS_SCOPE,
    USAGE_ROLE,
    USAGE_SCOPE,
)
from .config_values import configured, merge_roles
from .ports import quiet_port
from .roles import follow_admins

if TYPE_CHECKING:
    from ..options.managedhub import ManagedHub

CULLER_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "services", "culler_config.py"
)


def _service_has_timeout() -> bool:
    """Whether this JupyterHub's services take a start ``timeout`` (6.0 and later)."""
    from jupyterhub.services.service import Service

    return "timeout" in Service.class_traits(input=True)


def service_definitions(hub: ManagedHub) -> list[dict[str, Any]]:
    """The ``c.JupyterHub.services`` entries of the suite's services (and the culler's)."""
    env = hub.service_environment()
    host = hub.service_host or hub.service_ip
    services: list[dict[str, Any]] = []
    for name in hub.services:
        port = hub.service_ports.get(name) or quiet_port(_ports(services))
        service = {
            "name": name,
            "url": f"http://{host}:{port}",
            "command": [
                sys.executable,
                "-m",
                f"jhub_managed.services.{name}",
                f"--ip={hub.service_ip}",
                f"--port={port}",
            ],
            "environment": dict(env),
            "display": True,
            "oauth_no_confirm": True,
            # the custom scope rides on the service's OAuth tokens, so the service can see
            # who holds it
            "oauth_client_allowed_scopes": [SERVICE_OAUTH_SCOPES[name]],
        }
        if _service_has_timeout():
            # JupyterHub 6 only; 5.5 refuses an unknown field (and waits 10 s: the
            # services bind their port first, see services/listen.py)
            service["timeout"] = hub.service_start_timeout
        services.append(service)
    if hub.idle_timeout:
        services.append(_culler_definition(hub, env))
    return services


def _ports(services: list[dict[str, Any]]) -> set[int]:
    return {int(s["url"].rsplit(":", 1)[1]) for s in services if "url" in s}


def _culler_definition(hub: ManagedHub, env: dict[str, str]) -> dict[str, Any]:
    return {
        "name": CULLER_SERVICE,
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={hub.idle_timeout}",
            f"--cull-every={hub.cull_every or 300}",
            f"--config={CULLER_CONFIG}",
        ],
        "environment": dict(env),
    }


def roles(hub: ManagedHub) -> list[dict[str, Any]]:
    """The roles ``configure()`` adds to ``c.JupyterHub.load_roles``."""
    found = [
        {
            "name": "user",
            "description": "Standard user privileges, plus the jhub-managed pages",
            "scopes": ["self"] + [f"access:services!service={name}" for name in hub.services],
        },
        {
            "name": SETTINGS_ROLE,
            "description": "Edit this hub's profiles, announcement and branding",
            "scopes": [SETTINGS_SCOPE, "access:services!service=config"],
            "groups": list(hub.settings_editor_groups),
        },
        {
            "name": USAGE_ROLE,
            "description": "Read everyone's usage reports and the usage metrics",
            "scopes": [USAGE_SCOPE, "access:services!service=usage"],
            "groups": list(hub.usage_report_groups),
        },
        # security: hub admins hold the suite's scopes through a role whose members
        # follow the hub's admin users (see jhub_managed.hubside.roles)
        {
            "name": ADMINS_ROLE,
            "description": "What the hub's admins may do in the jhub-managed services "
            "(its members are the hub's admin users, kept in step by jhub-managed)",
            "scopes": list(ADMIN_SCOPES),
        },
    ]
    if hub.idle_timeout:
        found.append(_culler_role())
    found += [_service_role(hub, name) for name in hub.services]
    if "health" in hub.services:
        found += health_roles(hub)
    return found


def _culler_role() -> dict[str, Any]:
    return {
        "name": "jhub-managed-idle-culler",
        "description": "Stop servers idle longer than their profile allows",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": [CULLER_SERVICE],
    }


def _service_role(hub: ManagedHub, name: str) -> dict[str, Any]:
    scopes = list(SERVICE_SCOPES[name])
    if name == "health":
        scopes += health_check_user_scopes(hub)
        if "usage" in hub.services:
            # the usage-collector check reads the collector's last poll in the usage metrics
            scopes += [USAGE_SCOPE, "access:services!service=usage"]
    return {
        "name": f"jhub-managed-{name}-service",
        "description": f"What the jhub-managed {name} service may do",
        "scopes": scopes,
        "services": [name],
    }


def health_check_user_scopes(hub: ManagedHub) -> list[str]:
    """What the health service may do to its check user (and nobody else)."""
    user = hub.health_check_user
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


def health_roles(hub: ManagedHub) -> list[dict[str, Any]]:
    return [
        {
            "name": HEALTH_ROLE,
            "description": "Run the health service's deep check on demand",
            "scopes": [HEALTH_SCOPE, "access:services!service=health"],
            "users": sorted(hub.staff_users),
            "groups": list(hub.health_operator_groups),
        },
        {
            # listing the check user in a role makes the hub create it at start
            "name": "jhub-managed-health-check-user",
            "description": "The health service's check user",
            "scopes": ["self"],
            "users": [hub.health_check_user],
        },
    ]


def wire_services(c: Config, hub: ManagedHub) -> None:
    """The services (after any the configuration has), their scopes and roles."""
    existing = configured(c.JupyterHub, "services", [])
    ours = service_definitions(hub)
    clash = sorted({s["name"] for s in existing} & {s["name"] for s in ours})
    if CULLER_SERVICE in clash:
        raise ConfigureError(
            f"a service named {CULLER_SERVICE!r} is already configured: remove it, or set "
            "idle_timeout=0 to keep your own"
        )
    if clash:
        raise ConfigureError(f"a service named {clash[0]!r} is already configured")
    c.JupyterHub.services = existing + ours

    scopes = configured(c.JupyterHub, "custom_scopes", {})
    scopes.update({name: {"description": text} for name, text in CUSTOM_SCOPES.items()})
    c.JupyterHub.custom_scopes = scopes
    c.JupyterHub.load_roles = merge_roles(configured(c.JupyterHub, "load_roles", []), roles(hub))
    follow_admins()
