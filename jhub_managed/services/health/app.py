"""The health service application.

The front page is public (monitoring probes have no hub login) and shows no secrets: check
names, whether they passed, and a message written for operators.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone

from tornado import web

from ...store import SettingsStore
from ..base import ServiceApp
from ..hubapi import HubAPI


class HealthHandler(web.RequestHandler):
    @property
    def service(self) -> HealthService:
        return self.settings["service_app"]

    def check_xsrf_cookie(self):
        return None

    async def _answer(self, include_body: bool):
        checks = await self.service.run_checks()
        ok = all(c["ok"] for c in checks)
        self.set_status(200 if ok else 503)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if include_body:
            self.finish(json.dumps({"status": "ok" if ok else "failing", "checks": checks}))
        else:
            self.finish()

    async def get(self):
        await self._answer(True)

    async def head(self):
        await self._answer(False)


class HealthService(ServiceApp):
    service_name = "health"
    title = "Health"

    def init_service(self) -> None:
        self.hub_api = HubAPI()
        self.store = SettingsStore(self.suite_config["db_url"], migrate=False)

    def handlers(self):
        return [("", HealthHandler)]

    async def _timed(self, name, check):
        start = time.perf_counter()
        try:
            message = await check()
            ok = True
        except Exception as e:
            ok, message = False, f"{type(e).__name__}: {e}"
        return {
            "name": name,
            "ok": ok,
            "message": message,
            "duration_ms": round(1000 * (time.perf_counter() - start), 1),
            "checked_at": datetime.now(timezone.utc).isoformat(),
        }

    async def check_hub(self) -> str:
        info = await self.hub_api.get("", timeout=5)
        return f"hub API answers (JupyterHub {info.get('version', '?')})"

    async def check_store(self) -> str:
        version = await asyncio.to_thread(self.store.current_version)
        return f"settings store readable (version {version})"

    async def run_checks(self) -> list[dict]:
        return list(
            await asyncio.gather(
                self._timed("hub-api", self.check_hub),
                self._timed("settings-store", self.check_store),
            )
        )

    async def cleanup(self) -> None:
        self.store.dispose()
