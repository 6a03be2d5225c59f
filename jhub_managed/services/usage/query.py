"""What a usage report is asked for: the arguments of ``/api/report`` and the date range
checks every report shares (the report page words its own messages with the same check)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

GROUP_BY = ("user", "group", "profile")
FORMATS = ("json", "csv")
MAX_RANGE_DAYS = 400


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


def range_error(start: date, end: date, *, before: str, too_long: str) -> str | None:
    """What is wrong with the range from ``start`` to ``end`` (inclusive), else ``None``:
    ``end`` before ``start`` (the message ``before``), or over :data:`MAX_RANGE_DAYS` days
    (``too_long``). The messages are formatted with ``start``, ``end`` (``YYYY-MM-DD``),
    ``days`` and ``max_days``."""
    days = (end - start).days + 1
    facts = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": days,
        "max_days": MAX_RANGE_DAYS,
    }
    if end < start:
        return before.format(**facts)
    if days > MAX_RANGE_DAYS:
        return too_long.format(**facts)
    return None


def _short(text: str, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def _single_values(args: Mapping[str, Any], errors: list[str]) -> dict[str, str]:
    """The known arguments as one string each; an unknown one or one given twice is named
    in ``errors``."""
    values: dict[str, str] = {}
    for key, value in args.items():
        if key not in ("start", "end", "group_by", "format"):
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
    return values


def parse_report_query(args: Mapping[str, Any], *, today: date) -> ReportQuery:
    """Check the arguments of a report request (each a string or a list of them).

    ``start`` and ``end`` default to the first of this month and ``today``; ``group_by``
    to ``group``; ``format`` to ``json``. Raises :class:`ReportQueryError` with every
    problem: a malformed date, ``end`` before ``start``, a range over 400 days, an unknown
    ``group_by`` or ``format``, an argument given twice or one that does not exist.
    """
    errors: list[str] = []
    values = _single_values(args, errors)
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
        problem = range_error(
            dates["start"],
            dates["end"],
            before="'end' ({end}) is before 'start' ({start})",
            too_long="the range is {days} days; at most {max_days} days can be asked for at once",
        )
        if problem:
            errors.append(problem)
    if errors:
        raise ReportQueryError(errors)
    return ReportQuery(dates["start"], dates["end"], group_by, fmt)
