"""Usage reports: aggregation queries over the recorded sessions, done by the database.

Every function here is pure apart from reading the store through the ``engine`` it is
given: no hub, no request, no clock (``now`` is an argument). Pages, the REST API, the
metrics and the budget notice all build on them.

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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, Float, Integer, and_, case, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from ...store.models import (
    UsageActiveDay,
    UsageActiveMonth,
    UsageActiveWeek,
    UsageSession,
    UsageShare,
)
from ...store.usage import requested_rates
from .rates import RateCard

GROUP_BY = ("user", "group", "profile")
FORMATS = ("json", "csv")
MAX_RANGE_DAYS = 400
DAY = 86400.0
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

_T = UsageSession.__table__.c
_S = UsageShare.__table__.c
_D = UsageActiveDay.__table__.c


class ReportQueryError(ValueError):
    """A report request that can't be answered; ``errors`` says every reason."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ReportQuery:
    start: date
    end: date
    group_by: str = "group"
    format: str = "json"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def parse_date(value: str) -> date:
    """``YYYY-MM-DD`` exactly; ``ValueError`` otherwise."""
    if not isinstance(value, str) or len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise ValueError(value)
    return date.fromisoformat(value)


def parse_report_query(args: Mapping[str, Any], *, today: date) -> ReportQuery:
    """Check the arguments of a report request (each a string or a list of them).

    ``start`` and ``end`` default to the first of this month and ``today``; ``group_by``
    to ``group``; ``format`` to ``json``. Raises :class:`ReportQueryError` with every
    problem: a malformed date, ``end`` before ``start``, a range over 400 days, an unknown
    ``group_by`` or ``format``, an argument given twice or one that does not exist.
    """
    errors: list[str] = []
    values: dict[str, str] = {}
    known = {"start", "end", "group_by", "format"}
    for key, value in args.items():
        if key not in known:
            errors.append(
                f"unknown argument '{_short(key)}' (arguments: start, end, group_by, format)"
            )
            continue
        if isinstance(value, list | tuple):
            if len(value) != 1:
                errors.append(f"'{key}' must be given once")
                continue
            value = value[0]
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        values[key] = str(value)
    dates: dict[str, date] = {}
    for key, fallback in (("start", today.replace(day=1)), ("end", today)):
        if key not in values:
            dates[key] = fallback
            continue
        try:
            dates[key] = parse_date(values[key])
        except ValueError:
            errors.append(f"'{key}' must be a date as YYYY-MM-DD, not '{_short(values[key])}'")
    group_by = values.get("group_by", "group")
    if group_by not in GROUP_BY:
        errors.append(f"'group_by' must be one of user, group, profile, not '{_short(group_by)}'")
    fmt = values.get("format", "json")
    if fmt not in FORMATS:
        errors.append(f"'format' must be json or csv, not '{_short(fmt)}'")
    if "start" in dates and "end" in dates:
        if dates["end"] < dates["start"]:
            errors.append(f"'end' ({dates['end']}) is before 'start' ({dates['start']})")
        elif (dates["end"] - dates["start"]).days + 1 > MAX_RANGE_DAYS:
            errors.append(
                f"the range is {(dates['end'] - dates['start']).days + 1} days; "
                f"at most {MAX_RANGE_DAYS} days can be asked for at once"
            )
    if errors:
        raise ReportQueryError(errors)
    return ReportQuery(dates["start"], dates["end"], group_by, fmt)


def _short(text: str, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def range_bounds(start: date, end: date) -> tuple[float, float]:
    """UTC seconds of ``start`` 00:00 and of the day after ``end`` 00:00."""
    return day_start(start), day_start(end + timedelta(days=1))


# -- the shared SQL --------------------------------------------------------------------------


class whole_days(FunctionElement):
    """The whole number of days in a non-negative number of seconds.

    ``CAST(x AS INTEGER)`` truncates on SQLite but rounds on PostgreSQL, which has
    ``floor``; SQLite may be built without it.
    """

    type = Integer()
    inherit_cache = True
    name = "whole_days"


@compiles(whole_days)
def _whole_days_sqlite(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)}) / {DAY} AS INTEGER)"


@compiles(whole_days, "postgresql")
def _whole_days_postgresql(element, compiler, **kw):
    return f"CAST(floor(({compiler.process(element.clauses, **kw)}) / {DAY}) AS INTEGER)"


def _clipped(rs: float, re: float, now: float) -> tuple[ColumnElement, ColumnElement]:
    """Start and end of each session clipped to ``[rs, re)``, running ones up to ``now``."""
    stop = func.coalesce(_T.stopped_at, literal(now, Float))
    end_clip = case((stop < re, stop), else_=literal(re, Float))
    start_clip = case((_T.started_at > rs, _T.started_at), else_=literal(rs, Float))
    return start_clip, end_clip


#: the longest closed session: answered from the index on the duration
LONGEST_SESSION = select(func.max(_T.stopped_at - _T.started_at))


def longest_session(connection) -> float:
    return float(connection.execute(LONGEST_SESSION).scalar() or 0.0)


def _overlaps(rs: float, re: float, now: float, longest: float) -> ColumnElement:
    """Sessions with time in ``[rs, re)``.

    A closed session that overlaps started at most ``longest`` seconds before ``rs``, so
    both branches are index range scans (starts in a window; open sessions), not a pass
    over every session that started before the range ends.
    """
    closed = and_(
        _T.started_at >= rs - longest - 1.0,
        _T.started_at < re,
        _T.stopped_at > rs,
    )
    still_open = and_(_T.stopped_at.is_(None), _T.started_at < re, literal(now, Float) > rs)
    return or_(closed, still_open)


def _key_column(group_by: str, split: bool) -> ColumnElement:
    if group_by == "user":
        return _T.user_name
    if group_by == "profile":
        return _T.profile
    return _S.group_name if split else _T.billing_group


def _aggregate(
    engine: Engine,
    *,
    rs: float,
    re: float,
    now: float,
    group_by: str,
    split: bool,
    by_profile: bool = True,
    where: ColumnElement | None = None,
) -> list[Any]:
    """Rows per (key, billable[, profile]): sessions, seconds and resource-seconds.

    Two queries over disjoint sessions: those wholly inside the range add up the figures
    they keep from their stop (:func:`~jhub_managed.store.usage.stopped_figures`); those
    cut by the range's ends, and those still running, are clipped to it here. The rows of
    both are added up by :func:`_fold`.
    """
    use_shares = split and group_by == "group"

    def weighted(column):
        return column * _S.share if use_shares else column

    sessions = func.sum(_S.share) if use_shares else func.count()
    keys = [_key_column(group_by, split).label("key"), _T.billable.label("billable")]
    if by_profile:
        keys.append(_T.profile.label("profile_slug"))
    table = UsageSession.__table__
    if use_shares:
        table = table.join(UsageShare.__table__, _S.session_id == _T.id)
    inside = select(
        *keys,
        sessions.label("sessions"),
        func.sum(weighted(_T.seconds)).label("seconds"),
        func.sum(weighted(_T.cpu_seconds)).label("cpu"),
        func.sum(weighted(_T.mem_seconds)).label("mem"),
        func.sum(weighted(_T.gpu_seconds)).label("gpu"),
        literal(0.0, Float).label("running"),
    ).where(
        _T.started_at >= rs,
        _T.started_at < re,
        _T.stopped_at <= re,
        # stopped after rs (it stopped at or after its start): said as "not at rs", so that
        # the planner scans the start's index, in the order the rows were written
        _T.stopped_at != rs,
    )
    start_clip, end_clip = _clipped(rs, re, now)
    duration = weighted(end_clip - start_clip)
    rates = requested_rates()
    share = _S.share if use_shares else literal(1.0, Float)
    cut = select(
        *keys,
        sessions.label("sessions"),
        func.sum(duration).label("seconds"),
        func.sum(duration * rates["cpu"]).label("cpu"),
        func.sum(duration * rates["mem"]).label("mem"),
        func.sum(duration * rates["gpu"]).label("gpu"),
        func.sum(case((_T.stopped_at.is_(None), share), else_=0.0)).label("running"),
    )
    rows = []
    with engine.connect() as connection:
        longest = longest_session(connection)
        for query, condition in (
            (inside, None),
            (cut, _cut_by_range(rs, re, now, longest)),
        ):
            if condition is not None:
                query = query.where(condition)
            if where is not None:
                query = query.where(where)
            query = query.select_from(table).group_by(*keys)
            rows += connection.execute(query).all()
    return rows


def _cut_by_range(rs: float, re: float, now: float, longest: float) -> ColumnElement:
    """Sessions with time in ``[rs, re)`` that are not wholly inside it: cut by its start,
    by its end, or still running. Each branch is an index range scan."""
    # the stop said as "stopped_at + 0": the same value, but not one the planner would read
    # from the stop's index, which holds nearly every session stopped since the range began
    stopped = _T.stopped_at + 0.0
    return or_(
        and_(_T.started_at >= rs - longest - 1.0, _T.started_at < rs, stopped > rs),
        and_(_T.started_at >= max(rs, re - longest - 1.0), _T.started_at < re, stopped > re),
        and_(_T.stopped_at.is_(None), _T.started_at < re, literal(now, Float) > rs),
    )


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


def _fold(
    raw_rows, rate_card: RateCard | None, group_by: str = "group"
) -> dict[tuple[str, bool], dict[str, float]]:
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


def _row(key: str, billable: bool, f: Mapping[str, float], rate_card: RateCard | None) -> dict:
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


def _totals(rows: list[dict], rate_card: RateCard | None) -> dict:
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
    raw = _aggregate(
        engine,
        rs=rs,
        re=re,
        now=now,
        group_by=query.group_by,
        split=split,
        by_profile=_priced_by_profile(rate_card, query.group_by),
    )
    folded = _fold(raw, rate_card, query.group_by)
    rows = [_row(key, billable, f, rate_card) for (key, billable), f in folded.items()]
    rows.sort(key=lambda r: (not r["billable"], -r["server_hours"], r["key"]))
    billable = [r for r in rows if r["billable"]]
    report: dict[str, Any] = {
        "start": query.start.isoformat(),
        "end": query.end.isoformat(),
        "group_by": query.group_by,
        "split": bool(split and query.group_by == "group"),
        "generated_at": _iso(now),
        "rows": rows,
        "totals": _totals(billable, rate_card),
        "not_billable": _totals([r for r in rows if not r["billable"]], rate_card),
        "active_users": active_users(engine, query.start, query.end, now=now),
    }
    if rate_card is not None:
        report["currency"] = rate_card.currency
    return report


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


# -- active users --------------------------------------------------------------------------


def epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _distinct_users(connection, first: date, last: date) -> int:
    # a (day, user) row is there once: one day's users are its rows
    users = func.count() if first == last else func.count(func.distinct(_D.user_name))
    return (
        connection.execute(
            select(users).where(_D.day >= epoch_day(first), _D.day <= epoch_day(last))
        ).scalar()
        or 0
    )


def _periods(start: date, end: date, period: str) -> list[tuple[date, date]]:
    """Calendar days, ISO weeks (Monday first) or months touching the range, clipped to it."""
    periods = []
    cursor = start
    while cursor <= end:
        if period == "day":
            last = cursor
        elif period == "week":
            last = cursor + timedelta(days=6 - cursor.weekday())
        else:
            following = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
            last = following - timedelta(days=1)
        last = min(last, end)
        periods.append((cursor, last))
        cursor = last + timedelta(days=1)
    return periods


def _period_counts(connection, start: date, end: date, period: str) -> list[int]:
    """Distinct active users of each period of the range, in order."""
    periods = _periods(start, end, period)
    if period == "month":
        return [_distinct_users(connection, first, last) for first, last in periods]
    first_day, last_day = epoch_day(start), epoch_day(end)
    base = epoch_day(start - timedelta(days=start.weekday())) if period == "week" else first_day
    width = 7 if period == "week" else 1
    index = ((_D.day - base) // width) if width > 1 else (_D.day - base)
    # a (day, user) row is there once: a day's users are its rows, counted from the key
    users = func.count(func.distinct(_D.user_name)) if width > 1 else func.count()
    rows = connection.execute(
        select(index.label("i"), users)
        .where(_D.day >= first_day, _D.day <= last_day)
        .group_by(index)
    ).all()
    counts = {int(i): int(n) for i, n in rows}
    return [counts.get(i, 0) for i in range(len(periods))]


def active_users_series(
    engine: Engine, start: date, end: date, *, now: float | None = None, period: str = "day"
) -> list[dict[str, Any]]:
    """Distinct users with billable use in each day, ISO week or month of the range.

    ``[{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD", "users": N}, ...]``; periods are
    clipped to the range. Running servers count up to the collector's last poll.
    """
    if period not in ("day", "week", "month"):
        raise ValueError(f"period must be day, week or month, not {period!r}")
    with engine.connect() as connection:
        counts = _period_counts(connection, start, end, period)
    return [
        {"start": first.isoformat(), "end": last.isoformat(), "users": n}
        for (first, last), n in zip(_periods(start, end, period), counts, strict=True)
    ]


_W = UsageActiveWeek.__table__.c
_M = UsageActiveMonth.__table__.c
#: the table of each period, by its column of the period's first day
_PERIOD_COLUMNS = {"day": _D.day, "week": _W.week, "month": _M.month}


def _period_of(day: date, period: str) -> tuple[date, date]:
    """The first and last day of the day, ISO week or month ``day`` is in."""
    if period == "day":
        return day, day
    if period == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    return month_range(day)


def _whole(first: date, last: date, period: str, today: date) -> bool:
    """Whether ``[first, last]`` holds all the active days of its period there are: the
    period itself, or its start up to today or later (nothing is recorded ahead of now)."""
    p_first, p_last = _period_of(first, period)
    return first == p_first and last <= p_last and (last == p_last or last >= today)


def _users_over(connection, first: date, last: date, today: date) -> int:
    """Distinct active users from ``first`` to ``last``: from the months' or weeks' table
    when the span is whole months or weeks, else from the days'."""
    for period in ("month", "week"):
        last_period = _period_of(last, period)[0]
        if first == _period_of(first, period)[0] and _whole(last_period, last, period, today):
            column = _PERIOD_COLUMNS[period]
            lo, hi = epoch_day(first), epoch_day(last_period)
            users = (
                func.count() if lo == hi else func.count(func.distinct(column.table.c.user_name))
            )
            return connection.execute(select(users).where(column >= lo, column <= hi)).scalar() or 0
    return _distinct_users(connection, first, last)


def _summed_over_periods(connection, start: date, end: date, period: str, today: date) -> int:
    """The distinct active users of each period of the range (clipped to it), added up.

    A period wholly in the range counts the rows of its own table, all such periods in one
    query; the periods the range cuts (at most its first and its last) count distinct users
    over their days."""
    periods = _periods(start, end, period)
    whole = [p for p in periods if _whole(*p, period, today)]
    total = 0
    if whole:
        column = _PERIOD_COLUMNS[period]
        lo, hi = epoch_day(whole[0][0]), epoch_day(whole[-1][0])
        total += connection.execute(select(func.count()).where(column >= lo, column <= hi)).scalar()
    for first, last in periods:
        if (first, last) not in whole:
            total += _distinct_users(connection, first, last)
    return int(total or 0)


def _user_days(connection, start: date, end: date, today: date) -> int:
    """Active (day, user) pairs of the range: the day counts of the months wholly in it,
    and the rows of the days' table for the rest."""
    months = _periods(start, end, "month")
    whole = [p for p in months if _whole(*p, "month", today)]
    total = 0
    if whole:
        lo, hi = epoch_day(whole[0][0]), epoch_day(whole[-1][0])
        total += (
            connection.execute(
                select(func.sum(_M.days)).where(_M.month >= lo, _M.month <= hi)
            ).scalar()
            or 0
        )
    for first, last in months:
        if (first, last) not in whole:
            total += connection.execute(
                select(func.count()).where(_D.day >= epoch_day(first), _D.day <= epoch_day(last))
            ).scalar()
    return int(total or 0)


def active_users(engine: Engine, start: date, end: date, *, now: float) -> dict:
    """Average distinct active users per day, per ISO week and per month of the range, and
    the distinct users of the whole range (``total``). Periods are clipped to the range.
    Staff and the health-check user are not counted.

    Counted from the tables of active days, weeks and months the recorder keeps
    (:func:`~jhub_managed.store.usage.days_of`): a handful of index range counts, whatever
    the number of sessions.
    """
    today = datetime.fromtimestamp(now, timezone.utc).date()
    result: dict[str, Any] = {}
    with engine.connect() as connection:
        result["total"] = _users_over(connection, start, end, today)
        for name, period in (("daily", "day"), ("weekly", "week"), ("monthly", "month")):
            periods = _periods(start, end, period)
            if len(periods) == 1:
                summed = result["total"]  # one period: the range itself (e.g. a month)
            elif period == "day":
                summed = _user_days(connection, start, end, today)
            else:
                summed = _summed_over_periods(connection, start, end, period, today)
            result[name] = round(summed / len(periods), 2)
    return {name: result[name] for name in ("daily", "weekly", "monthly", "total")}


# -- per-day series -------------------------------------------------------------------------


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
    n_days = (end - start).days + 1
    start_clip, end_clip = _clipped(rs, re, now)
    use_shares = split and group_by == "group"
    share = _S.share if use_shares else literal(1.0, Float)
    key = _key_column(group_by, split).label("key")
    d0 = whole_days(start_clip - rs)
    d1 = whole_days(end_clip - rs - 0.001)
    table = UsageSession.__table__
    if use_shares:
        table = table.join(UsageShare.__table__, _S.session_id == _T.id)
    with engine.connect() as connection:
        longest = longest_session(connection)
    condition = and_(_overlaps(rs, re, now, longest), end_clip > start_clip)
    if billable_only:
        condition = and_(condition, _T.billable.is_(True))
    one_day = (
        select(key, d0.label("day"), func.sum((end_clip - start_clip) * share).label("seconds"))
        .select_from(table)
        .where(condition, d0 == d1)
        .group_by(key, d0)
    )
    many_days = (
        select(key, start_clip.label("s"), end_clip.label("e"), share.label("share"))
        .select_from(table)
        .where(condition, d0 != d1)
    )
    series: dict[str, list[float]] = defaultdict(lambda: [0.0] * n_days)
    with engine.connect() as connection:
        for row in connection.execute(one_day):
            series[row.key or ""][int(row.day)] += float(row.seconds or 0.0)
        for row in connection.execute(many_days):
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


# -- one user's own use ---------------------------------------------------------------------


def month_range(day: date) -> tuple[date, date]:
    """First and last day of the month of ``day``."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


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
        raw = _aggregate(
            engine,
            rs=rs,
            re=re,
            now=now,
            group_by="user",
            split=False,
            by_profile=_priced_by_profile(rate_card, "user"),
            where=_T.user_name == user_name,
        )
        folded = _fold(raw, rate_card, "user")
        figures = _empty_figures()
        for f in folded.values():
            for k in figures:
                figures[k] += f[k]
        row = _row(user_name, True, figures, rate_card)
        row.pop("key")
        row.pop("billable")
        result[name] = {"start": first.isoformat(), "end": last.isoformat(), **row}
    with engine.connect() as connection:
        running = connection.execute(
            select(_T.server_name, _T.profile, _T.started_at)
            .where(_T.user_name == user_name, _T.stopped_at.is_(None))
            .order_by(_T.started_at)
        ).all()
    result["running"] = [
        {
            "server_name": r.server_name,
            "profile": r.profile,
            "started": _iso(r.started_at),
            "hours": round(max(0.0, now - r.started_at) / 3600, 4),
        }
        for r in running
    ]
    if rate_card is not None:
        result["currency"] = rate_card.currency
    return result
