"""Calendar arithmetic of the usage reports: UTC days, ISO weeks and months of a range.

Pure functions of dates; days are also counted as whole days since 1970-01-01 (as the
store's tables of active days, weeks and months number them).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

PERIODS = ("day", "week", "month")


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def range_bounds(start: date, end: date) -> tuple[float, float]:
    """UTC seconds of ``start`` 00:00 and of the day after ``end`` 00:00."""
    return day_start(start), day_start(end + timedelta(days=1))


def epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def month_range(day: date) -> tuple[date, date]:
    """First and last day of the month of ``day``."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def periods_of(start: date, end: date, period: str) -> list[tuple[date, date]]:
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


def period_of(day: date, period: str) -> tuple[date, date]:
    """The first and last day of the day, ISO week or month ``day`` is in."""
    if period == "day":
        return day, day
    if period == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    return month_range(day)


def is_whole(first: date, last: date, period: str, today: date) -> bool:
    """Whether ``[first, last]`` holds all the active days of its period there are: the
    period itself, or its start up to today or later (nothing is recorded ahead of now)."""
    p_first, p_last = period_of(first, period)
    return first == p_first and last <= p_last and (last == p_last or last >= today)
