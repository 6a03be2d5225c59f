"""The usage service's REST API and metrics: ``/api/report``, ``/api/me``, ``/metrics``.

Reports and metrics need the usage-report scope on the request's token
(``custom:jhub-managed:usage-reports``; hub admins hold it through their role, the admin flag
alone grants nothing); ``/api/me`` needs only a login.
A report request is checked whole before anything is read: a bad one answers 400 with every
reason and reads nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime, timezone
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from tornado import web

from ..base import APIHandler, require_scope
from .budgets import notices_for
from .rates import RateCard
from .reports import ReportQueryError, parse_report_query, report_csv, usage_report, user_usage


class UsageAPIHandler(APIHandler):
    """A route of the usage API. The application hands each route what it uses
    (``initialize``): the threads that read the store and the usage-report scope, and what
    the route itself reads."""

    def initialize(self, readers: Executor, usage_scope: str) -> None:
        self.readers = readers
        self.usage_scope = usage_scope

    def check_xsrf_cookie(self) -> None:
        # read-only routes: GET needs no XSRF token
        return None

    async def in_thread(self, func, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(
            self.readers, lambda: func(*args, **kwargs)
        )

    async def read_store(self, func, *args, **kwargs):
        """Read the store in a thread; an unreachable store answers 503, never a bare 500."""
        try:
            return await self.in_thread(func, *args, **kwargs)
        except web.HTTPError:
            raise
        except Exception as e:
            self.log.error("Can't read the usage store: %s", e)
            raise web.HTTPError(
                503, "The usage store can't be read right now; try again in a minute."
            ) from None


#: reports and metrics: the usage-report scope on the request's token (not the admin flag)
_usage_scope = require_scope(lambda handler: handler.usage_scope)


class ReportHandler(UsageAPIHandler):
    def initialize(self, engine: Any, rate_card: RateCard | None, split: bool, **common) -> None:
        super().initialize(**common)
        self.engine = engine
        self.rate_card = rate_card
        self.split = split

    @_usage_scope
    async def get(self):
        args = {
            k: [v.decode("utf-8", "replace") for v in vs]
            for k, vs in self.request.query_arguments.items()
        }
        now = time.time()
        try:
            query = parse_report_query(args, today=datetime.fromtimestamp(now, timezone.utc).date())
        except ReportQueryError as e:
            self.set_status(400)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish({"errors": e.errors})
            return
        report = await self.read_store(
            usage_report, self.engine, query, now=now, rate_card=self.rate_card, split=self.split
        )
        if query.format == "csv":
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header(
                "Content-Disposition",
                f'attachment; filename="usage-by-{query.group_by}-{query.start}-{query.end}.csv"',
            )
            self.finish(report_csv(report))
            return
        self.write_json(report)


class MeHandler(UsageAPIHandler):
    def initialize(
        self,
        engine: Any,
        rate_card: RateCard | None,
        budget_use: Callable[[], list[dict]],
        **common,
    ) -> None:
        super().initialize(**common)
        self.engine = engine
        self.rate_card = rate_card
        #: this month's use of every budget (the service keeps it, refreshed after each poll)
        self.budget_use = budget_use

    @require_scope()  # a login is enough: the caller's own use
    async def get(self):
        user = self.current_user
        mine = await self.read_store(
            user_usage, self.engine, user["name"], now=time.time(), rate_card=self.rate_card
        )
        groups = list(user.get("groups") or [])
        mine["groups"] = groups
        use = self.budget_use()
        mine["budgets"] = [u for u in use if u["group"] in set(groups)]
        mine["budget_notices"] = notices_for(groups, use)
        self.write_json(mine)


class MetricsHandler(UsageAPIHandler):
    def initialize(self, render: Callable[[], bytes], **common) -> None:
        super().initialize(**common)
        #: the metrics' text (blocking: reads the store)
        self.render = render

    @_usage_scope
    async def get(self):
        body = await self.read_store(self.render)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)


class APINotFound(UsageAPIHandler):
    def get(self, *args):
        raise web.HTTPError(404, "There is no such route in the usage API.")
