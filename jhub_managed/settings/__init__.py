"""The hub's settings document: schema, layered resolution, group filtering and validation.

Everything here is pure: no I/O, no JupyterHub imports. The spawner, the services and the
templates build on it.
"""

from .ceilings import Ceilings, override_errors
from .errors import SettingsError
from .layers import resolve_layers
from .profiles import (
    ProfileRequestError,
    ProfileSelection,
    fullmatch_any,
    profiles_for_groups,
    select_profile,
)
from .schema import MAX_DOCUMENT_BYTES, SETTINGS_SCHEMA, settings_schema
from .validate import document_errors

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "SETTINGS_SCHEMA",
    "Ceilings",
    "ProfileRequestError",
    "ProfileSelection",
    "SettingsError",
    "document_errors",
    "fullmatch_any",
    "override_errors",
    "profiles_for_groups",
    "resolve_layers",
    "select_profile",
    "settings_schema",
]
