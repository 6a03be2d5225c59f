"""The usage pages' own logic: the date-range form, the tables, the budget notice's cache."""

from __future__ import annotations

import threading
from datetime import date
from types import SimpleNamespace

import pytest

from jhub_managed.hubside import budget_notice as notice
from jhub_managed.services.access import grants
from jhub_managed.services.usage import pages, views
from jhub_managed.settings.forms import budgets as budget_forms

from .fixtures.clock import ManualClock

TODAY = date(2026, 11, 17)


@pytest.mark.parametrize(
    ("start", "end", "expect"),
    [
        ("", "", (date(2026, 11, 1), TODAY)),
        ("2026-10-01", "2026-10-31", (date(2026, 10, 1), date(2026, 10, 31))),
        (" 2026-10-05 ", "", (date(2026, 10, 5), TODAY)),
        ("2025-10-14", "2026-11-17", (date(2025, 10, 14), TODAY)),  # 400 days
    ],
)
def test_good_ranges(start, end, expect):
    asked = pages.read_range(start, end, today=TODAY)
    assert asked.ok, asked.errors
    assert (asked.start, asked.end) == expect


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("yesterday", "", "The start date “yesterday” is not a date"),
        ("2026-13-01", "", "The start date “2026-13-01” is not a date"),
        ("", "17/11/2026", "The end date “17/11/2026” is not a date"),
        ("2026-11-10", "2026-11-01", "The end date (2026-11-01) is before the start date"),
        ("2025-10-13", "2026-11-17", "That range has 401 days"),
        ("2026-02-30", "", "is not a date"),
        ("<script>alert(1)</script>", "", "“<script>alert(1)</script>” is not a date"),
    ],
)
def test_bad_ranges_say_why_in_words(start, end, words):
    asked = pages.read_range(start, end, today=TODAY)
    assert not asked.ok
    assert any(words in error for error in asked.errors), asked.errors


def test_a_long_bad_date_is_shortened_in_the_message():
    asked = pages.read_range("x" * 5000, "", today=TODAY)
    assert len(asked.errors[0]) < 200


def test_month_bounds():
    assert pages.month_bounds(date(2026, 1, 15)) == {
        "this_month": (date(2026, 1, 1), date(2026, 1, 31)),
        "last_month": (date(2025, 12, 1), date(2025, 12, 31)),
    }


REPORT = {
    "start": "2026-11-01",
    "end": "2026-11-17",
    "group_by": "group",
    "rows": [
        {
            "key": "physics",
            "billable": True,
            "sessions": 3,
            "server_hours": 4.5,
            "cpu_hours": 9.0,
            "memory_gib_hours": 18.0,
            "gpu_hours": 0.0,
            "running": 1,
            "average_session_hours": 1.5,
        },
        {
            "key": "staff",
            "billable": False,
            "sessions": 1,
            "server_hours": 0.25,
            "cpu_hours": 0.25,
            "memory_gib_hours": 0.5,
            "gpu_hours": 0.0,
            "running": 0,
            "average_session_hours": 0.25,
        },
    ],
    "totals": {
        "sessions": 3,
        "server_hours": 4.5,
        "cpu_hours": 9.0,
        "memory_gib_hours": 18.0,
        "gpu_hours": 0.0,
        "running": 1,
        "average_session_hours": 1.5,
    },
}


def test_report_table_rows_totals_and_the_unbilled_apart():
    table = views.report_table(REPORT, "Group")
    assert table.columns[0] == "Group"
    assert table.rows == (
        ("physics", "3", "4.50", "9.00", "18.00", "0.00", "1.50", "1"),
        ("staff (not billed)", "1", "0.25", "0.25", "0.50", "0.00", "0.25", "0"),
        ("Total (billed)", "3", "4.50", "9.00", "18.00", "0.00", "1.50", "1"),
    )


def test_report_table_with_a_rate_card_has_a_cost_column():
    report = dict(REPORT, currency="EUR")
    report["rows"] = [dict(REPORT["rows"][0], cost=12.5)]
    report["totals"] = dict(REPORT["totals"], cost=12.5)
    table = views.report_table(report, "Group")
    assert table.columns[-1] == "Cost (EUR)"
    assert table.rows[0][-1] == "12.50" and table.rows[-1][-1] == "12.50"


def test_report_charts_from_report_data():
    use = [
        {
            "group": "physics",
            "kind": "server_hours",
            "budget": 5.0,
            "used": 4.5,
            "fraction": 0.9,
            "level": "warning",
        },
        {
            "group": "bio",
            "kind": "cost",
            "budget": 10.0,
            "used": None,
            "fraction": None,
            "level": "unknown",
        },
    ]
    charts_ = views.report_charts(
        daily={"days": ["2026-11-01", "2026-11-02"], "series": {"physics": [4.0, 0.5]}},
        active=[
            {"start": "2026-11-01", "end": "2026-11-01", "users": 2},
            {"start": "2026-11-02", "end": "2026-11-02", "users": 1},
        ],
        by_profile=dict(
            REPORT, rows=[dict(REPORT["rows"][0], key="gpu"), dict(REPORT["rows"][1], key="small")]
        ),
        budget_use=use,
        month="November 2026",
    )
    assert [c.key for c in charts_] == [
        "server-hours-by-group",
        "active-users",
        "top-profiles",
        "budget-use",
    ]
    daily, active, profiles, budgets = charts_
    assert daily.table.rows == (("2026-11-01", "4.00", "4.00"), ("2026-11-02", "0.50", "0.50"))
    assert active.table.rows == (("2026-11-01", "2"), ("2026-11-02", "1"))
    assert profiles.table.rows == (("gpu", "4.50"),)  # the unbilled are not in the top list
    assert budgets.table.rows == (("physics", "4.50", "5.00", "server-hours", "90 %"),)
    assert budgets.title == "Budget use in November 2026"


def test_csv_links_are_the_report_api():
    links = views.csv_links("/services/usage/", date(2026, 11, 1), date(2026, 11, 17))
    assert links[0] == (
        "by group",
        "/services/usage/api/report?start=2026-11-01&end=2026-11-17&group_by=group&format=csv",
    )
    assert [title for title, _ in links] == ["by group", "by user", "by profile"]


def test_own_use_and_the_budgets_of_ones_groups():
    own = {
        "user": "alice",
        "this_month": {
            "start": "2026-11-01",
            "end": "2026-11-30",
            "sessions": 2,
            "server_hours": 1.25,
            "cpu_hours": 2.5,
            "memory_gib_hours": 5.0,
            "gpu_hours": 0.0,
        },
        "last_month": {
            "start": "2026-10-01",
            "end": "2026-10-31",
            "sessions": 0,
            "server_hours": 0.0,
            "cpu_hours": 0.0,
            "memory_gib_hours": 0.0,
            "gpu_hours": 0.0,
        },
    }
    rows = views.own_use_rows(own)
    assert [(r["title"], r["sessions"], r["server_hours"]) for r in rows] == [
        ("This month", "2", "1.25"),
        ("Last month", "0", "0.00"),
    ]
    use = [
        {
            "group": "physics",
            "kind": "server_hours",
            "budget": 10.0,
            "used": 8.0,
            "fraction": 0.8,
            "level": "warning",
        },
        {
            "group": "other",
            "kind": "server_hours",
            "budget": 1.0,
            "used": 2.0,
            "fraction": 2.0,
            "level": "exceeded",
        },
    ]
    assert views.budget_rows(use, ["physics"]) == [
        {
            "group": "physics",
            "unit": "server-hours",
            "budget": "10.00",
            "used": "8.00",
            "percent": "80 %",
            "level": "warning",
        }
    ]


def test_the_tokens_scopes_decide_who_reads_reports_not_the_admin_flag():
    scope = "custom:jhub-managed:usage-reports"
    assert not grants({"name": "a", "admin": True, "scopes": []}, [scope])
    assert grants({"name": "a", "admin": True, "scopes": [scope]}, [scope])
    assert grants({"name": "b", "admin": False, "scopes": [scope]}, [scope])
    assert not grants({"name": "c", "admin": False, "scopes": ["self"]}, [scope])
    assert not grants(None, [scope])
    # any one of several scopes admits; none needed: a login is enough
    assert grants({"name": "d", "scopes": ["admin:servers"]}, [scope, "admin:servers"])
    assert grants({"name": "e", "admin": False, "scopes": []}, [])
    assert not grants(None, [])


# -- the budget notice -----------------------------------------------------------------------


def use_at(fraction: float, group: str = "physics") -> list[dict]:
    level = "exceeded" if fraction >= 1 else "warning" if fraction >= 0.8 else "ok"
    return [
        {
            "group": group,
            "kind": "server_hours",
            "budget": 10.0,
            "used": 10 * fraction,
            "fraction": fraction,
            "level": level,
        }
    ]


@pytest.mark.parametrize(
    ("fraction", "expect"),
    [(0.79, None), (0.8, "warning"), (0.99, "warning"), (1.0, "exceeded"), (1.7, "exceeded")],
)
def test_notice_from_80_and_100_percent(fraction, expect):
    entries = notice.notice_entries(["physics"], use_at(fraction))
    assert [e["level"] for e in entries] == ([expect] if expect else [])
    assert not notice.notice_entries(["chemistry"], use_at(fraction))


def test_notice_most_used_first():
    use = use_at(0.85, "a") + use_at(1.2, "b")
    assert [e["group"] for e in notice.notice_entries(["a", "b"], use)] == ["b", "a"]


def user_in(*groups):
    return SimpleNamespace(name="alice", groups=[SimpleNamespace(name=g) for g in groups])


def test_the_page_never_waits_for_the_figures():
    release = threading.Event()
    calls = []

    def slow():
        calls.append(1)
        assert release.wait(30)
        return use_at(0.9)

    clock = ManualClock(0.0)
    notices = notice.BudgetNotices(slow, refresh=30, clock=clock)
    assert notices(user_in("physics")) == []  # nothing known yet, and no wait
    assert notices(user_in("physics")) == []  # one refresh at a time
    release.set()
    assert notices.wait()
    assert [e["level"] for e in notices(user_in("physics"))] == ["warning"]
    assert len(calls) == 1
    assert notices(None) == []


def test_stale_figures_are_added_up_again_and_a_failure_keeps_the_last():
    results = [use_at(0.5), RuntimeError("the store is down"), use_at(1.0)]

    def compute():
        result = results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    clock = ManualClock(0.0)
    notices = notice.BudgetNotices(compute, refresh=30, clock=clock)
    notices.current()
    notices.wait()
    assert notices(user_in("physics")) == []  # 50 %: no notice
    clock.now = 10
    notices.current()
    assert notices.wait() and len(results) == 2  # still fresh: not read again
    clock.now = 31
    notices.current()
    notices.wait()
    assert notices.current() == use_at(0.5)  # the failed read kept the last figures
    clock.now = 62
    notices.current()
    notices.wait()
    assert [e["level"] for e in notices(user_in("physics"))] == ["exceeded"]


# -- the budgets form ------------------------------------------------------------------------


def form(**fields):
    return lambda name: fields.get(name.replace("-", "_"), "")


def test_budgets_in_the_form_sorted_with_empty_rows_for_new_ones():
    rows = budget_forms.budgets_to_view({"physics": {"server_hours": 500}, "Bio": {"cost": 12.5}})
    assert rows[:2] == [
        {"group": "Bio", "kind": "cost", "amount": "12.5"},
        {"group": "physics", "kind": "server_hours", "amount": "500"},
    ]
    assert rows[2:] == [budget_forms.blank_row()] * budget_forms.BLANK_ROWS


def test_posted_rows_make_the_budgets_and_empty_rows_remove_them():
    get = form(
        rows="4",
        b0_group="physics",
        b0_kind="server_hours",
        b0_amount="500",
        b1_group="bio",
        b1_kind="cost",
        b1_amount=" 12.5 ",
        b2_group="",
        b2_kind="server_hours",
        b2_amount="",
    )
    rows = budget_forms.posted_rows(get)
    assert len(rows) == 4
    budgets, errors = budget_forms.budgets_from_rows(rows, cost_allowed=True)
    assert errors == {}
    assert budgets == {"physics": {"server_hours": 500}, "bio": {"cost": 12.5}}


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({"group": "", "kind": "server_hours", "amount": "5"}, "b0-group", "Name the group"),
        ({"group": "g", "kind": "server_hours", "amount": ""}, "b0-amount", "Give the amount"),
        ({"group": "g", "kind": "server_hours", "amount": "lots"}, "b0-amount", "is not a number"),
        ({"group": "g", "kind": "server_hours", "amount": "0"}, "b0-amount", "more than 0"),
        ({"group": "g", "kind": "server_hours", "amount": "-3"}, "b0-amount", "more than 0"),
        ({"group": "g", "kind": "server_hours", "amount": "inf"}, "b0-amount", "is not a number"),
        ({"group": "g", "kind": "cost", "amount": "5"}, "b0-kind", "no rate card"),
        ({"group": "g", "kind": "gpus", "amount": "5"}, "b0-kind", "server-hours or cost"),
        ({"group": "x" * 256, "kind": "server_hours", "amount": "5"}, "b0-group", "at most 255"),
    ],
)
def test_a_wrong_row_says_what_is_wrong_next_to_its_field(row, field, words):
    budgets, errors = budget_forms.budgets_from_rows([row], cost_allowed=False)
    assert budgets == {}
    assert any(words in message for message in errors[field]), errors


def test_the_same_group_twice_is_refused():
    rows = [
        {"group": "physics", "kind": "server_hours", "amount": "5"},
        {"group": "Physics", "kind": "server_hours", "amount": "6"},
    ]
    _, errors = budget_forms.budgets_from_rows(rows, cost_allowed=False)
    assert errors == {"b1-group": ["“Physics” has a budget in row 1 already."]}


def test_rows_read_from_a_form_are_bounded():
    assert len(budget_forms.posted_rows(form(rows="100000000"))) == budget_forms.MAX_ROWS
    assert budget_forms.posted_rows(form(rows="many")) == []


def test_schema_errors_go_next_to_their_row():
    rows = budget_forms.budgets_to_view({"a/b": {"server_hours": 1}, "c": {"cost": 2}})
    fields = budget_forms.budget_field_map(rows)
    assert fields["/a~1b/server_hours"] == "b0-amount"
    assert fields["/c"] == "b1-group"
