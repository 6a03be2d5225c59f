"""The usage pages: every user's own use, and the reports of hub admins.

- ``/services/usage/`` (every logged-in user): their own use this month and last month,
  their groups' budgets where there are any, and their servers running now.
- ``/services/usage/report`` (hub admins and holders of the usage-report scope): charts and
  tables for a date range (a plain GET form), with CSV downloads of the report API.

Pages are made on the server and work without JavaScript; the charts are SVG
(:mod:`.charts`). Figures come from :mod:`.reports` and :mod:`.budgets`, read in a thread so
the service keeps answering while a report is being added up. A store or hub that can't be
read gives a page that says so, never a 500; dates that aren't dates give a message next to
the form and read nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from jupyterhub.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from ..base import BaseHandler
from . import charts
from .budgets import budget_use
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

#: the longest date text echoed back in a message
_ECHO = 40
_BEFORE = (
    "The end date ({end}) is before the start date ({start}). Choose an end on or after the start."
)
_TOO_LONG = (
    "That range has {days} days; a report covers at most {max_days} days. Choose a shorter range."
)
NOT_ALLOWED = (
    "Usage reports of the whole hub need the permission custom:jhub-managed:usage-reports, "
    "which the operator gives to groups of this hub. Your own use is on the usage page."
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
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    last_first = (first - timedelta(days=1)).replace(day=1)
    return {
        "this_month": (first, following - timedelta(days=1)),
        "last_month": (last_first, first - timedelta(days=1)),
    }


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


# -- what the pages show, from plain report data -------------------------------------------


def budget_unit(entry: Mapping[str, Any]) -> str:
    if entry.get("kind") == "cost":
        return str(entry.get("currency") or "cost")
    return "server-hours"


def budget_bars(use: Sequence[Mapping[str, Any]]) -> list[charts.BudgetBar]:
    """Budget entries of :func:`.budgets.budget_use` that can be drawn (use is known)."""
    return [
        charts.BudgetBar(str(u["group"]), float(u["used"]), float(u["budget"]), budget_unit(u))
        for u in use
        if u.get("used") is not None and u.get("budget")
    ]


def report_charts(
    *,
    daily: Mapping[str, Any],
    active: Sequence[Mapping[str, Any]],
    by_profile: Mapping[str, Any],
    budget_use: Sequence[Mapping[str, Any]],
    month: str,
) -> list[charts.Chart]:
    """The four charts of the report page, each with its table."""
    profiles = [
        (row["key"] or "(no profile)", float(row["server_hours"]))
        for row in by_profile.get("rows", [])
        if row.get("billable", True)
    ]
    return [
        charts.stacked_bars(
            "server-hours-by-group",
            "Server-hours per day by group",
            daily.get("days", []),
            daily.get("series", {}),
            "server-hours",
        ),
        charts.line(
            "active-users",
            "Active users per day",
            [(point["start"], point["users"]) for point in active],
            "users",
        ),
        charts.horizontal_bars(
            "top-profiles", "Top profiles by server-hours", profiles, "server-hours", "Profile"
        ),
        charts.budget_bars("budget-use", f"Budget use in {month}", budget_bars(budget_use)),
    ]


#: the columns of the group/profile/user tables of the report page: (field, heading, digits)
REPORT_COLUMNS = (
    ("sessions", "Sessions", 0),
    ("server_hours", "Server-hours", 2),
    ("cpu_hours", "CPU-hours", 2),
    ("memory_gib_hours", "Memory GiB-hours", 2),
    ("gpu_hours", "GPU-hours", 2),
    ("average_session_hours", "Average session (hours)", 2),
    ("running", "Running now", 0),
)


def report_table(report: Mapping[str, Any], heading: str) -> charts.Table:
    """A report's rows as a table: billable rows, then the others marked as such."""
    columns = list(REPORT_COLUMNS)
    cost = "currency" in report
    headings = [heading, *(title for _, title, _ in columns)]
    if cost:
        headings.append(f"Cost ({report['currency']})")
    rows = []
    for row in report.get("rows", []):
        name = row["key"] or "(none)"
        if not row.get("billable", True):
            name += " (not billed)"
        cells = [name, *(charts.number(float(row[key]), digits) for key, _, digits in columns)]
        if cost:
            cells.append(charts.number(float(row.get("cost", 0.0))))
        rows.append(tuple(cells))
    totals = report.get("totals") or {}
    if rows:
        cells = ["Total (billed)"]
        for key, _, digits in columns:
            cells.append(charts.number(float(totals.get(key, 0.0)), digits))
        if cost:
            cells.append(charts.number(float(totals.get("cost", 0.0))))
        rows.append(tuple(cells))
    return charts.Table(
        caption=f"By {heading.lower()}, {report['start']} to {report['end']}",
        columns=tuple(headings),
        rows=tuple(rows),
        numeric=frozenset(range(1, len(headings))),
    )


def own_use_rows(usage: Mapping[str, Any]) -> list[dict[str, Any]]:
    """This month and last month of :func:`.reports.user_usage`, for the user page."""
    rows = []
    for key, title in (("this_month", "This month"), ("last_month", "Last month")):
        figures = usage.get(key) or {}
        rows.append(
            {
                "key": key,
                "title": title,
                "start": figures.get("start", ""),
                "end": figures.get("end", ""),
                "sessions": charts.number(float(figures.get("sessions", 0)), 0),
                "server_hours": charts.number(float(figures.get("server_hours", 0.0))),
                "cpu_hours": charts.number(float(figures.get("cpu_hours", 0.0))),
                "memory_gib_hours": charts.number(float(figures.get("memory_gib_hours", 0.0))),
                "gpu_hours": charts.number(float(figures.get("gpu_hours", 0.0))),
                "cost": (charts.number(float(figures["cost"])) if "cost" in figures else None),
            }
        )
    return rows


def budget_rows(use: Sequence[Mapping[str, Any]], groups: Sequence[str]) -> list[dict]:
    """The budgets of ``groups`` in words: used, budget, share and level."""
    mine = set(groups)
    rows = []
    for entry in use:
        if entry["group"] not in mine:
            continue
        known = entry.get("used") is not None
        rows.append(
            {
                "group": entry["group"],
                "unit": budget_unit(entry),
                "budget": charts.number(float(entry["budget"])),
                "used": charts.number(float(entry["used"])) if known else "unknown",
                "percent": f"{100 * float(entry['fraction']):.0f} %" if known else "",
                "level": entry.get("level", "ok"),
            }
        )
    return rows


def csv_links(prefix: str, start: date, end: date) -> list[tuple[str, str]]:
    """Links to the report API's CSV for the range, by group, user and profile."""
    return [
        (
            title,
            url_path_join(prefix, "api/report")
            + "?"
            + urlencode(
                {
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "group_by": group_by,
                    "format": "csv",
                }
            ),
        )
        for group_by, title in (
            ("group", "by group"),
            ("user", "by user"),
            ("profile", "by profile"),
        )
    ]


def may_read_reports(user: Mapping[str, Any] | None, scope: str) -> bool:
    """Whether the token of the request carries the usage-report scope (hub admins hold it
    through their role): the token's scopes decide, not the user's admin flag."""
    return bool(user) and scope in (user.get("scopes") or ())


# -- the handlers --------------------------------------------------------------------------


class UsagePage(BaseHandler):
    """What the usage pages share: no caching, no framing, the nav between the pages."""

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Security-Policy", "frame-ancestors 'self'")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")

    @property
    def reader(self) -> UsageReader:
        service = self.service
        return UsageReader(service.engine, service.rate_card, service.split, service.budgets)

    def may_read_reports(self) -> bool:
        return may_read_reports(self.current_user, self.service.usage_scope)

    def now(self) -> float:
        return time.time()

    def today(self) -> date:
        return datetime.fromtimestamp(self.now(), timezone.utc).date()

    async def in_thread(self, func, *args, **kwargs):
        """A blocking read of the store, off the event loop."""
        return await IOLoop.current().run_in_executor(
            self.service.readers, lambda: func(*args, **kwargs)
        )

    def page(self, template: str, status: int = 200, **ns: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            self.render_template(
                template,
                may_read_reports=self.may_read_reports(),
                own_url=self.service.prefix,
                report_url=url_path_join(self.service.prefix, "report"),
                **ns,
            )
        )


class MyUsagePage(UsagePage):
    """Every user's own use: this month, last month, their groups' budgets, servers now."""

    @web.authenticated
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
            model = await self.service.hub_api.user(name)
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

    @web.authenticated
    async def get(self):
        if not self.may_read_reports():
            raise web.HTTPError(403, NOT_ALLOWED)
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
        context["csv"] = csv_links(self.service.prefix, asked.start, asked.end)
        self.page("service/usage/report.html", **context)
