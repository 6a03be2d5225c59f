"""The usage pages: every user's own use, and the reports of hub admins.

- ``/services/usage/`` (every logged-in user): their own use this month and last month,
  their groups' budgets where there are any, and their servers running now.
- ``/services/usage/report`` (requests whose token carries the usage-report scope; hub admins
  hold it through their role): charts and tables for a date range (a plain GET form), with CSV
  downloads of the report API.

Pages are made on the server and work without JavaScript; the charts are SVG
(:mod:`.charts`, laid out by :mod:`.views`). Figures come from :mod:`.reports` and
:mod:`.budgets`, read in a thread so the service keeps answering while a report is being
added up. A store or hub that can't be
read gives a page that says so, never a 500; dates that aren't dates give a message next to
the form and read nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from jupyterhub.utils import url_path_join
from tornado.ioloop import IOLoop

from ..access import grants
from ..base import BaseHandler, require_scope
from ..hubapi import HubAPI
from .budgets import budget_use
from .periods import month_range
from .query import range_error
from .rates import RateCard
from .reports import (
    MAX_RANGE_DAYS,
    ReportQuery,
    active_users_series,
    daily_usage,
    parse_date,
    usage_report,
    user_usage,
)
from .views import budget_rows, csv_links, own_use_rows, report_charts, report_table

#: the longest date text echoed back in a message
_ECHO = 40
_BEFORE = (
    "The end date ({end}) is before the start date ({start}). Choose an end on or after the start."
)
_TOO_LONG = (
    "That range has {days} days; a report covers at most {max_days} days. Choose a shorter range."
)
NOT_ALLOWED = (
    "Usage reports of the whole hub are for hub admins and the groups the operator names. "
    "Your own use is on the usage page."
)
STORE_DOWN = (
    "The usage figures can't be read right now. Nothing is lost: sessions are still being "
    "recorded. Try again in a few minutes; if this keeps happening, tell the people who run "
    "this hub."
)
HUB_DOWN = "The hub did not answer, so your running servers can't be listed right now."


# -- the date range ------------------------------------------------------------------------


@dataclass(frozen=True)
class DateRange:
    """What the date-range form asked for: the text typed, and the dates or the problems."""

    start_text: str
    end_text: str
    start: date | None
    end: date | None
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and self.start is not None and self.end is not None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1 if self.ok else 0


def _echo(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ECHO else text[:_ECHO] + "…"


def read_range(start_text: str | None, end_text: str | None, *, today: date) -> DateRange:
    """The range of the report page: the first of this month to today unless asked.

    Every problem is said in words a person reads: a date not written ``YYYY-MM-DD``, an end
    before the start, a range over 400 days.
    """
    start_text = (start_text or "").strip()
    end_text = (end_text or "").strip()
    errors: list[str] = []
    found: dict[str, date] = {}
    for name, text, fallback in (
        ("start", start_text, today.replace(day=1)),
        ("end", end_text, today),
    ):
        if not text:
            found[name] = fallback
            continue
        try:
            found[name] = parse_date(text)
        except ValueError:
            errors.append(
                f"The {name} date “{_echo(text)}” is not a date. Write it as year-month-day, "
                f"for example {today.replace(day=1).isoformat()}."
            )
    start, end = found.get("start"), found.get("end")
    problem = start and end and range_error(start, end, before=_BEFORE, too_long=_TOO_LONG)
    if problem:
        errors.append(problem)
    return DateRange(start_text, end_text, start, end, tuple(errors))


def month_bounds(today: date) -> dict[str, tuple[date, date]]:
    """``this_month`` (first to last day) and ``last_month`` around ``today``."""
    this_month = month_range(today)
    return {"this_month": this_month, "last_month": month_range(this_month[0] - timedelta(days=1))}


# -- what the pages read (blocking: run in a thread) -----------------------------------------


@dataclass(frozen=True)
class UsageReader:
    """Where the pages' figures come from: the store, the rate card, the billing rule and
    the budgets in force (read when asked: hub admins change them)."""

    engine: Any
    rate_card: RateCard | None
    split: bool
    budgets: Callable[[], Mapping[str, Mapping[str, float]]]

    def report_figures(self, start: date, end: date, now: float) -> dict[str, Any]:
        """Everything the report page shows for ``start`` to ``end``."""
        options = {"now": now, "rate_card": self.rate_card, "split": self.split}
        return {
            "by_group": usage_report(self.engine, ReportQuery(start, end, "group"), **options),
            "by_profile": usage_report(self.engine, ReportQuery(start, end, "profile"), **options),
            "by_user": usage_report(self.engine, ReportQuery(start, end, "user"), **options),
            "daily": daily_usage(
                self.engine, start, end, now=now, group_by="group", split=self.split
            ),
            "active": active_users_series(self.engine, start, end, now=now, period="day"),
            "budgets": budget_use(self.engine, self.budgets(), **options),
        }

    def own_figures(
        self, user_name: str, groups: Sequence[str], now: float
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One user's use this month and last, and the use of their groups' budgets."""
        own = user_usage(self.engine, user_name, now=now, rate_card=self.rate_card)
        mine = {g: b for g, b in self.budgets().items() if g in set(groups)}
        use = budget_use(self.engine, mine, now=now, rate_card=self.rate_card, split=self.split)
        return own, use


# -- the handlers --------------------------------------------------------------------------


class UsagePage(BaseHandler):
    """What the usage pages share: what they read, and the nav between the pages.

    The application hands each page what it uses (``initialize``): the figures' reader, the
    threads it reads in, the hub's API, the usage-report scope and the pages' prefix.
    """

    def initialize(
        self, reader: UsageReader, readers: Executor, hub_api: HubAPI, usage_scope: str, prefix: str
    ) -> None:
        self.reader = reader
        self.readers = readers
        self.hub_api = hub_api
        self.usage_scope = usage_scope
        self.prefix = prefix

    def may_read_reports(self) -> bool:
        return grants(self.current_user, (self.usage_scope,))

    def now(self) -> float:
        return time.time()

    def today(self) -> date:
        return datetime.fromtimestamp(self.now(), timezone.utc).date()

    async def in_thread(self, func, *args, **kwargs):
        """A blocking read of the store, off the event loop."""
        return await IOLoop.current().run_in_executor(self.readers, lambda: func(*args, **kwargs))

    def page(self, template: str, status: int = 200, **ns: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            self.render_template(
                template,
                may_read_reports=self.may_read_reports(),
                own_url=self.prefix,
                report_url=url_path_join(self.prefix, "report"),
                **ns,
            )
        )


class MyUsagePage(UsagePage):
    """Every user's own use: this month, last month, their groups' budgets, servers now."""

    @require_scope()  # a login is enough: one's own use
    async def get(self):
        user = self.current_user
        name = user["name"]
        groups = list(user.get("groups") or [])
        now = self.now()
        context: dict[str, Any] = {
            "months": [],
            "budgets": [],
            "servers": [],
            "store_error": "",
            "hub_error": "",
            "currency": "",
        }
        try:
            model = await self.hub_api.user(name)
        except Exception as e:
            self.log.warning("The hub did not list the servers of %s: %s", name, e)
            context["hub_error"] = HUB_DOWN
        else:
            groups = list(model.get("groups") or groups)
            context["servers"] = [
                {
                    "name": server_name or "default",
                    "profile": (server.get("user_options") or {}).get("profile", ""),
                    "started": server.get("started"),
                    "last_activity": server.get("last_activity"),
                    "ready": server.get("ready"),
                }
                for server_name, server in (model.get("servers") or {}).items()
            ]
        try:
            own, use = await self.in_thread(self.reader.own_figures, name, groups, now)
        except Exception:
            self.log.exception("Can't read the usage of %s", name)
            context["store_error"] = STORE_DOWN
        else:
            context["months"] = own_use_rows(own)
            context["currency"] = own.get("currency", "")
            context["budgets"] = budget_rows(use, groups)
        self.page("service/usage/index.html", **context)


class ReportPage(UsagePage):
    """Everyone's use in a date range: charts, tables, CSV downloads."""

    @require_scope(lambda page: page.usage_scope, refusal=NOT_ALLOWED)
    async def get(self):
        today = self.today()
        asked = read_range(
            self.get_query_argument("start", ""), self.get_query_argument("end", ""), today=today
        )
        context: dict[str, Any] = {
            "range": asked,
            "charts": [],
            "tables": [],
            "csv": [],
            "store_error": "",
            "today": today.isoformat(),
            "max_days": MAX_RANGE_DAYS,
        }
        if not asked.ok:
            self.page("service/usage/report.html", status=400, **context)
            return
        try:
            figures = await self.in_thread(
                self.reader.report_figures, asked.start, asked.end, self.now()
            )
        except Exception:
            self.log.exception("Can't read the usage report %s to %s", asked.start, asked.end)
            context["store_error"] = STORE_DOWN
            self.page("service/usage/report.html", status=503, **context)
            return
        month = today.strftime("%B %Y")
        context["charts"] = report_charts(
            daily=figures["daily"],
            active=figures["active"],
            by_profile=figures["by_profile"],
            budget_use=figures["budgets"],
            month=month,
        )
        context["tables"] = [
            report_table(figures["by_group"], "Group"),
            report_table(figures["by_profile"], "Profile"),
            report_table(figures["by_user"], "User"),
        ]
        context["active_users"] = figures["by_group"].get("active_users") or {}
        context["csv"] = csv_links(self.prefix, asked.start, asked.end)
        self.page("service/usage/report.html", **context)
