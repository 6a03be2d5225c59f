"""The suite's scope, role and service names, in one place (as JupyterHub's ``scopes.py``).

Pure data: read by the hub's wiring, the services, the templates and the docs.
"""

from __future__ import annotations

#: the custom scope whose holders may edit the hub's settings
SETTINGS_SCOPE = "custom:jhub-managed:settings"
SETTINGS_ROLE = "jhub-managed-settings-editors"
#: the custom scope whose holders may run the health service's deep check on demand
HEALTH_SCOPE = "custom:jhub-managed:health"
HEALTH_ROLE = "jhub-managed-health-operators"
#: the custom scope whose holders may read everyone's usage reports and the usage metrics
USAGE_SCOPE = "custom:jhub-managed:usage-reports"
USAGE_ROLE = "jhub-managed-usage-readers"
#: the role hub admins hold besides JupyterHub's own ``admin`` role
ADMINS_ROLE = "jhub-managed-admins"
#: the scopes every hub admin holds, through the role :data:`ADMINS_ROLE`
ADMIN_SCOPES = (SETTINGS_SCOPE, USAGE_SCOPE)
#: the custom scopes the suite adds to the hub, with what each allows
CUSTOM_SCOPES = {
    SETTINGS_SCOPE: "Edit this hub's profiles, announcement and branding",
    HEALTH_SCOPE: "Run the health service's deep check on demand",
    USAGE_SCOPE: "Read everyone's usage reports and the usage metrics",
}

SERVICE_NAMES = ("config", "usage", "health")
CULLER_SERVICE = "idle-culler"
#: the custom scope each service's OAuth tokens carry, so the service can see who holds it
SERVICE_OAUTH_SCOPES = {"config": SETTINGS_SCOPE, "health": HEALTH_SCOPE, "usage": USAGE_SCOPE}

#: what each service may do with the hub's API, no more
SERVICE_SCOPES = {
    "config": ["list:groups", "read:groups:name"],
    # users with their groups; their servers with user_options, started and last_activity
    "usage": ["list:users", "read:users:groups", "read:servers"],
    # the proxy scope is for reading the routing table (GET /hub/api/proxy); the check
    # user's scopes are added by jhub_managed.hubside.services.health_check_user_scopes()
    "health": ["read:hub", "list:services", "read:services", "proxy"],
}
