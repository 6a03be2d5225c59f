"""What the usage pages show, from plain report data: charts, tables and rows in words.

Pure functions of the figures :mod:`.reports` and :mod:`.budgets` answer; the pages
(:mod:`.pages`) read the figures and render these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlencode

from jupyterhub.utils import url_path_join

from . import charts


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
