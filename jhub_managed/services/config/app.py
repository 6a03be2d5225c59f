"""The settings service application: pages and REST API at ``/services/config/``.

Only hub admins and holders of the settings scope (``custom:jhub-managed:settings``, given
to ``settings_editor_groups``) may use any route; everyone else gets 403.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from sqlalchemy import func, select
from traitlets import default

from ...settings import Ceilings
from ...store import SettingsStore, SettingsVersion
from ...store.source import ResolvedSettings, SettingsSource
from ..base import ServiceApp
from ..hubapi import HubAPI
from . import api, pages
from .editor import SettingsEditor
from .groups import HubGroups
from .handlers import EditorHandler, may_edit

__all__ = ["ConfigService", "EditorHandler", "may_edit"]

_PROFILE = r"([a-z0-9][-a-z0-9_]{0,62})"
_CURRENT_VERSION = select(func.max(SettingsVersion.version))


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
        config = self.suite_config
        self.settings_scope = config.get("settings_scope", "custom:jhub-managed:settings")
        self.ceilings = Ceilings.from_config(config.get("ceilings"))
        self.source = SettingsSource(
            config["db_url"],
            operator_defaults=config.get("operator_defaults"),
            hub_values=config.get("hub_values"),
            log=self.log,
        )
        self.editor = SettingsEditor(self.source, self.ceilings, log=self.log)
        self.groups = HubGroups(HubAPI(), self.log)
        #: saves and restores run here, one at a time, off the event loop
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="settings-writer")
        self.jinja_env.filters["when"] = format_when
        self._encoded: tuple[int, int, bytes] | None = None
        self._encoded_lock = threading.Lock()

    @property
    def store(self) -> SettingsStore:
        return self.source.store

    def encoded_settings(self, current: ResolvedSettings) -> bytes:
        """``{"version", "settings"}`` as JSON, made once per version."""
        cached = self._encoded
        if cached and cached[0] == current.version and cached[1] == id(current.document):
            return cached[2]
        body = json.dumps({"version": current.version, "settings": current.document}).encode()
        with self._encoded_lock:
            self._encoded = (current.version, id(current.document), body)
        return body

    def settings_response(self) -> tuple[int, bytes]:
        """The version in force and the body of ``GET /api/settings``.

        The one query per request is a bare ``SELECT max(version)``; the document is
        resolved and encoded once per version. When the store can't be read, the
        settings source answers with the last settings it could (and logs why).
        """
        cached = self._encoded
        if cached is not None:
            try:
                with self.store.engine.connect() as connection:
                    version = connection.execute(_CURRENT_VERSION).scalar() or 0
            except Exception:
                version = None
            if version == cached[0]:
                return version, cached[2]
        current = self.source.current()
        return current.version, self.encoded_settings(current)

    def handlers(self):
        return [
            ("", pages.ProfilesPage),
            ("profiles", pages.ProfilesPage),
            ("profiles/new", pages.ProfileEditPage),
            (f"profiles/edit/{_PROFILE}", pages.ProfileEditPage),
            ("announcement", pages.AnnouncementPage),
            ("branding", pages.BrandingPage),
            ("preview", pages.PreviewPage),
            ("history", pages.HistoryPage),
            ("history/diff", pages.DiffPage),
            (r"history/([0-9]+)/restore", pages.RestorePage),
            ("api/settings", api.SettingsAPIHandler),
            ("api/history", api.HistoryAPIHandler),
            (r"api/history/([0-9]+)", api.VersionAPIHandler),
            (r"api/history/([0-9]+)/restore", api.RestoreAPIHandler),
            ("api/diff", api.DiffAPIHandler),
            ("api/openapi.json", api.OpenAPIHandler),
            ("api/.*", api.APINotFound),
        ]

    async def cleanup(self) -> None:
        self.writer.shutdown(wait=True)
        self.store.dispose()
