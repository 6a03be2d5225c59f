"""The hub's groups, to suggest for ``allowed_groups``: read with the service's own token
(``list:groups``, ``read:groups:name``) and kept for a minute."""

from __future__ import annotations

import logging
import time

from tornado.httpclient import HTTPClientError

from ..hubapi import HubAPI

PAGE = 200
#: more groups than this are not offered as suggestions (the field still takes any name)
MAX_GROUPS = 5000


class HubGroups:
    def __init__(self, api: HubAPI, log: logging.Logger, max_age: float = 60):
        self.api = api
        self.log = log
        self.max_age = max_age
        self._names: list[str] = []
        self._fetched = 0.0
        self._failed = False

    async def names(self) -> list[str]:
        """Group names on the hub, sorted; ``[]`` (logged once) when the hub can't say."""
        if time.monotonic() - self._fetched < self.max_age:
            return self._names
        names: list[str] = []
        try:
            offset = 0
            while len(names) < MAX_GROUPS:
                page = await self.api.get(f"groups?offset={offset}&limit={PAGE}", timeout=5)
                items = page.get("items", []) if isinstance(page, dict) else page or []
                names += [g["name"] for g in items if isinstance(g, dict) and "name" in g]
                if len(items) < PAGE:
                    break
                offset += PAGE
        except (HTTPClientError, OSError, ValueError) as e:
            if not self._failed:
                self.log.warning("Can't list the hub's groups for suggestions: %s", e)
            self._failed = True
            self._fetched = time.monotonic()
            return self._names
        self._failed = False
        self._names = sorted(set(names), key=str.casefold)
        self._fetched = time.monotonic()
        return self._names
