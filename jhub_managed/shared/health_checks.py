"""Every check of the health service: its name, what it looks at, and whether it is required
by default. Pure data, read by ``configure()`` (to validate options), the service and the docs.
"""

from __future__ import annotations

#: name -> (what it checks, required by default)
CHECKS: dict[str, tuple[str, bool]] = {
    "hub-api": ("The hub's REST API answers (``GET /hub/api/``).", True),
    "hub-database": (
        "The hub can write to its database: the service records activity for the check user "
        "through the API and reads it back. JupyterHub's own ``/hub/health`` stays 200 on a "
        "read-only database; this check does not.",
        True,
    ),
    "proxy-routes": (
        "The proxy's routing table (``GET /hub/api/proxy``) has the hub's route and one for "
        "every service with a URL.",
        True,
    ),
    "settings-store": (
        "The jhub-managed store can be read and is at the newest migration.",
        True,
    ),
    "spawner-settings": (
        "At its last spawn the spawner read the current settings (not a last-known-good copy "
        "kept because the store could not be read), and no stored profile of the current "
        "settings version was refused at spawn.",
        False,
    ),
    "usage-collector": (
        "The usage service's collector polled the hub recently (within "
        "``health_usage_max_age``), as its metrics say; skipped without the usage service.",
        False,
    ),
    "spawner-backend": (
        "The spawner's backend answers: the Kubernetes API's ``/version``, with KubeSpawner's "
        "own client configuration; skipped on the local spawner (nothing to reach).",
        True,
    ),
    "identity-provider": (
        "The identity provider's discovery document or API endpoint answers (any answer "
        "below 500 within the timeout); skipped with password logins (nothing to reach).",
        True,
    ),
    "data-disk": (
        "Free space on the hub's data directory is above ``health_min_free_percent`` and "
        "``health_min_free_mib``.",
        True,
    ),
    "home-disk": (
        "Free space on the home volume (``health_home_volume``) is above the same thresholds; "
        "skipped when no home volume is mounted in the hub.",
        False,
    ),
    "idle-culler": (
        "The idle culler service's process is running; skipped when it is off (``idle_timeout`` "
        "is 0).",
        False,
    ),
    "deep-check": (
        "The last deep check passed: the check user started a server with the default "
        "profile, ran ``1 + 1`` in a kernel through the server's REST and WebSocket API, and "
        "stopped it.",
        False,
    ),
}

DEFAULT_REQUIRED = [name for name, (_, required) in CHECKS.items() if required]
