"""The budget notice on the hub's home page: members of a group see it at 80 % and 100 % of
the group's monthly budget.

The hub renders its pages on its event loop, and the figures are a query over a month of
sessions. So a page never waits for them: :class:`BudgetNotices` keeps the use of every
budget in memory, a background thread adds it up again when it is older than ``refresh``
seconds (one at a time), and a page shows what is known. A store that can't be read leaves
the last known figures in place (and no notice at all before the first read), never an error
on the page.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from traitlets.config import Config

from ..services.usage import charts
from .config_values import add_template_vars

log = logging.getLogger(__name__)

#: the levels that give a notice, as :func:`jhub_managed.services.usage.budgets.level` names
#: them
NOTICE_LEVELS = ("warning", "exceeded")


def notice_entries(
    groups: Iterable[str], use: Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]]:
    """What a member of ``groups`` is told: one entry per group at 80 % or more of its
    budget, the most used first, in words for the template."""
    mine = set(groups)
    entries = []
    for entry in use or ():
        if entry.get("group") not in mine or entry.get("level") not in NOTICE_LEVELS:
            continue
        fraction = float(entry.get("fraction") or 0.0)
        unit = (
            str(entry.get("currency") or "cost") if entry.get("kind") == "cost" else "server-hours"
        )
        entries.append(
            {
                "group": entry["group"],
                "level": entry["level"],
                "percent": f"{100 * fraction:.0f}",
                "used": charts.number(float(entry.get("used") or 0.0)),
                "budget": charts.number(float(entry.get("budget") or 0.0)),
                "unit": unit,
                "fraction": fraction,
            }
        )
    entries.sort(key=lambda e: (-e["fraction"], e["group"]))
    return entries


def group_names(user: Any) -> list[str]:
    """The group names of the hub's user object (``None`` on the login page)."""
    if user is None:
        return []
    groups = getattr(user, "groups", None) or []
    return [getattr(group, "name", group) for group in groups]


class BudgetNotices:
    """The template variable ``jhm_budget_notices``: called with the hub's user while a page
    renders, it answers from memory at once.

    ``compute`` returns the use of every budget
    (:func:`jhub_managed.services.usage.budgets.budget_use`); it runs in a
    thread of its own, at most one at a time, when the figures are older than ``refresh``.
    """

    def __init__(
        self,
        compute: Callable[[], list[dict[str, Any]]],
        *,
        refresh: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.compute = compute
        self.refresh = refresh
        self.clock = clock
        self._use: list[dict[str, Any]] | None = None
        self._computed_at: float | None = None
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None
        self._failing = False

    def __deepcopy__(self, memo: dict) -> BudgetNotices:
        # one per hub process: traitlets copies the hub's configuration (with its template
        # variables) when it loads more of it, and the copy must be this same cache
        return self

    def current(self) -> list[dict[str, Any]] | None:
        """The figures known now (``None`` before the first read); starts a refresh in the
        background when they are stale."""
        self._refresh_if_stale()
        return self._use

    def _refresh_if_stale(self) -> None:
        now = self.clock()
        with self._lock:
            fresh = self._computed_at is not None and now - self._computed_at < self.refresh
            if fresh or self._running is not None:
                return
            self._running = threading.Thread(
                target=self._run, name="jhm-budget-notices", daemon=True
            )
            thread = self._running
        thread.start()

    def _run(self) -> None:
        try:
            use = self.compute()
        except Exception as e:
            if not self._failing:
                log.warning("Can't add up the budgets' use for the budget notice: %s", e)
            self._failing = True
            use = None
        else:
            if self._failing:
                log.info("The budgets' use can be read again.")
            self._failing = False
        with self._lock:
            if use is not None:
                self._use = use
            # a failed read is tried again after ``refresh`` too, not on every page
            self._computed_at = self.clock()
            self._running = None

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait for a refresh under way (for tests and the benchmark); ``True`` when none
        is left running."""
        thread = self._running
        if thread is not None:
            thread.join(timeout)
        return self._running is None

    def __call__(self, user: Any = None) -> list[dict[str, Any]]:
        if user is None:
            return []
        use = self.current()
        if not use:
            return []
        try:
            return notice_entries(group_names(user), use)
        except Exception as e:  # a notice must never break the hub's home page
            log.warning("No budget notice for %s: %s", getattr(user, "name", user), e)
            return []


def hub_budget_notices(hub: Any, snapshot: Any) -> BudgetNotices:
    """The template variable for a hub wired by :func:`jhub_managed.hub.configure`: the use
    of the budgets in force (the operator's ``usage_budgets`` and the hub admins'
    ``budgets`` settings, as the hub's settings ``snapshot`` holds them), added up from the
    usage store through the snapshot's own engine."""
    from ..services.usage.budgets import budget_use, budgets_in_force
    from ..services.usage.rates import RateCard

    rate_card = RateCard.from_config(hub.usage_rate_card)
    operator_budgets = dict(hub.usage_budgets)
    split = bool(hub.usage_split_groups)

    def compute() -> list[dict[str, Any]]:
        budgets = budgets_in_force(operator_budgets, snapshot.current().document.get("budgets"))
        if not budgets:
            return []
        return budget_use(
            snapshot.source.store.engine, budgets, now=time.time(), rate_card=rate_card, split=split
        )

    return BudgetNotices(compute, refresh=hub.usage_notice_refresh)


def wire_budget_notice(c: Config, hub: Any, snapshot: Any) -> None:
    """``configure()``'s step for the budget notice on the hub's home page (with the usage
    service only)."""
    if "usage" in hub.services:
        add_template_vars(c, {"jhm_budget_notices": hub_budget_notices(hub, snapshot)})
