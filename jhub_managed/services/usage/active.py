"""Active users of a range: distinct users with billable server time per day, ISO week and
month, worked out from the counts the store's tables of active days, weeks and months give
(:class:`~jhub_managed.store.usage_active.ActiveUserCounts`).

:func:`active_user_figures` and :func:`series_counts` are pure: they choose which periods to
count and how, and take the counts from any object with the methods of
:class:`ActiveCounts`; :func:`active_users` and :func:`active_users_series` read them from the
store.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol

from sqlalchemy import Engine

from ...store.usage_active import ActiveUserCounts
from .periods import PERIODS, epoch_day, is_whole, period_of, periods_of


class ActiveCounts(Protocol):
    """What the arithmetic asks of the store (days numbered since 1970-01-01)."""

    def distinct(self, period: str, first: int, last: int) -> int: ...

    def rows(self, period: str, first: int, last: int) -> int: ...

    def month_days(self, first: int, last: int) -> int: ...

    def per_slot(self, first: int, last: int, base: int, width: int) -> dict[int, int]: ...


def _distinct_days(counts: ActiveCounts, first: date, last: date) -> int:
    return counts.distinct("day", epoch_day(first), epoch_day(last))


def series_counts(counts: ActiveCounts, start: date, end: date, period: str) -> list[int]:
    """Distinct active users of each period of the range (:func:`periods_of`), in order."""
    periods = periods_of(start, end, period)
    if period == "month":
        return [_distinct_days(counts, first, last) for first, last in periods]
    first_day, last_day = epoch_day(start), epoch_day(end)
    base = epoch_day(start - timedelta(days=start.weekday())) if period == "week" else first_day
    width = 7 if period == "week" else 1
    found = counts.per_slot(first_day, last_day, base, width)
    return [found.get(i, 0) for i in range(len(periods))]


def _users_over(counts: ActiveCounts, first: date, last: date, today: date) -> int:
    """Distinct active users from ``first`` to ``last``: from the months' or weeks' table
    when the span is whole months or weeks, else from the days'."""
    for period in ("month", "week"):
        last_period = period_of(last, period)[0]
        if first == period_of(first, period)[0] and is_whole(last_period, last, period, today):
            return counts.distinct(period, epoch_day(first), epoch_day(last_period))
    return _distinct_days(counts, first, last)


def _summed_over_periods(
    counts: ActiveCounts, start: date, end: date, period: str, today: date
) -> int:
    """The distinct active users of each period of the range (clipped to it), added up.

    The periods wholly in the range count the rows of their own table, all in one count;
    the periods the range cuts (at most its first and its last) count distinct users over
    their days."""
    periods = periods_of(start, end, period)
    whole = [p for p in periods if is_whole(*p, period, today)]
    total = 0
    if whole:
        total += counts.rows(period, epoch_day(whole[0][0]), epoch_day(whole[-1][0]))
    for first, last in periods:
        if (first, last) not in whole:
            total += _distinct_days(counts, first, last)
    return int(total or 0)


def _user_days(counts: ActiveCounts, start: date, end: date, today: date) -> int:
    """Active (day, user) pairs of the range: the day counts of the months wholly in it,
    and the rows of the days' table for the rest."""
    months = periods_of(start, end, "month")
    whole = [p for p in months if is_whole(*p, "month", today)]
    total = 0
    if whole:
        total += counts.month_days(epoch_day(whole[0][0]), epoch_day(whole[-1][0]))
    for first, last in months:
        if (first, last) not in whole:
            total += counts.rows("day", epoch_day(first), epoch_day(last))
    return int(total or 0)


def active_user_figures(counts: ActiveCounts, start: date, end: date, today: date) -> dict:
    """Average distinct active users per day, ISO week and month of the range (``daily``,
    ``weekly``, ``monthly``) and the distinct users of the whole range (``total``)."""
    result: dict[str, Any] = {"total": _users_over(counts, start, end, today)}
    for name, period in (("daily", "day"), ("weekly", "week"), ("monthly", "month")):
        periods = periods_of(start, end, period)
        if len(periods) == 1:
            summed = result["total"]  # one period: the range itself (e.g. a month)
        elif period == "day":
            summed = _user_days(counts, start, end, today)
        else:
            summed = _summed_over_periods(counts, start, end, period, today)
        result[name] = round(summed / len(periods), 2)
    return {name: result[name] for name in ("daily", "weekly", "monthly", "total")}


def active_users(engine: Engine, start: date, end: date, *, now: float) -> dict:
    """Average distinct active users per day, per ISO week and per month of the range, and
    the distinct users of the whole range (``total``). Periods are clipped to the range.
    Staff and the health-check user are not counted.

    Counted from the tables of active days, weeks and months the recorder keeps
    (:func:`~jhub_managed.store.usage.days_of`): a handful of index range counts, whatever
    the number of sessions.
    """
    today = datetime.fromtimestamp(now, timezone.utc).date()
    with engine.connect() as connection:
        return active_user_figures(ActiveUserCounts(connection), start, end, today)


def active_users_series(
    engine: Engine, start: date, end: date, *, now: float | None = None, period: str = "day"
) -> list[dict[str, Any]]:
    """Distinct users with billable use in each day, ISO week or month of the range.

    ``[{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD", "users": N}, ...]``; periods are
    clipped to the range. Running servers count up to the collector's last poll.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be day, week or month, not {period!r}")
    with engine.connect() as connection:
        counts = series_counts(ActiveUserCounts(connection), start, end, period)
    return [
        {"start": first.isoformat(), "end": last.isoformat(), "users": n}
        for (first, last), n in zip(periods_of(start, end, period), counts, strict=True)
    ]
