"""Run each check on its schedule, one run in flight, with a timeout; keep results.

As in binderhub's ``health.py`` (``at_most_every``): whoever asks while a result is fresh gets
the cached one, whoever asks while a run is in flight joins that run. The service's
background loop is what asks on schedule, so probes never cause work of their own.

A check that passes (or has nothing to look at) runs again after its interval. One that
does not pass runs again within seconds: every :data:`RETRY_FIRST` s while the hub is still
starting, else after 1, 2, 4 ... s (:func:`retry_delay`), so a fault that goes away, or a
hub that finishes starting, is seen at once rather than one interval later.

Every result has a state: ``ok``, ``failing``, ``starting`` (it does not pass, and the hub
has not finished starting: :class:`StartPhase`) or ``skipped`` (nothing to check on this
hub: :class:`NotConfigured`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger(__name__)
#: seconds a check may run past its timeout before it is cut off
GRACE = 1.0
#: seconds before the first retry of a check that does not pass, and between the retries of
#: one that waits for the hub to start
RETRY_FIRST = 1.0
#: the longest pause between two retries of a failing check (and at most a quarter of its
#: interval)
RETRY_MAX = 10.0

OK = "ok"
FAILING = "failing"
STARTING = "starting"
SKIPPED = "skipped"
STATES = (OK, FAILING, STARTING, SKIPPED)


class CheckFailed(Exception):
    """A check did not pass; the message says why, for operators (no secrets)."""


class NotConfigured(CheckFailed):
    """Nothing to check on this hub: the result is ``skipped``, never a reason for a 503."""


def retry_delay(streak: int, interval: float) -> float:
    """Seconds until a check that failed its last ``streak`` runs in a row runs again:
    1, 2, 4, 8 ... s, at most :data:`RETRY_MAX` and a quarter of ``interval`` (and never
    more than ``interval`` itself)."""
    cap = min(RETRY_MAX, max(interval / 4, RETRY_FIRST))
    return min(RETRY_FIRST * 2 ** max(streak - 1, 0), cap, interval)


class StartPhase:
    """Whether the hub is still starting, as the checks see it.

    JupyterHub adds its own route and every service's route to the proxy in one go, as the
    last step of its start, once every service answers. So the hub is starting from this
    service's start until the ``proxy-routes`` check first passes (:meth:`finish`), or for
    at most ``grace`` seconds, after which a hub whose routes never came is failing.
    """

    def __init__(self, grace: float, clock: Callable[[], float] = time.monotonic):
        self.grace = grace
        self.clock = clock
        self.began = clock()
        self.finished = False

    def finish(self) -> bool:
        """The hub has finished starting; ``True`` the first time only."""
        first = not self.finished
        self.finished = True
        return first

    def __call__(self) -> bool:
        """Still starting?"""
        return not self.finished and self.clock() - self.began < self.grace


def _never() -> bool:
    return False


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    required: bool
    message: str
    duration_ms: float
    checked_at: str
    #: time.time() of checked_at, for ages on the status page
    at: float = 0.0
    state: str = OK

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "ok": self.ok,
            "required": self.required,
            "message": self.message,
            "duration_ms": self.duration_ms,
            "checked_at": self.checked_at,
        }

    @property
    def counts(self) -> bool:
        """Whether this result makes the probe answer 503: a required check that does not
        pass (failing, or starting); a skipped check is never required."""
        return self.required and self.state in (FAILING, STARTING)


class ScheduledCheck:
    """One check with its interval, timeout and retries; ``clock`` is monotonic seconds."""

    def __init__(
        self,
        name: str,
        func: Callable[[], Awaitable[str]],
        required: bool,
        interval: float,
        timeout: float,
        on_result: Callable[[Result], None] | None = None,
        starting: Callable[[], bool] = _never,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.name = name
        self.func = func
        self.required = required
        self.interval = interval
        self.timeout = timeout
        self.on_result = on_result
        self.starting = starting
        self.clock = clock
        self.last: Result | None = None
        #: failing results in a row, for the retries' backoff
        self.streak = 0
        #: clock time at which the last result is no longer fresh
        self.next_run = 0.0
        self._running: asyncio.Future | None = None

    def due_in(self) -> float:
        """Seconds until the next run is due (0 or less: due now)."""
        if self.last is None:
            return 0.0
        return self.next_run - self.clock()

    def running(self) -> bool:
        return self._running is not None and not self._running.done()

    def refresh(self) -> None:
        """Make the next :meth:`result` run the check, whatever its schedule says."""
        self.next_run = self.clock()

    def run(self) -> asyncio.Future:
        """The run in flight, or a new one started now."""
        if not self.running():
            self._running = asyncio.ensure_future(self._run())
        return self._running

    async def result(self) -> Result:
        """The last result while it is fresh, else the result of a run (the one in flight, or
        a new one)."""
        if not self.running() and self.last is not None and self.due_in() > 0:
            return self.last
        # shielded: a caller that gives up does not cancel the run the others share
        return await asyncio.shield(self.run())

    async def _run(self) -> Result:
        started = time.perf_counter()
        try:
            # the checks give their own requests this timeout and say what did not answer;
            # the grace here is the backstop for anything that still hangs
            message = await asyncio.wait_for(self.func(), self.timeout + GRACE)
            state = OK
        except asyncio.TimeoutError:
            state, message = FAILING, f"no answer within {self.timeout:g} s"
        except NotConfigured as e:
            state, message = SKIPPED, str(e)
        except CheckFailed as e:
            state, message = FAILING, str(e)
        except Exception as e:  # a bug in a check is a failed check, never a dead service
            state, message = FAILING, f"the check itself failed ({type(e).__name__})"
        if state == FAILING and self.starting():
            state = STARTING
        now = time.time()
        result = Result(
            name=self.name,
            ok=state == OK,
            # nothing to require of a check with nothing to look at
            required=self.required and state != SKIPPED,
            message=message,
            duration_ms=round(1000 * (time.perf_counter() - started), 1),
            checked_at=datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
            at=now,
            state=state,
        )
        self.streak = self.streak + 1 if state == FAILING else 0
        if state == FAILING:
            wait = retry_delay(self.streak, self.interval)
        elif state == STARTING:
            wait = min(RETRY_FIRST, self.interval)
        else:
            wait = self.interval
        # from the end of the run: a check that timed out is still tried again soon
        self.next_run = self.clock() + wait
        self.last = result
        if self.on_result is not None:
            self.on_result(result)
        return result


class Schedule:
    """Every check on its own schedule; ``run_due()`` starts what is due, in parallel."""

    def __init__(self, checks: list[ScheduledCheck]):
        self.checks = checks
        self._task: asyncio.Task | None = None
        #: bumped whenever a result changes, so the answer is serialized once per change
        self.generation = 0
        for check in checks:
            previous = check.on_result

            def changed(result: Result, previous=previous) -> None:
                self.generation += 1
                if previous is not None:
                    previous(result)

            check.on_result = changed

    async def run_due(self) -> list[Result]:
        """One result per check: fresh ones from the cache, due ones run now (in parallel)."""
        return list(await asyncio.gather(*(check.result() for check in self.checks)))

    def cached(self) -> list[Result] | None:
        """Results without waiting, or ``None`` before every check has run once."""
        results = [check.last for check in self.checks]
        if any(r is None for r in results):
            return None
        return results

    def start_due(self) -> None:
        """Start every due check that is not running, without waiting for any: a slow check
        never holds up another's retries."""
        for check in self.checks:
            if not check.running() and check.due_in() <= 0:
                check.run()

    def tick(self) -> float:
        """How long the loop sleeps before it looks again: until the next check is due,
        at least 0.05 s and at most 1 s (a clock read per check)."""
        waiting = [check.due_in() for check in self.checks if not check.running()]
        return max(0.05, min(1.0, *waiting) if waiting else 1.0)

    def start(self) -> None:
        async def loop():
            while True:
                try:
                    self.start_due()
                except Exception:  # pragma: no cover - results catch their own errors
                    log.exception("health checks could not run")
                await asyncio.sleep(self.tick())

        self._task = asyncio.ensure_future(loop())

    async def stop(self) -> None:
        tasks = [check._running for check in self.checks if check.running()]
        if self._task is not None:
            tasks.append(self._task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
