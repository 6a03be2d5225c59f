"""The branding form: every branding key as a text field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .fields import Get

BRANDING_FIELDS = ("organization_name", "organization_url", "logo_url", "funded_by", "contact")


def branding_to_view(branding: Mapping[str, Any] | None) -> dict[str, str]:
    branding = branding or {}
    return {key: str(branding.get(key) or "") for key in BRANDING_FIELDS}


def branding_from_form(get: Get) -> dict[str, str]:
    """Every branding key, empty ones as ``""`` so they don't fall back to the deployment's."""
    return {key: get(key).strip() for key in BRANDING_FIELDS}


BRANDING_FIELD_MAP = {f"/{key}": key for key in BRANDING_FIELDS} | {"": "organization_name"}
