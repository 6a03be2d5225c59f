"""The JSON Schema of a hub's settings document.

The schema is the single source for validation (``validate.py``) and for the reference
documentation. A profile is a kubespawner ``profile_list`` entry, plus ``allowed_groups``
at profile, choice and unlisted-choice level, plus an optional ``idle_timeout``.
"""

from __future__ import annotations

import copy

SLUG_PATTERN = r"^[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?$"
OPTION_KEY_PATTERN = r"^[A-Za-z0-9][-A-Za-z0-9_]{0,62}$"
# Kubernetes quantities as kubespawner accepts them: 2, 0.5, "500M", "2G", "1.5Gi"
_MEMORY = {
    "description": "Memory as bytes or with a suffix K, M, G, T (or Ki, Mi, Gi, Ti).",
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?([KMGT]i?)?$", "maxLength": 32},
    ],
}
_CPU = {"description": "CPU cores (may be fractional).", "type": "number", "minimum": 0}
_GROUPS = {
    "description": (
        "Groups whose members may use this. Empty or absent means everyone. "
        "Group names are compared case-insensitively."
    ),
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 255},
    "maxItems": 500,
    "uniqueItems": True,
}

KUBESPAWNER_OVERRIDE = {
    "description": (
        "Spawner settings this profile or choice sets, as in kubespawner's "
        "kubespawner_override. Hub admins may set only the keys below: the rest of "
        "KubeSpawner's settings (security context, volumes, scheduling, service accounts, "
        "...) give whoever sets them control over the operator's nodes. The operator's own "
        "layers (operator_defaults, hub_values) may set any KubeSpawner setting, a hub admin "
        "may keep what they set, and the operator can allow more keys to a trusted hub's "
        "admins with hub_admin_override_keys."
    ),
    "type": "object",
    "properties": {
        "image": {
            "description": "Container image of the server (not used by the local spawner).",
            "type": "string",
            "minLength": 1,
            "maxLength": 512,
        },
        "cpu_guarantee": _CPU,
        "cpu_limit": _CPU,
        "mem_guarantee": _MEMORY,
        "mem_limit": _MEMORY,
        "extra_resource_limits": {
            "description": 'Other resource limits, e.g. ``{"nvidia.com/gpu": 1}`` for GPUs '
            "(at most the operator's gpu_limit). Other resources only as the operator names "
            "them in the ceilings' extra_resources.",
            "type": "object",
            "additionalProperties": {"type": ["string", "integer"]},
        },
        "extra_resource_guarantees": {
            "description": "Other resource requests, as ``extra_resource_limits``.",
            "type": "object",
            "additionalProperties": {"type": ["string", "integer"]},
        },
        "node_selector": {
            "description": "Node labels the server's pod must run on; the operator lists "
            "which selectors are allowed.",
            "type": "object",
            "additionalProperties": {"type": "string"},
        },
        "environment": {
            "description": "Environment variables of the server, except the names JupyterHub, "
            "KubeSpawner, Kubernetes, the server image's start script and jhub-managed set "
            "(JUPYTERHUB_*, JPY_*, KUBERNETES_*, JHUB_MANAGED_*, MEM_LIMIT, CPU_LIMIT, "
            "JUPYTER_IMAGE, NB_UID, GRANT_SUDO, ...).",
            "type": "object",
            "additionalProperties": {"type": "string", "maxLength": 4096},
            "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
        },
        "default_url": {
            "description": "Where the server opens, e.g. ``/lab`` or ``/tree``.",
            "type": "string",
            "maxLength": 255,
        },
    },
    "additionalProperties": False,
}

CHOICE = {
    "type": "object",
    "required": ["display_name"],
    "properties": {
        "display_name": {
            "description": "What users see in the list.",
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
        },
        "description": {
            "description": "A longer explanation.",
            "type": "string",
            "maxLength": 2000,
        },
        "default": {
            "description": "Chosen when the user chooses nothing (else the first choice).",
            "type": "boolean",
        },
        "kubespawner_override": KUBESPAWNER_OVERRIDE,
        "allowed_groups": _GROUPS,
    },
    "additionalProperties": False,
}

UNLISTED_CHOICE = {
    "description": "A free-text choice, for example any image that matches a pattern.",
    "type": "object",
    "properties": {
        "enabled": {"description": "Whether users may type a value.", "type": "boolean"},
        "display_name": {
            "description": "Label of the text field.",
            "type": "string",
            "maxLength": 200,
        },
        "display_name_in_choices": {
            "description": "How the free-text entry appears in the list (default: Other...).",
            "type": "string",
            "maxLength": 200,
        },
        "validation_regex": {
            "description": "Regular expression the whole value must match.",
            "type": "string",
            "maxLength": 1000,
        },
        "validation_message": {
            "description": "Shown when a value does not match ``validation_regex``.",
            "type": "string",
            "maxLength": 500,
        },
        "kubespawner_override": {
            **KUBESPAWNER_OVERRIDE,
            "description": "As a choice's, with ``{value}`` replaced by what the user typed.",
        },
        "allowed_groups": _GROUPS,
    },
    "additionalProperties": False,
}

PROFILE_OPTION = {
    "type": "object",
    "required": ["display_name"],
    "properties": {
        "display_name": {
            "description": "Label of the option.",
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
        },
        "choices": {
            "description": "The choices, by key; the key is what requests and links send.",
            "type": "object",
            "propertyNames": {"pattern": OPTION_KEY_PATTERN},
            "additionalProperties": CHOICE,
            "maxProperties": 200,
        },
        "unlisted_choice": UNLISTED_CHOICE,
    },
    "additionalProperties": False,
}

PROFILE = {
    "type": "object",
    "required": ["display_name", "slug"],
    "properties": {
        "display_name": {
            "description": "Name of the profile, as users see it.",
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
        },
        "slug": {
            "description": "Stable identifier of the profile, used in launch links and reports.",
            "type": "string",
            "pattern": SLUG_PATTERN,
        },
        "description": {
            "description": "What the profile is for, shown on its card.",
            "type": "string",
            "maxLength": 4000,
        },
        "default": {
            "description": "Preselected on the spawn page (at most one profile).",
            "type": "boolean",
        },
        "kubespawner_override": KUBESPAWNER_OVERRIDE,
        "profile_options": {
            "description": "Choices users make within the profile, by key.",
            "type": "object",
            "propertyNames": {"pattern": OPTION_KEY_PATTERN},
            "additionalProperties": PROFILE_OPTION,
            "maxProperties": 20,
        },
        "allowed_groups": _GROUPS,
        "idle_timeout": {
            "description": "Seconds of inactivity after which servers of this profile are culled.",
            "type": "integer",
            "minimum": 60,
        },
    },
    "additionalProperties": False,
}

ANNOUNCEMENT = {
    "description": "A message shown on the hub's pages.",
    "type": "object",
    "properties": {
        "text": {
            "description": "Markdown (a safe subset: no raw HTML).",
            "type": "string",
            "maxLength": 5000,
        },
        "level": {
            "description": "How it looks: info (blue), warning (yellow) or danger (red).",
            "type": "string",
            "enum": ["info", "warning", "danger"],
        },
        "starts_at": {
            "description": "When it starts showing (ISO 8601; none: now).",
            "type": ["string", "null"],
            "format": "date-time",
        },
        "expires_at": {
            "description": "When it stops showing (ISO 8601; none: never).",
            "type": ["string", "null"],
            "format": "date-time",
        },
        "show_on": {
            "description": "Pages it shows on (default: all of login, home and spawn).",
            "type": "array",
            "items": {"type": "string", "enum": ["login", "home", "spawn"]},
            "uniqueItems": True,
        },
    },
    "additionalProperties": False,
}

_URL = {"type": "string", "maxLength": 2000, "pattern": r"^(https?://\S+)?$"}

BRANDING = {
    "description": "How the hub presents itself on its login page.",
    "type": "object",
    "properties": {
        "organization_name": {
            "description": "Shown above the login form.",
            "type": "string",
            "maxLength": 200,
        },
        "organization_url": {**_URL, "description": "Where the organization name links to."},
        "logo_url": {**_URL, "description": "Logo shown above the login form (http or https)."},
        "funded_by": {
            "description": "Who funds this hub, shown under the login form.",
            "type": "string",
            "maxLength": 500,
        },
        "contact": {
            "description": "Who users ask for help: an e-mail address or a URL.",
            "type": "string",
            "maxLength": 500,
        },
    },
    "additionalProperties": False,
}

BUDGETS = {
    "description": (
        "Monthly budgets of groups, by group name: server-hours, or cost in the rate "
        "card's currency. Members see a notice at 80 % and 100 %; nothing is stopped. "
        "A group's budget here replaces the operator's for that group."
    ),
    "type": "object",
    "propertyNames": {"minLength": 1, "maxLength": 255},
    "maxProperties": 500,
    "additionalProperties": {
        "type": "object",
        "properties": {
            "server_hours": {
                "description": "Server-hours the group may use in a calendar month (UTC).",
                "type": "number",
                "exclusiveMinimum": 0,
            },
            "cost": {
                "description": "What the group may spend in a calendar month (UTC), in the "
                "currency of the operator's rate card.",
                "type": "number",
                "exclusiveMinimum": 0,
            },
        },
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
    },
}

SETTINGS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://jhub-managed.readthedocs.io/schema/settings.json",
    "title": "jhub-managed hub settings",
    "type": "object",
    "properties": {
        "profiles": {
            "description": "What users may start, in the order shown.",
            "type": "array",
            "items": PROFILE,
            "maxItems": 500,
        },
        "announcement": ANNOUNCEMENT,
        "branding": BRANDING,
        "budgets": BUDGETS,
    },
    "additionalProperties": False,
}

#: Largest settings document accepted, as JSON text.
MAX_DOCUMENT_BYTES = 1_000_000


def settings_schema() -> dict:
    """A copy of the settings schema (what hub admins may save), safe to change."""
    return copy.deepcopy(SETTINGS_SCHEMA)


def _open_overrides(schema: dict) -> dict:
    """``schema`` with every ``kubespawner_override`` open to any KubeSpawner key."""
    opened = copy.deepcopy(schema)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            override = (node.get("properties") or {}).get("kubespawner_override")
            if isinstance(override, dict):
                override["additionalProperties"] = True
                # KubeSpawner's environment values: text, None (the variable removed) or
                # an EnvVar's fields (valueFrom); hub admins' own values stay text
                environment = override["properties"]["environment"]
                environment["additionalProperties"] = {
                    "anyOf": [
                        environment["additionalProperties"],
                        {"type": "null"},
                        {"type": "object"},
                    ]
                }
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(opened)
    return opened


#: The same document as the operator's layers may write it: ``kubespawner_override`` takes any
#: KubeSpawner key. A resolved document (the operator's layers with the hub admins' edits on
#: top) is checked against this; what the hub admins' own edits set is checked key by key
#: (:mod:`jhub_managed.settings.allowlist`).
OPERATOR_SETTINGS_SCHEMA = _open_overrides(SETTINGS_SCHEMA)
