"""The settings service application: pages and REST API at ``/services/config/``.

Only requests whose token carries the settings scope (``custom:jhub-managed:settings``; hub
admins hold it through their role, ``settings_editor_groups`` through theirs) may use any
route; everyone else gets 403.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from traitlets import default

from ...hub_pages import hub_title
from ...scopes import SETTINGS_SCOPE
from ...settings import Ceilings
from ...settings.allowlist import AdminAllowList
from ...store.source import SettingsSource
from ..base import ServiceApp
from ..hubapi import HubAPI
from . import pages
from .api import (
    APINotFound,
    DiffAPIHandler,
    EncodedSettings,
    HistoryAPIHandler,
    OpenAPIHandler,
    RestoreAPIHandler,
    SettingsAPIHandler,
    VersionAPIHandler,
)
from .editor import SettingsEditor
from .groups import HubGroups
from .handlers import EditorHandler

__all__ = ["ConfigService", "EditorHandler"]

#: a profile's slug in a page's path, URL-encoded: any text (the operator's may be any)
_PROFILE = r"(.+)"


def format_when(value: str | None) -> str:
    """An ISO time from the store as ``2026-01-31 09:00 UTC``."""
    if not value:
        return ""
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M UTC")


class ConfigService(ServiceApp):
    service_name = "config"
    title = "Hub settings"

    @default("log_level")
    def _default_log_level(self):
        # every change is logged at INFO, with author and version: keep those
        return logging.INFO

    def init_service(self) -> None:
        hub = self.managed_hub
        self.settings_scope = SETTINGS_SCOPE
        self.ceilings = Ceilings.from_config(hub.ceilings)
        self.source = SettingsSource.for_hub(hub, log=self.log)
        self.editor = SettingsEditor(
            self.source,
            self.ceilings,
            log=self.log,
            allow=AdminAllowList.from_config(hub.hub_admin_override_keys),
        )
        self.groups = HubGroups(HubAPI(), self.log)
        #: saves and restores run here, one at a time, off the event loop
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="settings-writer")
        self.jinja_env.filters["when"] = format_when
        self.encoded = EncodedSettings(self.source)

    def hub_title(self) -> str:
        try:
            document = self.source.current().document
        except Exception:  # the settings could not be read: the hub's name will do
            document = {}
        return hub_title(document, self.managed_hub.hub_name)

    def handlers(self):
        # every route gets what it uses, and nothing else, through its initialize()
        editor = {
            "editor": self.editor,
            "settings_scope": self.settings_scope,
            "writer": self.writer,
        }
        page = {**editor, "prefix": self.prefix}
        with_groups = {**page, "groups": self.groups}
        preview = {**with_groups, "image_applies": self.managed_hub.spawner != "local"}
        return [
            ("", pages.ProfilesPage, page),
            ("profiles", pages.ProfilesPage, page),
            ("profiles/new", pages.ProfileEditPage, preview),
            (f"profiles/edit/{_PROFILE}", pages.ProfileEditPage, preview),
            ("announcement", pages.AnnouncementPage, page),
            ("branding", pages.BrandingPage, page),
            (
                "budgets",
                pages.BudgetsPage,
                {
                    **with_groups,
                    "operator_budgets": self.managed_hub.usage_budgets,
                    "rate_card": self.managed_hub.usage_rate_card,
                },
            ),
            ("preview", pages.PreviewPage, preview),
            ("history", pages.HistoryPage, page),
            ("history/diff", pages.DiffPage, page),
            (r"history/([0-9]+)/restore", pages.RestorePage, page),
            ("api/settings", SettingsAPIHandler, {**editor, "encoded": self.encoded}),
            ("api/history", HistoryAPIHandler, editor),
            (r"api/history/([0-9]+)", VersionAPIHandler, editor),
            (r"api/history/([0-9]+)/restore", RestoreAPIHandler, editor),
            ("api/diff", DiffAPIHandler, editor),
            ("api/openapi.json", OpenAPIHandler, {**editor, "prefix": self.prefix}),
            ("api/.*", APINotFound, editor),
        ]

    async def cleanup(self) -> None:
        self.writer.shutdown(wait=True)
        self.source.store.dispose()
