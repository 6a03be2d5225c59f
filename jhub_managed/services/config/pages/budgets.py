"""The Budgets tab: monthly budgets of groups, saved as a new settings version.

A budget is server-hours or (with the operator's rate card) cost per calendar month (UTC);
members see a notice on the hub's home page at 80 % and 100 %. Nothing is stopped.
The operator's budgets (``usage_budgets``) are listed for reference; a budget set here
replaces the operator's for that group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ....settings.forms import budgets as budget_forms
from ..groups import HubGroups
from .sections import SectionPage


class BudgetsPage(SectionPage):
    tab = section = "budgets"
    field_map: dict = {}
    to_view = staticmethod(lambda budgets: dict(budgets or {}))

    def initialize(
        self,
        groups: HubGroups,
        operator_budgets: Mapping[str, Any] | None = None,
        rate_card: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().initialize(**kwargs)
        #: the operator's budgets and rate card, from the deployment
        self.operator_budgets = dict(operator_budgets or {})
        self.currency = str((rate_card or {}).get("currency") or "")
        self.groups = groups

    async def get(self):
        current = self.editor.current()
        await self.show_form(
            budget_forms.budgets_to_view(current.document.get("budgets")), current=current
        )

    def show(self, view, **ns):
        """After a refused save or a conflict: ``view`` is the budgets as a mapping."""
        rows = budget_forms.budgets_to_view(view) if isinstance(view, Mapping) else list(view)
        self._render(rows, **ns)

    async def show_form(self, rows: list[dict[str, str]], **ns) -> None:
        self._render(rows, hub_groups=await self.groups.names(), **ns)

    def _render(self, rows: list[dict[str, str]], **ns) -> None:
        current = ns.pop("current", None) or self.editor.current()
        self.render_page(
            "budgets.html",
            current=current,
            form_version=ns.pop("form_version", current.version),
            budget_rows=rows,
            operator_budgets=budget_forms.budgets_to_view(self.operator_budgets, blank=0),
            currency=self.currency,
            hub_groups=ns.pop("hub_groups", []),
            comment=self.arg("comment") if self.request.method == "POST" else "",
            **ns,
        )

    async def post(self):
        expected = self.posted_version()
        rows = budget_forms.posted_rows(self.arg)
        budgets, errors = budget_forms.budgets_from_rows(rows, cost_allowed=bool(self.currency))
        if errors:
            self.set_status(400)
            await self.show_form(
                [*rows, budget_forms.blank_row()], form_version=expected, field_errors=errors
            )
            return
        # schema errors at /budgets/<group>[/<kind>] go next to that group's row, as the
        # form shows the budgets again (sorted by group)
        self.field_map = budget_forms.budget_field_map(budget_forms.budgets_to_view(budgets))
        await self.save_section(budgets, budgets, expected, "Changed the budgets")
