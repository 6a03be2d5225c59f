"""What the hub's own pages say about the suite: the tab title and the Services menu.

Pure data and functions, used by :mod:`jhub_managed.hubside.templates` for the hub's templates
and by the settings service (its pages carry the same title).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: the suite's services in the hub's "Services" menu: what each is, and for whom.
#: ``for_editors``: shown only to hub admins and holders of the settings scope.
SERVICE_MENU: dict[str, dict[str, Any]] = {
    "config": {
        "label": "Hub settings",
        "description": "Profiles, announcement and branding of this hub",
        "for_editors": True,
    },
    "usage": {
        "label": "My usage",
        "description": "Your servers and the hours they ran",
        "for_editors": False,
    },
    "health": {
        "label": "Hub status",
        "description": "Whether every part of this hub works",
        "for_editors": False,
    },
}


def hub_title(document: Mapping[str, Any], hub_name: str) -> str:
    """The name in the browser's tab: the organization hub admins named, else the hub's."""
    branding = document.get("branding") or {}
    return str(branding.get("organization_name") or hub_name)
