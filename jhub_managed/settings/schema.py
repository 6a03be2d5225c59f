"""The JSON Schema of a hub's settings document.

The schema is the single source for validation (``validate.py``) and for the reference
documentation. A profile is a kubespawner ``profile_list`` entry, plus ``allowed_groups``
at profile, choice and unlisted-choice level, plus an optional ``idle_timeout``.

Three views of one schema:

- :data:`SETTINGS_SCHEMA`, what a hub admin may write (documented, published in the API);
- :data:`ADMIN_SETTINGS_SCHEMA`, the same with ``kubespawner_override`` open to any key, for
  the allow-list (``allowlist.py``) to judge key by key;
- :data:`OPERATOR_SETTINGS_SCHEMA`, what the operator's layers may write: whatever
  KubeSpawner takes in a ``profile_list``, keys it does not read included (spawn-page
  extensions add their own), kept as they are.

The last two are derived from the first by :mod:`.schema_views`.
"""

from __future__ import annotations

import copy

from .schema_views import open_overrides, operator_schema

SLUG_PATTERN = r"^[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?$"
OPTION_KEY_PATTERN = r"^[A-Za-z0-9][-A-Za-z0-9_]{0,62}$"
# Kubernetes quantities as kubespawner accepts them: 2, 0.5, "500M", "2G", "1.5Gi"; null is
# KubeSpawner's way to say "none" (no limit, no guarantee)
_MEMORY = {
    "description": "Memory as bytes or with a suffix K, M, G, T (or Ki, Mi, Gi, Ti); "
    "``null``: none.",
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?([KMGT]i?)?$", "maxLength": 32},
        {"type": "null"},
    ],
}
_CPU = {
    "description": "CPU cores (may be fractional); ``null``: none.",
    "type": ["number", "null"],
    "minimum": 0,
}
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
        "slug": {
            "description": "A name of the choice for spawn-page extensions "
            "(jupyterhub-fancy-profiles' links); KubeSpawner does not read it.",
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
        },
    },
    "additionalProperties": False,
}

#: the settings of a free-text choice's override that may be the typed value itself
_QUANTITIES = ("cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit")
_TYPED_VALUE = {
    "description": "Text with ``{value}``, filled in with what the user typed (judged then).",
    "type": "string",
    "pattern": r"\{value\}",
}


def _typed(prop: dict) -> dict:
    """``prop``, or text that the typed value fills in (``mem_limit: "{value}"``)."""
    if "anyOf" in prop:
        return {**prop, "anyOf": [*prop["anyOf"], _TYPED_VALUE]}
    own = {k: v for k, v in prop.items() if k != "description"}
    return {"description": prop["description"], "anyOf": [own, _TYPED_VALUE]}


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
            "properties": {
                **KUBESPAWNER_OVERRIDE["properties"],
                **{key: _typed(KUBESPAWNER_OVERRIDE["properties"][key]) for key in _QUANTITIES},
            },
        },
        "allowed_groups": _GROUPS,
        "description": {
            "description": "A longer explanation of the text field, for spawn-page "
            "extensions (jupyterhub-fancy-profiles); KubeSpawner does not read it.",
            "type": "string",
            "maxLength": 2000,
        },
        "description_in_choices": {
            "description": "An explanation of the free-text entry in the list, for spawn-page "
            "extensions (jupyterhub-fancy-profiles); KubeSpawner does not read it.",
            "type": "string",
            "maxLength": 2000,
        },
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
        "dynamic_image_building": {
            "description": "Whether jupyterhub-fancy-profiles offers to build an image from a "
            "repository (with a BinderHub service) for this option; the image is still "
            "checked as an unlisted choice's. KubeSpawner does not read it.",
            "type": "object",
            "properties": {"enabled": {"type": "boolean"}},
            "additionalProperties": False,
        },
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


#: What the hub admins' edits are judged with: the settings schema with ``kubespawner_override``
#: open to any KubeSpawner key, whose keys the allow-list judges
#: (:mod:`jhub_managed.settings.allowlist`).
ADMIN_SETTINGS_SCHEMA = open_overrides(SETTINGS_SCHEMA)

#: The document as the operator's layers may write it (``operator_defaults``, ``hub_values``,
#: a ``profile_list`` in the config): profiles as KubeSpawner takes them, keys it does not read
#: kept. Announcement, branding and budgets are the suite's own and stay as in the settings
#: schema.
OPERATOR_SETTINGS_SCHEMA = operator_schema(SETTINGS_SCHEMA)
