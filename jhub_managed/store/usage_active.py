"""Reading the tables of active days, weeks and months: distinct users, counted by the store.

The recorder keeps one row per (day, user), (ISO week, user) and (month, user) with billable
server time (:func:`~jhub_managed.store.usage.days_of`); each count here is one index range
query over one of them. Days, weeks and months are numbered in days since 1970-01-01 (a week
by its Monday, a month by its first day). Which periods to count, and what to make of the
counts, is the usage service's arithmetic (:mod:`jhub_managed.services.usage.active`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select

from .models import UsageActiveDay, UsageActiveMonth, UsageActiveWeek

_D = UsageActiveDay.__table__.c
_M = UsageActiveMonth.__table__.c
#: the column of each period's first day, in the table of that period
PERIOD_COLUMNS = {
    "day": _D.day,
    "week": UsageActiveWeek.__table__.c.week,
    "month": _M.month,
}


def count_recent(connection, today: int, periods: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Distinct users with billable time in each of the last ``days`` (today included), for
    each ``(name, days)`` of ``periods``, in one pass over the day table."""
    longest = max(days for _, days in periods)
    columns = [
        func.count(func.distinct(case((_D.day > today - days, _D.user_name))))
        for _, days in periods
    ]
    row = connection.execute(
        select(*columns).where(_D.day > today - longest, _D.day <= today)
    ).one()
    return {name: int(n or 0) for (name, _), n in zip(periods, row, strict=True)}


class ActiveUserCounts:
    """Counts over the active-user tables, on one open ``connection``."""

    def __init__(self, connection):
        self.connection = connection

    def distinct(self, period: str, first: int, last: int) -> int:
        """Distinct users of the periods (of the ``period``'s table) from ``first`` to
        ``last``, both first days of such periods."""
        column = PERIOD_COLUMNS[period]
        # a (period, user) row is there once: one period's users are its rows
        users = (
            func.count() if first == last else func.count(func.distinct(column.table.c.user_name))
        )
        return (
            self.connection.execute(select(users).where(column >= first, column <= last)).scalar()
            or 0
        )

    def rows(self, period: str, first: int, last: int) -> int:
        """Rows of the ``period``'s table from ``first`` to ``last``: the distinct users of
        each period, added up."""
        column = PERIOD_COLUMNS[period]
        return int(
            self.connection.execute(
                select(func.count()).where(column >= first, column <= last)
            ).scalar()
            or 0
        )

    def month_days(self, first: int, last: int) -> int:
        """Active (day, user) pairs of the months from ``first`` to ``last``."""
        return int(
            self.connection.execute(
                select(func.sum(_M.days)).where(_M.month >= first, _M.month <= last)
            ).scalar()
            or 0
        )

    def per_slot(self, first: int, last: int, base: int, width: int) -> dict[int, int]:
        """Distinct users of the days from ``first`` to ``last`` by slot of ``width`` days
        counted from ``base``: ``{slot: users}``, slots without users left out."""
        index = ((_D.day - base) // width) if width > 1 else (_D.day - base)
        # a (day, user) row is there once: a day's users are its rows, counted from the key
        users = func.count(func.distinct(_D.user_name)) if width > 1 else func.count()
        rows = self.connection.execute(
            select(index.label("i"), users).where(_D.day >= first, _D.day <= last).group_by(index)
        ).all()
        return {int(i): int(n) for i, n in rows}
