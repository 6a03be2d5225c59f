"""``configure()``'s step for the hub's templates: the suite's template path, and template
variables that put the hub admins' announcement and branding on hub pages.

JupyterHub calls each callable with the current user (``None`` on the login page) while it
renders a page. They read the hub's settings snapshot, never the store: no page waits for the
database, every variable of one page comes from the same snapshot (it is replaced only
between two callbacks of the event loop), and an edit shows within the snapshot's refresh
interval, without restart.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from traitlets.config import Config

from ..hub_pages import SERVICE_MENU, hub_title
from ..scopes import SETTINGS_SCOPE
from ..settings.announcement import announcement_html
from ..store.source import SettingsSnapshot
from .config_values import add_template_vars, configured

if TYPE_CHECKING:
    from ..options.managedhub import ManagedHub

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates")


def wire_templates(c: Config, hub: ManagedHub, snapshot: SettingsSnapshot) -> None:
    """The suite's hub templates before any the configuration names, and (unless
    ``announcement_in_templates`` is off) the announcement and branding variables."""
    paths = configured(c.JupyterHub, "template_paths", [])
    hub_templates = os.path.join(TEMPLATES, "hub")
    if hub_templates not in paths:
        c.JupyterHub.template_paths = [hub_templates, *paths]
    if hub.announcement_in_templates:
        add_template_vars(c, template_vars(hub, snapshot))


def template_vars(hub: ManagedHub, source: SettingsSnapshot) -> dict[str, Any]:

    def announcement_for(page: str):
        def render(user=None) -> str:
            document = source.current().document
            return announcement_html(document.get("announcement"), page)

        return render

    def branding(user=None) -> dict[str, Any]:
        return dict(source.current().document.get("branding") or {})

    def title(user=None) -> str:
        return hub_title(source.current().document, hub.hub_name)

    def announcement_level(user=None) -> str:
        announcement = source.current().document.get("announcement") or {}
        return announcement.get("level") or "info"

    return {
        "announcement_login": announcement_for("login"),
        "announcement_home": announcement_for("home"),
        "announcement_spawn": announcement_for("spawn"),
        "jhm_announcement_level": announcement_level,
        "jhm_branding": branding,
        "jhm_hub_name": hub.hub_name,
        # the hub's pages (templates/hub/page.html): tab title and Services menu
        "jhm_title": title,
        "jhm_services": SERVICE_MENU,
        "jhm_settings_scope": SETTINGS_SCOPE,
    }
