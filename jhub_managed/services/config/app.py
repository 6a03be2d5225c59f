"""The settings service application."""

from __future__ import annotations

from tornado import web

from ...store import SettingsStore
from ...store.source import SettingsSource
from ..base import APIHandler, BaseHandler, ServiceApp


class SettingsEditorHandler(BaseHandler):
    """Pages only for holders of the settings scope (and hub admins)."""

    def may_edit(self) -> bool:
        user = self.current_user or {}
        return bool(user.get("admin")) or self.service.settings_scope in (user.get("scopes") or [])

    def prepare(self):
        super().prepare()
        if self.current_user is None and isinstance(self, APIHandler):
            raise web.HTTPError(403, "Log in to the hub, or send a token, to use this API.")
        if self.current_user and not self.may_edit():
            raise web.HTTPError(
                403,
                "Only hub admins and people with the settings permission can change this "
                "hub's settings.",
            )


class SettingsAPIHandler(SettingsEditorHandler, APIHandler):
    """``GET /api/settings``: the settings in force, with their version as ``ETag``."""

    def get(self):
        current = self.service.source.current()
        self.set_header("ETag", f'"{current.version}"')
        self.write_json({"version": current.version, "settings": current.document})


class FrontPage(SettingsEditorHandler):
    @web.authenticated
    def get(self):
        current = self.service.source.current()
        latest = self.service.store.latest()
        self.write(
            self.render_template(
                "service/config/index.html",
                version=current.version,
                latest=latest.summary() if latest else None,
                document=current.document,
            )
        )


class ConfigService(ServiceApp):
    service_name = "config"
    title = "Hub settings"

    def init_service(self) -> None:
        config = self.suite_config
        self.settings_scope = config.get("settings_scope", "custom:jhub-managed:settings")
        self.store = SettingsStore(config["db_url"])
        self.source = SettingsSource(
            config["db_url"],
            operator_defaults=config.get("operator_defaults"),
            hub_values=config.get("hub_values"),
            log=self.log,
        )

    def handlers(self):
        return [("", FrontPage), ("api/settings", SettingsAPIHandler)]

    async def cleanup(self) -> None:
        self.store.dispose()
