"""The budgets form: one row per group, a kind (server-hours or cost) and an amount.

The ``budgets`` section of the document maps a group to ``{"server_hours": N}`` or
``{"cost": N}``. The form shows one row per group with a budget and a few empty rows for new
ones; a row with an empty group or amount is no budget (that is how a budget is removed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..pointer import escape
from .fields import FieldErrors, Get, number_text, parse_number

KINDS = ("server_hours", "cost")
#: empty rows under the existing ones, for new budgets
BLANK_ROWS = 3
#: at most this many rows are read from a posted form (the schema allows 500 budgets)
MAX_ROWS = 500
MAX_GROUP_LENGTH = 255


def budgets_to_view(
    budgets: Mapping[str, Any] | None, blank: int = BLANK_ROWS
) -> list[dict[str, str]]:
    """The rows of the form: each group's budget, sorted by group, then ``blank`` empty
    rows."""
    rows = []
    for group in sorted(budgets or {}, key=str.casefold):
        budget = (budgets or {})[group]
        if not isinstance(budget, Mapping) or len(budget) != 1:
            continue
        kind, amount = next(iter(budget.items()))
        rows.append({"group": group, "kind": str(kind), "amount": number_text(amount)})
    return rows + [blank_row() for _ in range(blank)]


def blank_row() -> dict[str, str]:
    return {"group": "", "kind": "server_hours", "amount": ""}


def posted_rows(get: Get) -> list[dict[str, str]]:
    """The rows as posted (``b0-group``, ``b0-kind``, ``b0-amount``, ...)."""
    try:
        count = int(get("rows").strip() or "0")
    except ValueError:
        count = 0
    count = max(0, min(count, MAX_ROWS))
    return [
        {
            "group": get(f"b{i}-group").strip(),
            "kind": get(f"b{i}-kind").strip(),
            "amount": get(f"b{i}-amount").strip(),
        }
        for i in range(count)
    ]


def budgets_from_rows(
    rows: list[dict[str, str]], *, cost_allowed: bool
) -> tuple[dict[str, dict[str, float | int]], FieldErrors]:
    """The ``budgets`` section from the form's rows, or what is wrong, by field name.

    A row with neither group nor amount is skipped; a row with only one of them is an
    error. Group names are kept as typed; the same group twice is an error. A cost budget
    needs the operator's rate card (``cost_allowed``).
    """
    budgets: dict[str, dict[str, float | int]] = {}
    errors: FieldErrors = {}
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        group, kind, amount = row["group"], row["kind"], row["amount"]
        if not group and not amount:
            continue
        if not group:
            errors.setdefault(f"b{i}-group", []).append("Name the group this budget is for.")
            continue
        if len(group) > MAX_GROUP_LENGTH:
            errors.setdefault(f"b{i}-group", []).append(
                f"A group name has at most {MAX_GROUP_LENGTH} characters."
            )
            continue
        if group.casefold() in seen:
            errors.setdefault(f"b{i}-group", []).append(
                f"“{group}” has a budget in row {seen[group.casefold()] + 1} already."
            )
            continue
        seen[group.casefold()] = i
        if kind not in KINDS:
            errors.setdefault(f"b{i}-kind", []).append("Choose server-hours or cost.")
            continue
        if kind == "cost" and not cost_allowed:
            errors.setdefault(f"b{i}-kind", []).append(
                "This hub has no rate card, so it has no costs: give the budget in server-hours."
            )
            continue
        if not amount:
            errors.setdefault(f"b{i}-amount", []).append(
                "Give the amount, or empty the group to remove the budget."
            )
            continue
        try:
            value = parse_number(amount)
        except ValueError:
            errors.setdefault(f"b{i}-amount", []).append(
                f"“{amount[:40]}” is not a number (for example 500 or 12.5)."
            )
            continue
        if value <= 0:
            errors.setdefault(f"b{i}-amount", []).append("A budget is more than 0.")
            continue
        budgets[group] = {kind: value}
    return budgets, errors


def budget_field_map(rows: list[dict[str, str]]) -> dict[str, str]:
    """JSON-pointer tails under ``/budgets`` -> the form field of each row, so that schema
    errors (``/budgets/<group>/<kind>``) are shown next to their row."""
    fields: dict[str, str] = {}
    for i, row in enumerate(rows):
        if row["group"]:
            pointer = "/" + escape(row["group"])
            fields[pointer] = f"b{i}-group"
            fields[f"{pointer}/{row['kind']}"] = f"b{i}-amount"
    return fields
