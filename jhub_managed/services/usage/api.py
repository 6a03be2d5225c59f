"""The usage service's REST API and metrics: ``/api/report``, ``/api/me``, ``/metrics``.

Reports and metrics need the usage-report scope on the request's token
(``custom:jhub-managed:usage-reports``; hub admins hold it); ``/api/me`` needs only a login.
A report request is checked whole before anything is read: a bad one answers 400 with every
reason and reads nothing.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from tornado import web

from ..base import APIHandler, require_scope
from .budgets import notices_for
from .reports import ReportQueryError, parse_report_query, report_csv, usage_report, user_usage

NOT_LOGGED_IN = "Log in to the hub, or send a token, to use this API."


class UsageAPIHandler(APIHandler):
    @property
    def service(self) -> Any:  # the UsageService (app.py imports this module)
        return self.settings["service_app"]

    def check_xsrf_cookie(self) -> None:
        # read-only routes: GET needs no XSRF token
        return None

    def require_login(self) -> dict[str, Any]:
        user = self.current_user
        if user is None:
            raise web.HTTPError(403, NOT_LOGGED_IN)
        return user

    async def in_thread(self, func, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(
            self.service.readers, lambda: func(*args, **kwargs)
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
_usage_scope = require_scope(lambda handler: handler.service.usage_scope)


class ReportHandler(UsageAPIHandler):
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
        service = self.service
        report = await self.read_store(
            usage_report,
            service.engine,
            query,
            now=now,
            rate_card=service.rate_card,
            split=service.split,
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
    async def get(self):
        user = self.require_login()
        service = self.service
        mine = await self.read_store(
            user_usage, service.engine, user["name"], now=time.time(), rate_card=service.rate_card
        )
        groups = list(user.get("groups") or [])
        mine["groups"] = groups
        use = service.budget_use_cached()
        mine["budgets"] = [u for u in use if u["group"] in set(groups)]
        mine["budget_notices"] = notices_for(groups, use)
        self.write_json(mine)


class MetricsHandler(UsageAPIHandler):
    @_usage_scope
    async def get(self):
        body = await self.read_store(self.service.render_metrics)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)


class APINotFound(UsageAPIHandler):
    def get(self, *args):
        raise web.HTTPError(404, "There is no such route in the usage API.")
