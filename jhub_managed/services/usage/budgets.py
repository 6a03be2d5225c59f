"""Monthly budgets of groups, in server-hours or in cost, and the use against them.

Budgets come from the operator (``ManagedHub.usage_budgets``) and from hub admins (the
``budgets`` section of the hub's settings); for a group in both, the hub admins' budget is
the one in force. A budget is ``{"server_hours": 500}`` or ``{"cost": 1200}`` (in the rate
card's currency; a cost budget needs a rate card). Nothing is stopped when a budget is used
up: members see a notice at 80 % and 100 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Engine

from .rates import RateCard
from .reports import ReportQuery, month_range, usage_report

KINDS = ("server_hours", "cost")
#: the share of a budget from which members are warned
WARNING_AT = 0.8


def budget_errors(budgets: Any, where: str = "budgets") -> list[str]:
    """What is wrong with a mapping of group -> budget; empty when it is right."""
    if budgets in (None, {}):
        return []
    if not isinstance(budgets, Mapping):
        return [f"{where} must map group names to budgets"]
    errors = []
    for group, budget in budgets.items():
        if not isinstance(group, str) or not group or len(group) > 255:
            errors.append(f"{where}: group names are 1 to 255 characters")
            continue
        if not isinstance(budget, Mapping) or len(budget) != 1 or next(iter(budget)) not in KINDS:
            errors.append(f'{where}.{group} must be {{"server_hours": N}} or {{"cost": N}}')
            continue
        value = next(iter(budget.values()))
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            errors.append(f"{where}.{group}: the budget must be a number above 0")
    return errors


def budgets_in_force(
    operator: Mapping[str, Any] | None, admins: Mapping[str, Any] | None
) -> dict[str, dict[str, float]]:
    """The budget of each group: the hub admins' where they set one, else the operator's.

    Entries that are not valid budgets are left out (the settings service refuses them on
    save; this keeps a bad stored value from breaking reports).
    """
    result: dict[str, dict[str, float]] = {}
    for layer in (operator or {}, admins or {}):
        if not isinstance(layer, Mapping):
            continue
        for group, budget in layer.items():
            if not budget_errors({group: budget}):
                kind, value = next(iter(budget.items()))
                result[group] = {kind: float(value)}
    return result


def level(fraction: float) -> str:
    """``ok`` below 80 %, ``warning`` from 80 %, ``exceeded`` from 100 %."""
    if fraction >= 1:
        return "exceeded"
    if fraction >= WARNING_AT:
        return "warning"
    return "ok"


def budget_use(
    engine: Engine,
    budgets: Mapping[str, Mapping[str, float]],
    *,
    now: float,
    rate_card: RateCard | None = None,
    split: bool = False,
    month: date | None = None,
) -> list[dict[str, Any]]:
    """Use of each group's budget in the month of ``month`` (default: this month, UTC).

    ``[{"group", "kind", "budget", "used", "fraction", "level", "month", "currency"?}]``
    sorted by group. A cost budget without a rate card has ``used`` ``None`` and level
    ``unknown``. Billing follows the report's rules (:mod:`jhub_managed.store.attribution`).
    """
    if not budgets:
        return []
    day = month or datetime.fromtimestamp(now, timezone.utc).date()
    first, last = month_range(day)
    report = usage_report(
        engine,
        ReportQuery(first, last, "group"),
        now=now,
        rate_card=rate_card,
        split=split,
    )
    rows = {row["key"]: row for row in report["rows"] if row["billable"]}
    result = []
    for group in sorted(budgets):
        kind, limit = next(iter(budgets[group].items()))
        row = rows.get(group, {})
        entry: dict[str, Any] = {
            "group": group,
            "kind": kind,
            "budget": limit,
            "month": first.isoformat()[:7],
        }
        if kind == "cost" and rate_card is None:
            entry.update(used=None, fraction=None, level="unknown")
        else:
            used = float(row.get("server_hours" if kind == "server_hours" else "cost", 0.0))
            fraction = used / limit if limit else 0.0
            entry.update(used=round(used, 4), fraction=round(fraction, 4), level=level(fraction))
        if kind == "cost" and rate_card is not None:
            entry["currency"] = rate_card.currency
        result.append(entry)
    return result


def notices_for(user_groups: list[str], use: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The budget entries a member of ``user_groups`` is warned about (80 % and over)."""
    mine = set(user_groups)
    return [u for u in use if u["group"] in mine and u["level"] in ("warning", "exceeded")]
