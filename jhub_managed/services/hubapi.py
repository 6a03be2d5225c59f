"""A small client for the hub's REST API, with the service's own token."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote, urlencode

from jupyterhub.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPRequest


class HubAPI:
    def __init__(self, api_url: str | None = None, token: str | None = None):
        self.api_url = api_url or os.environ.get(
            "JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api"
        )
        self.token = token or os.environ.get("JUPYTERHUB_API_TOKEN", "")
        self.client = AsyncHTTPClient()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        timeout: float = 10,
        accept: str = "application/json",
    ) -> Any:
        request = HTTPRequest(
            url_path_join(self.api_url, path),
            method=method,
            headers={"Authorization": f"token {self.token}", "Accept": accept},
            body=None if body is None else json.dumps(body),
            request_timeout=timeout,
        )
        response = await self.client.fetch(request)
        return json.loads(response.body) if response.body else None

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.request("GET", path, **kwargs)

    async def get_all(
        self, path: str, params: dict[str, Any] | None = None, page_size: int = 200
    ) -> list[Any]:
        """Every item of a paginated list (``users``, ``groups``), page by page."""
        items: list[Any] = []
        offset = 0
        while True:
            query = urlencode({**(params or {}), "offset": offset, "limit": page_size})
            page = await self.request(
                "GET", f"{path}?{query}", accept="application/jupyterhub-pagination+json"
            )
            if isinstance(page, list):  # a hub that does not paginate this list
                return page
            batch = page.get("items") or []
            items.extend(batch)
            following = (page.get("_pagination") or {}).get("next")
            if not following or not batch:
                return items
            offset = following.get("offset", offset + len(batch))

    async def user(self, name: str) -> dict:
        return await self.get(f"users/{quote(name, safe='')}")
