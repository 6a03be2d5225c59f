"""The usage service application: ``/services/usage/``.

- ``/api/report`` (usage-report scope on the request's token): reports by user, group or
  profile, JSON or CSV;
- ``/api/me`` (any logged-in user): their own use this month and last, and their groups'
  budgets;
- ``/metrics`` (usage-report scope): Prometheus;
- the collector polls the hub's REST API into the store (see :mod:`.collector`);
- the pages (see :mod:`.pages`): ``/`` every user's own use, ``/report`` the charts
  and tables (usage-report scope).
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.exc import SQLAlchemyError

from ...scopes import USAGE_SCOPE
from ...store import create_engine_for, upgrade
from ...store.usage import UsageRecorder
from ..base import ServiceApp
from ..hubapi import HubAPI
from . import api, pages
from .budgets import budget_use, budgets_in_force
from .metrics import UsageMetrics
from .rates import RateCard

#: seconds between two tries to migrate a store that could not be reached
STORE_RETRY = 10


class UsageService(ServiceApp):
    service_name = "usage"
    title = "Usage"

    def init_service(self) -> None:
        hub = self.managed_hub
        self.usage_scope = USAGE_SCOPE
        self.rate_card = RateCard.from_config(hub.usage_rate_card)
        self.split = hub.usage_split_groups
        self.operator_budgets = hub.usage_budgets
        # migrated once the service listens (see start_collector): a store that can't be
        # reached at start must not stop the service, whose root the hub asks at its start
        self.engine = create_engine_for(hub.db_url)
        self.recorder = UsageRecorder(self.engine)
        self.hub_api = HubAPI()
        self.readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="usage-reader")
        #: made once the service listens (see run()): the settings package takes a while
        #: to import, and the hub gives a service only so long to answer
        self.source = None
        self.collector = None
        self.metrics = UsageMetrics(
            self.engine,
            namespace=hub.metrics_namespace,
            split=self.split,
            per_user=hub.usage_per_user_metrics,
        )
        self._budget_use: list[dict] = []
        self._budget_lock = threading.Lock()
        self.reader = pages.UsageReader(self.engine, self.rate_card, self.split, self.budgets)

    def init_collector(self) -> None:
        """The settings source and the collector (in a thread, after the service listens)."""
        from ...store.source import SettingsSource
        from .collector import Collector

        hub = self.managed_hub
        self.source = SettingsSource.for_hub(hub, log=self.log)
        self.collector = Collector(
            self.hub_api,
            self.recorder,
            lambda: self.source.current().profiles,
            poll_interval=float(hub.usage_poll_interval),
            staff_group=hub.staff_group,
            check_user=hub.health_check_user,
            log=self.log,
            after_poll=self.refresh_budget_use,
        )

    async def start_collector(self) -> None:
        """Migrate the store (again every ``STORE_RETRY`` seconds while it can't be
        reached; the pages say so meanwhile), then start the collector."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self.readers, upgrade, self.engine)
                break
            except SQLAlchemyError as e:
                self.log.warning(
                    "The usage store can't be reached (%s); trying again in %d s",
                    str(e).splitlines()[0][:200],
                    STORE_RETRY,
                )
                await asyncio.sleep(STORE_RETRY)
        await loop.run_in_executor(self.readers, self.init_collector)
        self.collector.start()

    def budgets(self) -> dict[str, dict[str, float]]:
        admins = {}
        if self.source is not None:
            admins = self.source.current().document.get("budgets") or {}
        return budgets_in_force(self.operator_budgets, admins)

    def refresh_budget_use(self) -> None:
        """Use against every budget this month; after each poll, in the collector's thread."""
        use = budget_use(
            self.engine, self.budgets(), now=time.time(), rate_card=self.rate_card, split=self.split
        )
        with self._budget_lock:
            self._budget_use = use

    def budget_use_cached(self) -> list[dict]:
        with self._budget_lock:
            return list(self._budget_use)

    def render_metrics(self) -> bytes:
        collector = self.collector
        stats = collector.stats if collector is not None else None
        return self.metrics.render(
            now=time.time(),
            user_groups=collector.user_groups if collector is not None else {},
            budget_use=self.budget_use_cached(),
            last_poll_at=stats.last_poll_at if stats else None,
            poll_failures=stats.failures if stats else 0,
        )

    def page_kwargs(self) -> dict:
        """What the pages use (see :class:`.pages.UsagePage`)."""
        return {
            "reader": self.reader,
            "readers": self.readers,
            "hub_api": self.hub_api,
            "usage_scope": self.usage_scope,
            "prefix": self.prefix,
        }

    def handlers(self):
        # every route gets what it uses, and nothing else, through its initialize()
        common = {"readers": self.readers, "usage_scope": self.usage_scope}
        store = {**common, "engine": self.engine, "rate_card": self.rate_card}
        return [
            ("", pages.MyUsagePage, self.page_kwargs()),
            ("report", pages.ReportPage, self.page_kwargs()),
            ("api/report", api.ReportHandler, {**store, "split": self.split}),
            ("api/me", api.MeHandler, {**store, "budget_use": self.budget_use_cached}),
            ("metrics", api.MetricsHandler, {**common, "render": self.render_metrics}),
            ("api/(.*)", api.APINotFound, common),
        ]

    async def run(self) -> None:
        self._collector_task = asyncio.get_running_loop().create_task(self.start_collector())
        await super().run()

    async def cleanup(self) -> None:
        self._collector_task.cancel()
        if self.collector is not None:
            await self.collector.stop()
        self.readers.shutdown(wait=False)
        self.engine.dispose()
