"""The notice on the hub's home and spawn pages while a required health check fails.

JupyterHub calls template variables on every page it renders, on its event loop, so the
notice never asks anything then: the first render starts a background task that reads the
health service's answer every ``interval`` seconds (and the branding's contact, from the
hub's settings snapshot) and keeps the text to show; a render only returns that text.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from jupyterhub.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

log = logging.getLogger("jhub_managed.health.notice")


def is_failing(check: dict) -> bool:
    """A required check that fails; not one that waits for the hub to finish starting (the
    hub's pages are not reachable then, and it passes within seconds). An answer without
    ``state`` (an older health service) says so through ``ok`` alone."""
    if not check.get("required") or check.get("ok"):
        return False
    return check.get("state", "failing") == "failing"


def notice_text(failing: list[str], contact: str) -> str:
    """What people read: short, and saying that the operators know."""
    text = (
        "Part of this hub is not working right now. The people who run it know and are "
        "working on it; you may have trouble starting a server until then."
    )
    if contact:
        text += f" Questions: {contact}"
    return text


class HealthNotice:
    """``jhm_health_notice``: the notice text, or ``""`` while every required check passes."""

    def __init__(self, *, url: str, interval: float, settings: Any, base_url: str = "/"):
        self.url = url
        self.base_url = base_url
        self.interval = max(1.0, float(interval))
        #: the hub's settings snapshot (its ``current()`` reads no store), for the contact
        self.settings = settings
        self.text = ""
        self.failing: list[str] = []
        self._task: asyncio.Task | None = None

    def __call__(self, user: Any = None) -> str:
        if self._task is None or self._task.done():
            settings = getattr(user, "settings", None) or {}
            self.base_url = settings.get("base_url", self.base_url)
            try:
                self._task = asyncio.get_running_loop().create_task(self._refresh_forever())
            except RuntimeError:  # not on a loop: nothing to start
                pass
        return self.text

    def probe_url(self) -> str:
        return url_path_join(self.url, self.base_url, "services/health/api/health")

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("Could not refresh the health notice")
            await asyncio.sleep(self.interval)

    async def refresh(self) -> None:
        failing = await self.failing_checks()
        if failing is None:  # the health service did not answer: keep what we knew
            return
        if not failing:
            self.failing, self.text = [], ""
            return
        self.failing, self.text = failing, notice_text(failing, self._contact())

    async def failing_checks(self) -> list[str] | None:
        try:
            response = await AsyncHTTPClient().fetch(self.probe_url(), request_timeout=5)
            body = response.body
        except HTTPClientError as e:
            if e.response is None or e.code != 503:
                return None
            body = e.response.body
        except OSError:
            return None
        try:
            checks = json.loads(body)["checks"]
        except (ValueError, KeyError, TypeError):
            return None
        return [c["name"] for c in checks if is_failing(c)]

    def _contact(self) -> str:
        branding = self.settings.current().document.get("branding") or {}
        return str(branding.get("contact") or "")
