"""The usage reports' arithmetic on plain rows, without a database: rows added up and priced,
the report's order and totals, the daily series cut at midnight, one user's month, active
users from the counts of the store's period tables, and the date range check."""

from __future__ import annotations

import random
from collections import namedtuple
from datetime import date, timedelta

import pytest

from jhub_managed.services.usage.active import active_user_figures, series_counts
from jhub_managed.services.usage.periods import epoch_day, periods_of
from jhub_managed.services.usage.query import MAX_RANGE_DAYS, ReportQuery, range_error
from jhub_managed.services.usage.rates import RateCard
from jhub_managed.services.usage.reports import (
    daily_series,
    fold_rows,
    month_figures,
    report_from_rows,
    running_entries,
)
from jhub_managed.store.usage import month_of, week_of

from .fixtures.usage_data import ts

H = 3600.0
GIB = 1024**3
NOW = ts("2026-11-20 12:00")
ACTIVE = {"daily": 1.0, "weekly": 1.0, "monthly": 1.0, "total": 1}

# what the store answers: sessions, seconds and resource-seconds per key
Figures = namedtuple("Figures", "key billable profile_slug sessions seconds cpu mem gpu running")
OneDay = namedtuple("OneDay", "key day seconds")
Span = namedtuple("Span", "key s e share")
Running = namedtuple("Running", "server_name profile started_at")


def figures(key, seconds, *, billable=True, profile="small", sessions=1, running=0, cpu=1, gib=2):
    return Figures(
        key, billable, profile, sessions, seconds, seconds * cpu, seconds * gib * GIB, 0.0, running
    )


def test_rows_of_both_queries_add_up_by_key_and_billable():
    raw = [
        figures("physics", 2 * H),  # wholly inside the range
        figures("physics", 1 * H, running=1),  # cut by it
        figures("staff", 5 * H, billable=False),
        Figures(None, True, "small", None, None, None, None, None, None),  # empty sums
    ]
    folded = fold_rows(raw, None)
    assert folded[("physics", True)]["sessions"] == 2
    assert folded[("physics", True)]["seconds"] == 3 * H
    assert folded[("physics", True)]["cpu"] == 3 * H
    assert folded[("physics", True)]["running"] == 1
    assert folded[("staff", False)]["seconds"] == 5 * H
    assert folded[("", True)]["seconds"] == 0.0


def test_cost_is_priced_by_each_rows_profile():
    card = RateCard.from_config(
        {"currency": "EUR", "server_hour": 1.0, "profiles": {"gpu": {"server_hour": 3.0}}}
    )
    raw = [figures("chem", 2 * H, profile="small"), figures("chem", 1 * H, profile="gpu")]
    assert fold_rows(raw, card)[("chem", True)]["cost"] == pytest.approx(2 * 1.0 + 1 * 3.0)
    # a report by profile prices each row by its key
    by_profile = [figures("gpu", 1 * H, profile=None)]
    assert fold_rows(by_profile, card, "profile")[("gpu", True)]["cost"] == pytest.approx(3.0)


def test_report_orders_billable_first_by_hours_and_totals_each_side():
    query = ReportQuery(date(2026, 11, 1), date(2026, 11, 30), "group")
    raw = [
        figures("bio", 1 * H),
        figures("physics", 3 * H, sessions=2),
        figures("chem", 3 * H),
        figures("staff", 9 * H, billable=False),
        # a session split between two groups: half of it each
        figures("bio", 0.5 * H, sessions=0.5, running=0.5),
    ]
    report = report_from_rows(query, raw, now=NOW, active=ACTIVE, split=True)
    assert [(r["key"], r["billable"]) for r in report["rows"]] == [
        ("chem", True),
        ("physics", True),
        ("bio", True),
        ("staff", False),
    ]
    bio = report["rows"][2]
    assert bio["sessions"] == 1.5 and bio["running"] == 0.5
    assert bio["server_hours"] == 1.5 and bio["average_session_hours"] == 1.0
    assert report["rows"][1]["sessions"] == 2 and isinstance(report["rows"][1]["sessions"], int)
    assert report["rows"][1]["memory_gib_hours"] == 6.0
    assert report["totals"]["server_hours"] == 7.5
    assert report["totals"]["sessions"] == 4.5
    assert report["totals"]["average_session_hours"] == round(7.5 / 4.5, 4)
    assert report["not_billable"]["server_hours"] == 9.0
    assert report["split"] is True and "currency" not in report
    assert report["start"] == "2026-11-01" and report["generated_at"] == "2026-11-20T12:00:00Z"
    by_user = report_from_rows(
        ReportQuery(query.start, query.end, "user"), [], now=NOW, active=ACTIVE, split=True
    )
    assert by_user["split"] is False and by_user["rows"] == []
    assert by_user["totals"]["average_session_hours"] == 0.0


def test_daily_series_cuts_sessions_at_midnight_and_sorts_by_total():
    start, end = date(2026, 11, 1), date(2026, 11, 3)
    one_day = [OneDay("physics", 0, 2 * H), OneDay("physics", 2, H), OneDay(None, 1, H)]
    spans = [
        # 23:00 on the 1st to 01:00 on the 3rd, half of it billed here
        Span("chem", ts("2026-11-01 23:00"), ts("2026-11-03 01:00"), 0.5),
        # runs past the range's end: cut at it
        Span("bio", ts("2026-11-03 23:00"), ts("2026-11-04 05:00"), 1.0),
    ]
    result = daily_series(one_day, spans, start, end)
    assert result["days"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert list(result["series"].items()) == [
        ("chem", [0.5, 12.0, 0.5]),
        ("physics", [2.0, 0.0, 1.0]),
        ("", [0.0, 1.0, 0.0]),
        ("bio", [0.0, 0.0, 1.0]),
    ]


def test_one_users_month_adds_every_profile_and_lists_running_servers():
    card = RateCard.from_config({"currency": "EUR", "server_hour": 2.0})
    raw = [figures("ann", 2 * H, profile="small"), figures("ann", 1 * H, profile="gpu", running=1)]
    month = month_figures(date(2026, 11, 1), date(2026, 11, 30), raw, card)
    assert month["start"] == "2026-11-01" and month["end"] == "2026-11-30"
    assert month["server_hours"] == 3.0 and month["sessions"] == 2 and month["running"] == 1
    assert month["cost"] == 6.0
    assert "key" not in month and "billable" not in month
    running = running_entries([Running("", "small", NOW - 1.5 * H)], NOW)
    assert running == [
        {"server_name": "", "profile": "small", "started": "2026-11-20T10:30:00Z", "hours": 1.5}
    ]


class PairCounts:
    """The store's period tables, from plain (day, user) pairs, as the recorder fills them."""

    def __init__(self, pairs: set[tuple[int, str]]):
        self.tables = {
            "day": {(d, u) for d, u in pairs},
            "week": {(week_of(d), u) for d, u in pairs},
            "month": {(month_of(d), u) for d, u in pairs},
        }
        self.days_in_month: dict[tuple[int, str], int] = {}
        for d, u in pairs:
            key = (month_of(d), u)
            self.days_in_month[key] = self.days_in_month.get(key, 0) + 1

    def _rows(self, period, first, last):
        return [(p, u) for p, u in self.tables[period] if first <= p <= last]

    def distinct(self, period, first, last):
        return len({u for _, u in self._rows(period, first, last)})

    def rows(self, period, first, last):
        return len(self._rows(period, first, last))

    def month_days(self, first, last):
        return sum(n for (m, _), n in self.days_in_month.items() if first <= m <= last)

    def per_slot(self, first, last, base, width):
        slots: dict[int, set[str]] = {}
        for d, u in self._rows("day", first, last):
            slots.setdefault((d - base) // width, set()).add(u)
        return {i: len(users) for i, users in slots.items()}


def _users(pairs, first: date, last: date) -> set[str]:
    return {u for d, u in pairs if epoch_day(first) <= d <= epoch_day(last)}


@pytest.mark.parametrize("seed", range(6))
def test_active_users_from_the_period_tables_match_counting_every_day(seed):
    rng = random.Random(seed)
    today = date(2026, 11, 20)
    days = [epoch_day(today) - i for i in range(200)]
    pairs = {(rng.choice(days), f"user{rng.randrange(12)}") for _ in range(300)}
    counts = PairCounts(pairs)
    ranges = [
        (date(2026, 11, 1), today),  # this month so far
        (date(2026, 10, 1), date(2026, 10, 31)),  # a whole month
        (date(2026, 8, 10), date(2026, 11, 3)),  # cut months and weeks at both ends
        (date(2026, 11, 16), date(2026, 11, 22)),  # this week, past today
        (date(2026, 9, 7), date(2026, 9, 7)),  # one day
    ]
    for start, end in ranges:
        figures_ = active_user_figures(counts, start, end, today)
        expected = {"total": len(_users(pairs, start, end))}
        for name, period in (("daily", "day"), ("weekly", "week"), ("monthly", "month")):
            periods = periods_of(start, end, period)
            each = [len(_users(pairs, first, last)) for first, last in periods]
            expected[name] = round(sum(each) / len(periods), 2)
            assert series_counts(counts, start, end, period) == each, (start, end, period)
        assert figures_ == expected, (start, end)


def test_the_range_check_words_each_callers_message():
    words = {"before": "{end} < {start}", "too_long": "{days} > {max_days}"}
    day = date(2026, 11, 10)
    assert range_error(day, day, **words) is None
    assert range_error(day, day - timedelta(days=1), **words) == "2026-11-09 < 2026-11-10"
    last_allowed = day + timedelta(days=MAX_RANGE_DAYS - 1)
    assert range_error(day, last_allowed, **words) is None
    assert range_error(day, last_allowed + timedelta(days=1), **words) == "401 > 400"
