"""The usage service application."""

from __future__ import annotations

from tornado import web

from ..base import BaseHandler, ServiceApp
from ..hubapi import HubAPI


class FrontPage(BaseHandler):
    @web.authenticated
    async def get(self):
        name = self.current_user["name"]
        model = await self.service.hub_api.user(name)
        servers = [
            {
                "name": server_name or "default",
                "profile": (server.get("user_options") or {}).get("profile", ""),
                "started": server.get("started"),
                "last_activity": server.get("last_activity"),
                "ready": server.get("ready"),
            }
            for server_name, server in (model.get("servers") or {}).items()
        ]
        self.write(self.render_template("service/usage/index.html", servers=servers))


class UsageService(ServiceApp):
    service_name = "usage"
    title = "Usage"

    def init_service(self) -> None:
        self.hub_api = HubAPI()

    def handlers(self):
        return [("", FrontPage)]
