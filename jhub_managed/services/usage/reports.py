"""Usage reports: what the figures of the recorded sessions add up to.

The store answers plain rows (:mod:`jhub_managed.store.usage_queries`); the arithmetic
here (grouping, hours, cost, totals, the daily series) is pure and done on those rows. No
hub, no request, no clock (``now`` is an argument). Pages, the REST API, the metrics and
the budget notice all build on them.

- :func:`parse_report_query` checks a report request and names every problem;
- :func:`usage_report` is the report of ``/api/report`` (rows by user, group or profile,
  totals, active users); :func:`report_csv` the same rows as CSV;
- :func:`daily_usage` the server-hours of each day by group, user or profile (charts);
- :func:`active_users_series` distinct active users per day, week or month (charts);
- :func:`user_usage` one user's own use this month and last (``/api/me``, the user page).

Time in a range is counted from ``start`` 00:00 UTC to the end of ``end`` (inclusive);
a session is clipped to the range, and one still running counts up to ``now``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine

from ...store.usage_queries import DAY, daily_figures, range_figures, running_of_user
from .active import active_users, active_users_series
from .periods import day_start, month_range, range_bounds
from .periods import periods_of as _periods  # noqa: F401 (read by the tests)
from .query import (
    FORMATS,
    GROUP_BY,
    MAX_RANGE_DAYS,
    ReportQuery,
    ReportQueryError,
    parse_date,
    parse_report_query,
)
from .rates import RateCard

__all__ = [
    "FORMATS",
    "GROUP_BY",
    "MAX_RANGE_DAYS",
    "ReportQuery",
    "ReportQueryError",
    "active_users",
    "active_users_series",
    "day_start",
    "month_range",
    "parse_date",
    "parse_report_query",
    "range_bounds",
]

GIB = float(1024**3)
#: the figures of every row, in the order of the CSV columns
FIGURES = (
    "sessions",
    "server_hours",
    "cpu_hours",
    "memory_gib_hours",
    "gpu_hours",
    "running",
    "average_session_hours",
)


# -- rows of figures -------------------------------------------------------------------------


def _empty_figures() -> dict[str, float]:
    return {
        "sessions": 0.0,
        "seconds": 0.0,
        "cpu": 0.0,
        "mem": 0.0,
        "gpu": 0.0,
        "running": 0.0,
        "cost": 0.0,
    }


def fold_rows(
    raw_rows: Iterable[Any], rate_card: RateCard | None, group_by: str = "group"
) -> dict[tuple[str, bool], dict[str, float]]:
    """The store's rows (:func:`~jhub_managed.store.usage_queries.range_figures`) added up by
    ``(key, billable)``: sessions, seconds, CPU-, byte- and GPU-seconds, running sessions,
    and the cost of each row's time when there is a rate card (priced by its profile)."""
    folded: dict[tuple[str, bool], dict[str, float]] = {}
    for row in raw_rows:
        figures = folded.setdefault((row.key or "", bool(row.billable)), _empty_figures())
        seconds, cpu, mem, gpu = (float(v or 0.0) for v in (row.seconds, row.cpu, row.mem, row.gpu))
        figures["sessions"] += float(row.sessions or 0.0)
        figures["seconds"] += seconds
        figures["cpu"] += cpu
        figures["mem"] += mem
        figures["gpu"] += gpu
        figures["running"] += float(row.running or 0.0)
        if rate_card is not None:
            profile = row.key if group_by == "profile" else getattr(row, "profile_slug", "")
            prices = rate_card.prices_for(profile or "")
            figures["cost"] += prices.cost(seconds / 3600, cpu / 3600, mem / GIB / 3600, gpu / 3600)
    return folded


def _count(value: float) -> float | int:
    """Counts are whole unless sessions are split between groups."""
    rounded = round(value, 4)
    return int(rounded) if rounded == int(rounded) else rounded


def report_row(
    key: str, billable: bool, f: Mapping[str, float], rate_card: RateCard | None
) -> dict[str, Any]:
    """One row of a report from folded figures (:func:`fold_rows`): hours, averages."""
    hours = f["seconds"] / 3600
    row: dict[str, Any] = {
        "key": key,
        "billable": billable,
        "sessions": _count(f["sessions"]),
        "server_hours": round(hours, 4),
        "cpu_hours": round(f["cpu"] / 3600, 4),
        "memory_gib_hours": round(f["mem"] / GIB / 3600, 4),
        "gpu_hours": round(f["gpu"] / 3600, 4),
        "running": _count(f["running"]),
        "average_session_hours": round(hours / f["sessions"], 4) if f["sessions"] else 0.0,
    }
    if rate_card is not None:
        row["cost"] = round(f["cost"], 2)
    return row


def totals_of(rows: list[dict], rate_card: RateCard | None) -> dict[str, Any]:
    """The figures of ``rows`` added up (the average over all their sessions)."""
    totals: dict[str, Any] = {name: 0.0 for name in FIGURES if name != "average_session_hours"}
    for row in rows:
        for name in totals:
            totals[name] += row[name]
    for name in ("server_hours", "cpu_hours", "memory_gib_hours", "gpu_hours"):
        totals[name] = round(totals[name], 4)
    for name in ("sessions", "running"):
        totals[name] = _count(totals[name])
    totals["average_session_hours"] = (
        round(totals["server_hours"] / totals["sessions"], 4) if totals["sessions"] else 0.0
    )
    if rate_card is not None:
        totals["cost"] = round(sum(row["cost"] for row in rows), 2)
    return totals


# -- the report -----------------------------------------------------------------------------


def report_from_rows(
    query: ReportQuery,
    raw_rows: Iterable[Any],
    *,
    now: float,
    active: Mapping[str, Any],
    rate_card: RateCard | None = None,
    split: bool = False,
) -> dict[str, Any]:
    """The report of :func:`usage_report` from the store's rows and the active users."""
    folded = fold_rows(raw_rows, rate_card, query.group_by)
    rows = [report_row(key, billable, f, rate_card) for (key, billable), f in folded.items()]
    rows.sort(key=lambda r: (not r["billable"], -r["server_hours"], r["key"]))
    billable = [r for r in rows if r["billable"]]
    report: dict[str, Any] = {
        "start": query.start.isoformat(),
        "end": query.end.isoformat(),
        "group_by": query.group_by,
        "split": bool(split and query.group_by == "group"),
        "generated_at": _iso(now),
        "rows": rows,
        "totals": totals_of(billable, rate_card),
        "not_billable": totals_of([r for r in rows if not r["billable"]], rate_card),
        "active_users": dict(active),
    }
    if rate_card is not None:
        report["currency"] = rate_card.currency
    return report


def usage_report(
    engine: Engine,
    query: ReportQuery,
    *,
    now: float,
    rate_card: RateCard | None = None,
    split: bool = False,
) -> dict[str, Any]:
    """The report of ``GET /api/report`` (see the contracts in the docs).

    ``rows`` come billable first, then those kept out of billing (staff, the health-check
    user), each sorted by server-hours, largest first; ``totals`` add up the billable rows
    and ``not_billable`` the others. ``split`` divides a session of a user in several
    groups evenly between them (``group_by=group`` only; shares of sessions are then
    fractions). Without a rate card there is no ``cost`` and no ``currency``.
    """
    rs, re = range_bounds(query.start, query.end)
    raw = range_figures(
        engine,
        rs=rs,
        re=re,
        now=now,
        group_by=query.group_by,
        split=split,
        by_profile=_priced_by_profile(rate_card, query.group_by),
    )
    active = active_users(engine, query.start, query.end, now=now)
    return report_from_rows(query, raw, now=now, active=active, rate_card=rate_card, split=split)


def _priced_by_profile(rate_card: RateCard | None, group_by: str) -> bool:
    """Whether the rows must be kept apart by profile to be priced: a rate card with
    prices of its own for some profile, in a report not already by profile."""
    return bool(rate_card is not None and rate_card.profiles and group_by != "profile")


def report_columns(report: Mapping[str, Any]) -> list[str]:
    columns = [report["group_by"], "billable", *FIGURES]
    if "currency" in report:
        columns += ["cost", "currency"]
    return columns


def report_csv(report: Mapping[str, Any]) -> str:
    """The rows of a report as CSV: one header line, then one line per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = report_columns(report)
    writer.writerow(columns)
    for row in report["rows"]:
        line = [_csv_safe(row["key"]), "true" if row["billable"] else "false"]
        line += [row[name] for name in FIGURES]
        if "currency" in report:
            line += [f"{row['cost']:.2f}", report["currency"]]
        writer.writerow(line)
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """Keep a spreadsheet from reading a user or group name as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


# -- per-day series -------------------------------------------------------------------------


def daily_series(
    one_day: Iterable[Any], spans: Iterable[Any], start: date, end: date
) -> dict[str, Any]:
    """The series of :func:`daily_usage` from the store's rows
    (:func:`~jhub_managed.store.usage_queries.daily_figures`): ``(key, day, seconds)`` of
    the sessions within one day, and ``(key, s, e, share)`` of those over more, cut here at
    each midnight UTC."""
    rs = day_start(start)
    n_days = (end - start).days + 1
    series: dict[str, list[float]] = defaultdict(lambda: [0.0] * n_days)
    for row in one_day:
        series[row.key or ""][int(row.day)] += float(row.seconds or 0.0)
    for row in spans:
        s, e = float(row.s), float(row.e)
        day = int((s - rs) // DAY)
        while s < e and day < n_days:
            cut = min(e, rs + (day + 1) * DAY)
            series[row.key or ""][day] += (cut - s) * float(row.share)
            s, day = cut, day + 1
    ordered = sorted(series.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    return {
        "days": [(start + timedelta(days=i)).isoformat() for i in range(n_days)],
        "series": {k: [round(v / 3600, 4) for v in values] for k, values in ordered},
    }


def daily_usage(
    engine: Engine,
    start: date,
    end: date,
    *,
    now: float,
    group_by: str = "group",
    split: bool = False,
    billable_only: bool = True,
) -> dict[str, Any]:
    """Server-hours of each day of the range by group, user or profile, for charts.

    ``{"days": ["YYYY-MM-DD", ...], "series": {key: [hours per day, ...]}}``, keys sorted
    by their total, largest first. Sessions are cut at midnight UTC, so a session over two
    days counts on both.
    """
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}")
    rs, re = range_bounds(start, end)
    one_day, spans = daily_figures(
        engine,
        rs=rs,
        re=re,
        now=now,
        group_by=group_by,
        split=split,
        billable_only=billable_only,
    )
    return daily_series(one_day, spans, start, end)


# -- one user's own use ---------------------------------------------------------------------


def month_figures(
    first: date, last: date, raw_rows: Iterable[Any], rate_card: RateCard | None
) -> dict[str, Any]:
    """One user's figures of a month from the store's rows, all keys added up."""
    figures = _empty_figures()
    for f in fold_rows(raw_rows, rate_card, "user").values():
        for k in figures:
            figures[k] += f[k]
    row = report_row("", True, figures, rate_card)
    row.pop("key")
    row.pop("billable")
    return {"start": first.isoformat(), "end": last.isoformat(), **row}


def running_entries(rows: Iterable[Any], now: float) -> list[dict[str, Any]]:
    """The running sessions of ``/api/me``: server, profile, since when, hours so far."""
    return [
        {
            "server_name": r.server_name,
            "profile": r.profile,
            "started": _iso(r.started_at),
            "hours": round(max(0.0, now - r.started_at) / 3600, 4),
        }
        for r in rows
    ]


def user_usage(
    engine: Engine,
    user_name: str,
    *,
    now: float,
    rate_card: RateCard | None = None,
) -> dict[str, Any]:
    """One user's own use this month and last (UTC), with the sessions now running.

    ``{"user", "this_month": {"start", "end", figures...}, "last_month": {...},
    "running": [{"server_name", "profile", "started", "hours"}], "currency"?}``. Cost is
    there when the operator has a rate card; the user's groups' budgets are added by the
    caller (:mod:`.budgets`).
    """
    today = datetime.fromtimestamp(now, timezone.utc).date()
    this_first, this_last = month_range(today)
    last_first, last_last = month_range(this_first - timedelta(days=1))
    result: dict[str, Any] = {"user": user_name}
    for name, (first, last) in (
        ("this_month", (this_first, this_last)),
        ("last_month", (last_first, last_last)),
    ):
        rs, re = range_bounds(first, last)
        raw = range_figures(
            engine,
            rs=rs,
            re=re,
            now=now,
            group_by="user",
            split=False,
            by_profile=_priced_by_profile(rate_card, "user"),
            user_name=user_name,
        )
        result[name] = month_figures(first, last, raw, rate_card)
    result["running"] = running_entries(running_of_user(engine, user_name), now)
    if rate_card is not None:
        result["currency"] = rate_card.currency
    return result
