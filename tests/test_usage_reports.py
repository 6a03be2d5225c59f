"""Usage reports as SQL aggregations, on SQLite and PostgreSQL: hours clipped to the range,
resource-hours, running sessions, billing groups, split, staff apart, cost, active users,
per-day series, one user's own use, budgets, and bad queries."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from jhub_managed.services.usage.budgets import budget_errors, budget_use, budgets_in_force
from jhub_managed.services.usage.rates import RateCard
from jhub_managed.services.usage.reports import (
    ReportQuery,
    ReportQueryError,
    active_users_series,
    daily_usage,
    parse_report_query,
    report_csv,
    usage_report,
    user_usage,
)
from jhub_managed.store import create_engine_for, upgrade
from jhub_managed.store.attribution import attribute
from jhub_managed.store.usage import SessionFacts, UsageRecorder, requested_resources

from .fixtures.usage_data import add, ts

H = 3600.0
GIB = 1024**3
NOW = ts("2026-11-20 12:00")


@pytest.fixture
def engine(db_url):
    engine = create_engine_for(db_url)
    upgrade(engine)
    r = UsageRecorder(engine)
    # ann (physics): 2 h on Nov 2, 1 h over midnight Nov 9-10 (30 min each side)
    add(r, "ann", ["physics"], "2026-11-02 10:00", "2026-11-02 12:00")
    add(r, "ann", ["physics"], "2026-11-09 23:30", "2026-11-10 00:30")
    # bob (chem): from Oct 31 22:00 to Nov 1 02:00 on the gpu profile (2 h in November)
    add(
        r,
        "bob",
        ["chem"],
        "2026-10-31 22:00",
        "2026-11-01 02:00",
        profile="gpu",
        cpu_guarantee=2,
        cpu_limit=4,
        mem_guarantee="4G",
        extra_resource_limits={"nvidia.com/gpu": 1},
    )
    # cy (physics and chem, open profile): still running since Nov 20 10:00 (2 h to NOW)
    add(r, "cy", ["physics", "chem"], "2026-11-20 10:00")
    # sam (staff): 5 h, kept apart
    add(r, "sam", ["staff"], "2026-11-03 08:00", "2026-11-03 13:00")
    # dee (no group): in December, outside the range
    add(r, "dee", [], "2026-12-01 08:00", "2026-12-01 09:00")
    yield engine
    engine.dispose()


NOVEMBER = ReportQuery(date(2026, 11, 1), date(2026, 11, 30), "group")


def by_key(report):
    return {(row["key"], row["billable"]): row for row in report["rows"]}


def test_report_by_group_clips_sessions_to_the_range_and_keeps_staff_apart(engine):
    report = usage_report(engine, NOVEMBER, now=NOW)
    rows = by_key(report)
    assert set(rows) == {
        ("physics", True),
        ("chem", True),
        ("multiple", True),
        ("staff", False),
    }
    assert rows[("physics", True)]["server_hours"] == pytest.approx(3.0)
    assert rows[("physics", True)]["sessions"] == 2
    assert rows[("physics", True)]["average_session_hours"] == pytest.approx(1.5)
    chem = rows[("chem", True)]
    assert chem["server_hours"] == pytest.approx(2.0)
    assert chem["cpu_hours"] == pytest.approx(4.0)  # the guarantee, 2 CPUs
    assert chem["memory_gib_hours"] == pytest.approx(8.0)
    assert chem["gpu_hours"] == pytest.approx(2.0)
    assert rows[("multiple", True)]["running"] == 1
    assert rows[("multiple", True)]["server_hours"] == pytest.approx(2.0)
    assert rows[("staff", False)]["server_hours"] == pytest.approx(5.0)
    assert report["totals"]["server_hours"] == pytest.approx(7.0)
    assert report["totals"]["sessions"] == 4
    assert report["not_billable"]["server_hours"] == pytest.approx(5.0)
    assert "cost" not in report["totals"] and "currency" not in report
    assert [r["billable"] for r in report["rows"]] == [True, True, True, False]


def test_split_divides_shared_sessions_evenly(engine):
    report = usage_report(engine, NOVEMBER, now=NOW, split=True)
    rows = by_key(report)
    assert ("multiple", True) not in rows
    assert rows[("physics", True)]["server_hours"] == pytest.approx(4.0)
    assert rows[("chem", True)]["server_hours"] == pytest.approx(3.0)
    assert rows[("chem", True)]["sessions"] == 1.5
    assert report["totals"]["server_hours"] == pytest.approx(7.0)


def test_report_by_user_and_by_profile(engine):
    by_user = by_key(
        usage_report(engine, ReportQuery(NOVEMBER.start, NOVEMBER.end, "user"), now=NOW)
    )
    assert by_user[("ann", True)]["server_hours"] == pytest.approx(3.0)
    assert by_user[("cy", True)]["running"] == 1
    assert by_user[("sam", False)]["server_hours"] == pytest.approx(5.0)
    by_profile = by_key(
        usage_report(engine, ReportQuery(NOVEMBER.start, NOVEMBER.end, "profile"), now=NOW)
    )
    assert by_profile[("gpu", True)]["server_hours"] == pytest.approx(2.0)
    assert by_profile[("small", True)]["server_hours"] == pytest.approx(5.0)
    assert by_profile[("small", False)]["server_hours"] == pytest.approx(5.0)


def test_one_day_range_is_inclusive_and_utc(engine):
    report = usage_report(engine, ReportQuery(date(2026, 11, 10), date(2026, 11, 10)), now=NOW)
    assert by_key(report)[("physics", True)]["server_hours"] == pytest.approx(0.5)


def test_cost_from_a_rate_card_with_a_profile_price(engine):
    card = RateCard.from_config(
        {
            "currency": "eur",
            "server_hour": 0.5,
            "cpu_hour": 0.1,
            "memory_gib_hour": 0.01,
            "profiles": {"gpu": {"gpu_hour": 2.0}},
        }
    )
    report = usage_report(engine, NOVEMBER, now=NOW, rate_card=card)
    rows = by_key(report)
    # physics: 3 h x (0.5 + 1 CPU x 0.1 + 2 GiB x 0.01)
    assert rows[("physics", True)]["cost"] == pytest.approx(round(3 * 0.62, 2))
    # chem on gpu: 2 h x (0.5 + 2 x 0.1 + 4 x 0.01 + 1 GPU x 2.0)
    assert rows[("chem", True)]["cost"] == pytest.approx(round(2 * 2.74, 2))
    assert report["currency"] == "EUR"
    assert report["totals"]["cost"] == pytest.approx(
        sum(r["cost"] for r in report["rows"] if r["billable"])
    )
    lines = list(csv.reader(io.StringIO(report_csv(report))))
    assert lines[0] == [
        "group",
        "billable",
        "sessions",
        "server_hours",
        "cpu_hours",
        "memory_gib_hours",
        "gpu_hours",
        "running",
        "average_session_hours",
        "cost",
        "currency",
    ]
    assert len(lines) == 1 + len(report["rows"])
    assert lines[1][-1] == "EUR"


@pytest.mark.parametrize(
    "config, words",
    [
        ({"server_hour": 1}, "currency"),
        ({"currency": "EUR", "cpu_hour": -1}, "cpu_hour"),
        ({"currency": "EUR", "cpu_hours": 1}, "unknown key 'cpu_hours'"),
        ({"currency": "EUR", "profiles": {"gpu": {"gpu_hour": "a lot"}}}, "profiles.gpu.gpu_hour"),
    ],
)
def test_a_wrong_rate_card_says_what_is_wrong(config, words):
    with pytest.raises(ValueError, match=words):
        RateCard.from_config(config)


def test_csv_without_a_rate_card_has_no_cost_column_and_defuses_formulas(db_url):
    engine = create_engine_for(db_url)
    upgrade(engine)
    add(UsageRecorder(engine), "=cmd|x", [], "2026-11-02 10:00", "2026-11-02 11:00")
    report = usage_report(engine, ReportQuery(NOVEMBER.start, NOVEMBER.end, "user"), now=NOW)
    lines = list(csv.reader(io.StringIO(report_csv(report))))
    assert "cost" not in lines[0]
    assert lines[1][0] == "'=cmd|x"
    engine.dispose()


def test_active_users(engine):
    report = usage_report(engine, NOVEMBER, now=NOW)
    active = report["active_users"]
    assert active["total"] == 3  # ann, bob, cy; not staff
    # active user-days: ann 2, 9, 10; bob 1; cy 20 -> 5 user-days over 30 days
    assert active["daily"] == pytest.approx(round(5 / 30, 2))
    series = active_users_series(engine, NOVEMBER.start, NOVEMBER.end, now=NOW)
    assert [d["users"] for d in series if d["users"]] == [1, 1, 1, 1, 1]
    months = active_users_series(engine, NOVEMBER.start, NOVEMBER.end, now=NOW, period="month")
    assert months == [{"start": "2026-11-01", "end": "2026-11-30", "users": 3}]
    weeks = active_users_series(engine, NOVEMBER.start, NOVEMBER.end, now=NOW, period="week")
    assert weeks[0] == {"start": "2026-11-01", "end": "2026-11-01", "users": 1}  # a Sunday


def test_daily_usage_cuts_sessions_at_midnight(engine):
    daily = daily_usage(engine, date(2026, 11, 9), date(2026, 11, 10), now=NOW)
    assert daily["days"] == ["2026-11-09", "2026-11-10"]
    assert daily["series"] == {"physics": [0.5, 0.5]}
    with_staff = daily_usage(
        engine, date(2026, 11, 3), date(2026, 11, 3), now=NOW, billable_only=False
    )
    assert with_staff["series"] == {"staff": [5.0]}


def test_user_usage_this_month_and_last(engine):
    mine = user_usage(engine, "bob", now=NOW)
    assert mine["this_month"]["start"] == "2026-11-01"
    assert mine["this_month"]["server_hours"] == pytest.approx(2.0)
    assert mine["last_month"]["server_hours"] == pytest.approx(2.0)
    assert mine["running"] == []
    cy = user_usage(engine, "cy", now=NOW)
    assert cy["running"][0]["hours"] == pytest.approx(2.0)
    assert user_usage(engine, "nobody", now=NOW)["this_month"]["sessions"] == 0


def test_budgets_use_and_levels(engine):
    budgets = budgets_in_force(
        {"physics": {"server_hours": 10}, "chem": {"server_hours": 2}},
        {"physics": {"server_hours": 3.5}, "bio": {"cost": 100}},
    )
    assert budgets["physics"] == {"server_hours": 3.5}  # the hub admins' budget wins
    use = {u["group"]: u for u in budget_use(engine, budgets, now=NOW)}
    assert use["physics"]["fraction"] == pytest.approx(3.0 / 3.5, abs=1e-4)
    assert use["physics"]["level"] == "warning"
    assert use["chem"]["level"] == "exceeded"
    assert use["bio"]["level"] == "unknown"  # a cost budget needs a rate card


@pytest.mark.parametrize(
    "budgets, words",
    [
        ({"a": {"hours": 1}}, "server_hours"),
        ({"a": {"cost": 0}}, "above 0"),
        ({"a": {"cost": 1, "server_hours": 1}}, "server_hours"),
        ([1], "map group names"),
    ],
)
def test_wrong_budgets_are_named(budgets, words):
    assert any(words in e for e in budget_errors(budgets))


TODAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    "args, words",
    [
        ({"start": "2026-13-01"}, "'start' must be a date"),
        ({"start": "2026-1-01"}, "'start' must be a date"),
        ({"end": "yesterday"}, "'end' must be a date"),
        ({"start": "2026-11-10", "end": "2026-11-01"}, "before 'start'"),
        ({"start": "2025-01-01", "end": "2026-11-01"}, "at most 400 days"),
        ({"group_by": "team"}, "'group_by' must be one of"),
        ({"format": "xml"}, "'format' must be json or csv"),
        ({"start": ["2026-11-01", "2026-11-02"]}, "given once"),
        ({"colour": "red"}, "unknown argument 'colour'"),
    ],
)
def test_bad_report_queries_say_why(args, words):
    with pytest.raises(ReportQueryError) as e:
        parse_report_query(args, today=TODAY)
    assert any(words in error for error in e.value.errors), e.value.errors


def test_every_problem_is_named_at_once_and_defaults_are_this_month():
    with pytest.raises(ReportQueryError) as e:
        parse_report_query({"start": "x", "group_by": "y", "format": "z"}, today=TODAY)
    assert len(e.value.errors) == 3
    query = parse_report_query({}, today=TODAY)
    assert (query.start, query.end, query.group_by, query.format) == (
        date(2026, 11, 1),
        TODAY,
        "group",
        "json",
    )
    assert parse_report_query({"start": "2025-10-17", "end": "2026-11-20"}, today=TODAY).days == 400


def _expected_report(sessions, start: date, end: date, now: float):
    """The report's figures by group and its active users, worked out in Python from the
    sessions themselves: what the store's kept figures and period tables must agree with."""
    from jhub_managed.services.usage.reports import _periods, range_bounds
    from jhub_managed.store.usage import days_of

    rs, re = range_bounds(start, end)
    rows: dict[str, dict[str, float]] = {}
    active_days: set[tuple[date, str]] = set()
    for user, group, started, stopped, cpu in sessions:
        first = date(1970, 1, 1)
        days = days_of(started, stopped) if stopped is not None else [int(started // 86400)]
        active_days |= {(first + timedelta(days=d), user) for d in days}
        end_at = now if stopped is None else stopped
        if not (started < re and (end_at > rs if stopped is None else stopped > rs)):
            continue
        seconds = max(0.0, min(end_at, re) - max(started, rs))
        row = rows.setdefault(group, {"sessions": 0, "seconds": 0.0, "cpu": 0.0, "running": 0})
        row["sessions"] += 1
        row["seconds"] += seconds
        row["cpu"] += seconds * cpu
        row["running"] += stopped is None

    def users(first: date, last: date) -> int:
        return len({u for d, u in active_days if first <= d <= last})

    def average(period: str) -> float:
        spans = [users(first, last) for first, last in _periods(start, end, period)]
        return round(sum(spans) / len(spans), 2)

    active = {
        "daily": average("day"),
        "weekly": average("week"),
        "monthly": average("month"),
        "total": users(start, end),
    }
    return rows, active


def test_reports_agree_with_the_sessions_worked_out_by_hand(db_url):
    """Random sessions over four months, some running; random ranges (whole months and
    weeks, cut ones, ranges ending before, on and after today): every report's hours,
    CPU-hours, sessions and active users equal those worked out from the sessions."""
    import random

    engine = create_engine_for(db_url)
    upgrade(engine)
    recorder = UsageRecorder(engine)
    rng = random.Random(11)
    now = ts("2026-11-20 12:00")
    sessions = []
    for i in range(160):
        user = f"u{rng.randrange(12)}"
        group = f"g{int(user[1:]) % 3}"
        started = now - rng.uniform(0, 120 * 86400)
        length = rng.choice([rng.uniform(60, 4 * 3600), rng.uniform(20 * 3600, 80 * 3600)])
        stopped = started + length
        cpu = rng.choice([0.5, 1, 2])
        if stopped > now or i % 23 == 0:
            stopped = None
        facts = SessionFacts(
            user_name=user,
            server_name=f"s{i}",
            started_at=round(started, 3),
            attribution=attribute(user, [group]),
            groups=[group],
            resources=requested_resources({"cpu_guarantee": cpu}),
        )
        recorder.record_start(facts)
        if stopped is not None:
            recorder.record_stop(facts, round(stopped, 3))
        sessions.append((user, group, facts.started_at, stopped and round(stopped, 3), cpu))
    today = date(2026, 11, 20)
    ranges = [
        (date(2026, 10, 1), date(2026, 10, 31)),  # a whole month
        (date(2026, 11, 1), date(2026, 11, 30)),  # this month, ending after today
        (date(2026, 11, 1), today),  # this month so far
        (date(2026, 11, 1), date(2026, 11, 10)),  # cut before today
        (date(2026, 8, 1), date(2026, 11, 30)),  # several months
        (date(2026, 11, 9), date(2026, 11, 15)),  # a whole ISO week
        (date(2026, 11, 16), date(2026, 11, 25)),  # this week and past it
    ]
    for _ in range(12):
        first = today - timedelta(days=rng.randrange(130))
        ranges.append((first, first + timedelta(days=rng.randrange(60))))
    try:
        for first, last in ranges:
            report = usage_report(engine, ReportQuery(first, last, "group"), now=now)
            rows, active = _expected_report(sessions, first, last, now)
            got = {r["key"]: r for r in report["rows"]}
            assert set(got) == set(rows), (first, last)
            for group, row in rows.items():
                assert got[group]["sessions"] == row["sessions"], (first, last, group)
                assert got[group]["running"] == row["running"], (first, last, group)
                assert got[group]["server_hours"] == pytest.approx(row["seconds"] / H, abs=1e-3)
                assert got[group]["cpu_hours"] == pytest.approx(row["cpu"] / H, abs=1e-3)
            assert report["active_users"] == active, (first, last)
    finally:
        engine.dispose()
