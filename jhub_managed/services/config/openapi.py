"""The OpenAPI 3.1 document of the settings API, served at ``/api/openapi.json``.

The settings document's schema is the one ``jhub_managed.settings.schema`` validates with,
so the API's description can't drift from what it accepts.
"""

from __future__ import annotations

import copy
from typing import Any

from ..._version import __version__
from ...settings.schema import OPERATOR_SETTINGS_SCHEMA
from .editor import MAX_COMMENT_LENGTH, MAX_VERSION

_INT_VERSION = {"type": "integer", "minimum": 0, "maximum": MAX_VERSION}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = headers
    return response


_ETAG_HEADER = {
    "ETag": {
        "description": 'The version of the settings in force, quoted, e.g. "3".',
        "schema": {"type": "string"},
    }
}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {
        400: (
            "Error",
            "The request or the settings are not valid: every problem, with its "
            'JSON-pointer path into the settings document ("" for the request itself).',
        ),
        403: ("Error", "Not logged in, or not a hub admin or holder of the settings scope."),
        404: ("Error", "No such version."),
        409: (
            "Conflict",
            "Someone saved a newer version than the one named in If-Match. Nothing was saved.",
        ),
        413: ("Error", "The request body is too large."),
        428: ("Error", "If-Match is missing."),
    }
    return {str(s): _json(_ref(words[s][0]), words[s][1]) for s in statuses}


def openapi_document(prefix: str = "/services/config/") -> dict[str, Any]:
    # What GET answers holds the operator's layers as they wrote them (profiles as
    # KubeSpawner takes them, keys it does not read, widened kubespawner_override keys), and
    # a hub admin may send that back: the document describes what may be sent and served.
    # The service itself answers 400 for what a hub admin adds beyond the settings schema
    # and this hub's allow-list.
    settings = copy.deepcopy(OPERATOR_SETTINGS_SCHEMA)
    for key in ("$schema", "$id"):
        settings.pop(key, None)
    if_match = {
        "name": "If-Match",
        "in": "header",
        "description": 'The ETag of the settings the change starts from (e.g. "3"), or * to '
        "save over whatever version is current.",
        "schema": {"type": "string"},
    }
    version_param = {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": _INT_VERSION,
        "description": "A version number; 0 is the deployment's settings, before any edit.",
    }
    summary = {
        "type": "object",
        "required": ["version", "created", "author", "comment", "restored_from"],
        "properties": {
            "version": _INT_VERSION,
            "created": {"type": ["string", "null"], "description": "ISO 8601, UTC"},
            "author": {"type": ["string", "null"]},
            "comment": {"type": "string"},
            "restored_from": {"type": ["integer", "null"]},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jhub-managed settings API",
            "version": __version__,
            "description": (
                "Read and change this hub's settings: profiles, announcement and branding. "
                "For hub admins and holders of the custom:jhub-managed:settings scope. "
                "Authenticate with a JupyterHub API token: `Authorization: token <token>`.\n\n"
                "GET /api/settings answers the resolved settings (operator defaults, then the "
                "hub's values, then the newest saved version) and their version, also as ETag. "
                "PUT stores the document you send as the new top layer, over the operator "
                "defaults and hub values: mappings merge key by key, lists replace whole, so "
                'send a key empty ("" or null) to clear a value the deployment sets. Every '
                "save makes a new version; nothing is overwritten. Version 0 means nothing "
                "was saved yet."
            ),
        },
        "servers": [{"url": prefix.rstrip("/")}],
        "security": [{"token": []}],
        "paths": {
            "/api/settings": {
                "get": {
                    "operationId": "getSettings",
                    "summary": "The settings in force",
                    "responses": {
                        "200": _json(_ref("VersionedSettings"), "The settings", _ETAG_HEADER),
                        "304": {"description": "Not modified (If-None-Match named this ETag)"},
                        **_errors(403),
                    },
                },
                "put": {
                    "operationId": "putSettings",
                    "summary": "Save a new version of the settings",
                    "parameters": [if_match],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("SettingsChange")}},
                    },
                    "responses": {
                        "200": _json(_ref("VersionedSettings"), "Saved", _ETAG_HEADER),
                        **_errors(400, 403, 409, 413, 428),
                    },
                },
            },
            "/api/history": {
                "get": {
                    "operationId": "getHistory",
                    "summary": "Saved versions, newest first",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                        {
                            "name": "before",
                            "in": "query",
                            "description": "Only versions before this one (for paging back)",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_VERSION},
                        },
                    ],
                    "responses": {
                        "200": _json(_ref("History"), "The history"),
                        **_errors(400, 403),
                    },
                }
            },
            "/api/history/{version}": {
                "get": {
                    "operationId": "getVersion",
                    "summary": "One version: what it stored and what it resolves to today",
                    "parameters": [version_param],
                    "responses": {
                        "200": _json(_ref("VersionDetail"), "The version"),
                        **_errors(403, 404),
                    },
                }
            },
            "/api/history/{version}/restore": {
                "post": {
                    "operationId": "restoreVersion",
                    "summary": "Save what a version stored as a new version",
                    "parameters": [version_param, if_match],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": _ref("RestoreRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("Restored"), "Restored as a new version", _ETAG_HEADER),
                        **_errors(400, 403, 404, 409, 413),
                    },
                }
            },
            "/api/diff": {
                "get": {
                    "operationId": "getDiff",
                    "summary": "What changed between two versions",
                    "parameters": [
                        {"name": "from", "in": "query", "schema": _INT_VERSION},
                        {"name": "to", "in": "query", "schema": _INT_VERSION},
                    ],
                    "responses": {
                        "200": _json(_ref("Diff"), "The changes"),
                        **_errors(400, 403, 404),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "getOpenAPI",
                    "summary": "This document",
                    "responses": {
                        "200": _json({"type": "object"}, "OpenAPI 3.1"),
                        **_errors(403),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`token <JupyterHub API token>`",
                }
            },
            "schemas": {
                "Settings": settings,
                "VersionedSettings": {
                    "type": "object",
                    "required": ["version", "settings"],
                    "properties": {"version": _INT_VERSION, "settings": _ref("Settings")},
                },
                "SettingsChange": {
                    "type": "object",
                    "required": ["settings"],
                    "properties": {
                        "settings": _ref("Settings"),
                        "comment": {
                            "type": "string",
                            "maxLength": MAX_COMMENT_LENGTH,
                            "description": "Why: shown in the history.",
                        },
                    },
                    "additionalProperties": False,
                },
                "RestoreRequest": {
                    "type": "object",
                    "properties": {"comment": {"type": "string", "maxLength": MAX_COMMENT_LENGTH}},
                    "additionalProperties": False,
                },
                "Restored": {
                    "type": "object",
                    "required": ["version", "settings", "restored_from"],
                    "properties": {
                        "version": _INT_VERSION,
                        "settings": _ref("Settings"),
                        "restored_from": _INT_VERSION,
                    },
                },
                "VersionSummary": summary,
                "History": {
                    "type": "object",
                    "required": ["current_version", "versions", "next_before"],
                    "properties": {
                        "current_version": _INT_VERSION,
                        "versions": {"type": "array", "items": _ref("VersionSummary")},
                        "next_before": {
                            "type": ["integer", "null"],
                            "description": "Pass as `before` for the next page; null at the end",
                        },
                    },
                },
                "VersionDetail": {
                    **copy.deepcopy(summary),
                    "required": [*summary["required"], "settings", "stored"],
                    "properties": {
                        **copy.deepcopy(summary["properties"]),
                        "settings": _ref("Settings"),
                        "stored": {
                            "type": "object",
                            "description": "The layer this version stored, as sent",
                        },
                    },
                },
                "Diff": {
                    "type": "object",
                    "required": ["from", "to", "changes"],
                    "properties": {
                        "from": _INT_VERSION,
                        "to": _INT_VERSION,
                        "changes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["path", "label", "kind", "old", "new"],
                                "properties": {
                                    "path": {"type": "array", "items": {"type": "string"}},
                                    "label": {"type": "string"},
                                    "kind": {"enum": ["added", "removed", "changed", "reordered"]},
                                    "old": {},
                                    "new": {},
                                },
                            },
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {
                        "status": {"type": "integer"},
                        "message": {"type": "string"},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["path", "message"],
                                "properties": {
                                    "path": {
                                        "type": "string",
                                        "description": "JSON pointer into the settings",
                                    },
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "Conflict": {
                    "type": "object",
                    "required": ["status", "message", "version", "expected_version"],
                    "properties": {
                        "status": {"type": "integer"},
                        "message": {"type": "string"},
                        "version": {**_INT_VERSION, "description": "The newest version"},
                        "expected_version": {
                            "type": "integer",
                            "description": "The version the request started from",
                        },
                    },
                },
            },
        },
    }
