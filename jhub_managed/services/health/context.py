"""What the health checks run with: the hub client (counting its requests), the store, the
deep check and the options, built once by the service."""

from __future__ import annotations

import asyncio
from functools import cached_property
from typing import Any

from sqlalchemy.pool import NullPool
from tornado.httpclient import HTTPRequest

from ...store.attribution import DEFAULT_CHECK_USER
from ...store.store import MIGRATIONS, create_engine_for
from ..hubapi import HubAPI
from .checks import ThreadGuard
from .deep import DeepCheck


class CountingHubAPI(HubAPI):
    """The hub client, counting its requests (for the metrics and the load test)."""

    requests = 0

    async def request(self, method: str, path: str, body: Any = None, timeout: float = 10):
        self.requests += 1
        return await super().request(method, path, body=body, timeout=timeout)

    async def raw(self, method: str, path: str, timeout: float = 10) -> bytes:
        from jupyterhub.utils import url_path_join

        self.requests += 1
        response = await self.client.fetch(
            HTTPRequest(
                url_path_join(self.api_url, path),
                method=method,
                headers={"Authorization": f"token {self.token}"},
                request_timeout=timeout,
            )
        )
        return response.body


class CheckContext:
    """What the checks need: the hub client, the store, options; built once."""

    def __init__(
        self, config: dict[str, Any], hub: CountingHubAPI, deep: DeepCheck, db_url: str
    ) -> None:
        #: the hub's health options (see :func:`.options.health_options`)
        self.config = config
        self.hub = hub
        self.db_url = db_url
        self.check_user: str = self.config.get("check_user", DEFAULT_CHECK_USER)
        self.threads = ThreadGuard()
        self.deep = deep
        self.last_settings_version: int | None = None
        self._engine = None
        self._kube_api = None

    def timeout_of(self, name: str) -> float:
        return float(self.config.get("timeouts", {}).get(name) or self.config.get("timeout", 5))

    def secrets(self) -> tuple[str, ...]:
        return (self.hub.token, self.db_url)

    def store_engine(self):
        if self._engine is None:
            url = self.db_url
            kwargs: dict[str, Any] = {"poolclass": NullPool}
            if url.startswith("postgres"):
                kwargs["connect_args"] = {
                    "connect_timeout": max(1, int(self.timeout_of("settings-store")))
                }
            self._engine = create_engine_for(url, **kwargs)
        return self._engine

    @cached_property
    def _head(self) -> str:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(config).get_current_head()

    def migration_head(self) -> str:
        return self._head

    async def kube_version_api(self):
        if self._kube_api is None:
            from kubespawner.clients import load_config, shared_client

            kube = {k: v for k, v in (self.config.get("kube") or {}).items() if v is not None}
            await asyncio.to_thread(load_config, **kube)
            self._kube_api = shared_client("VersionApi")
        return self._kube_api

    async def usage_last_poll(self, usage: dict):
        """The usage collector's last successful poll, from the usage service's metrics
        (``jhub_managed_usage_last_poll_timestamp_seconds``), or ``None`` before the first."""
        from datetime import datetime, timezone

        from jupyterhub.utils import url_path_join
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        from .checks import describe
        from .schedule import CheckFailed

        if not usage.get("url"):
            raise CheckFailed("the usage service has no URL to ask")
        url = url_path_join(usage["url"], usage.get("prefix") or "/services/usage/", "metrics")
        try:
            response = await AsyncHTTPClient().fetch(
                url,
                headers={"Authorization": f"token {self.hub.token}"},
                request_timeout=self.timeout_of("usage-collector"),
            )
        except HTTPClientError as e:
            raise CheckFailed(f"the usage service's metrics: {describe(e)}") from None
        for line in response.body.decode("utf8", "replace").splitlines():
            if line.startswith("jhub_managed_usage_last_poll_timestamp_seconds"):
                return datetime.fromtimestamp(float(line.split()[-1]), timezone.utc)
        return None

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
