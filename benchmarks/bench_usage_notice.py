"""The budget notice on the hub's home page: what a page render pays for it.

A synthetic store (100,000 sessions over a year, 10,000 users in 50 groups, as in
``bench_usage_reports``) on SQLite, a budget for every group, and in one run:

- adding up the use of every budget this month (``budget_use``): what each page render
  would wait for if the hub computed the notice while rendering;
- ``BudgetNotices(user)`` with the figures in memory: what a render pays;
- ``BudgetNotices(user)`` while the figures are being added up again in the background:
  a render still does not wait.

Target: a render's cost is a small fraction of adding the figures up (the ratio), and the
same whether or not a refresh is under way.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from benchmarks.bench_usage_reports import GROUPS, NOW, fill
from benchmarks.common import summary_ms, time_calls, write_results
from jhub_managed.hubside.budget_notice import BudgetNotices
from jhub_managed.services.usage.budgets import budget_use
from jhub_managed.store import create_engine_for, upgrade

SESSIONS = 100_000
CALLS = 2000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine_for("sqlite:///" + str(Path(tmp) / "notice.sqlite"))
        upgrade(engine)
        fill(engine, SESSIONS)
        # every group near its budget, so that every member gets a notice
        budgets = {f"g{i}": {"server_hours": 1.0} for i in range(GROUPS)}

        def compute():
            return budget_use(engine, budgets, now=NOW)

        compute_times = time_calls(compute, 5)
        notices = BudgetNotices(compute, refresh=3600)
        notices.current()
        notices.wait(120)
        user = SimpleNamespace(name="user00007", groups=[SimpleNamespace(name="g7")])
        assert notices(user), "the benchmark's user should have a notice"
        warm = time_calls(lambda: notices(user), CALLS)

        # figures stale: each call finds a refresh under way and answers from memory
        release = threading.Event()

        def slow_compute():
            release.wait(60)
            return compute()

        stale = BudgetNotices(slow_compute, refresh=0)
        stale._use = notices.current()  # what an earlier refresh left
        stale._computed_at = time.monotonic() - 10
        during = time_calls(lambda: stale(user), CALLS)
        release.set()
        stale.wait(120)
        engine.dispose()

    compute_ms = 1000 * statistics.median(compute_times)
    warm_ms = 1000 * statistics.median(warm)
    during_ms = 1000 * statistics.median(during)
    write_results(
        "usage_notice",
        {
            "sessions": SESSIONS,
            "groups_with_budgets": GROUPS,
            "add_up_budgets": summary_ms(compute_times),
            "render_with_figures_in_memory": summary_ms(warm),
            "render_while_a_refresh_runs": summary_ms(during),
            "render_over_add_up_ratio": round(max(warm_ms, during_ms) / compute_ms, 5),
        },
    )


if __name__ == "__main__":
    main()
