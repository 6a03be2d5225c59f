"""Run each check at most every N seconds, one run in flight, with a timeout; keep results.

As in binderhub's ``health.py`` (``at_most_every``): whoever asks while a result is fresh gets
the cached one, whoever asks while a run is in flight joins that run. The service's
background loop is what asks on schedule, so probes never cause work of their own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger(__name__)
#: seconds a check may run past its timeout before it is cut off
GRACE = 1.0


class CheckFailed(Exception):
    """A check did not pass; the message says why, for operators (no secrets)."""


class NotConfigured(CheckFailed):
    """Nothing to check here yet: shown as a warning, never a reason for a 503."""


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

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "required": self.required,
            "message": self.message,
            "duration_ms": self.duration_ms,
            "checked_at": self.checked_at,
        }


def at_most_every(seconds_of: Callable[[Any], float]):
    """Decorator for ``async def method(self)``: at most one run every ``seconds_of(self)``
    seconds; callers in between get the last result, callers during a run share it."""

    def decorator(method: Callable[[Any], Awaitable[Any]]):
        @functools.wraps(method)
        async def wrapper(self):
            state = self.__dict__.setdefault(f"_at_most_every_{method.__name__}", {})
            now = time.monotonic()
            running = state.get("running")
            if running is not None and not running.done():
                return await asyncio.shield(running)
            if "result" in state and now - state["started"] < seconds_of(self):
                return state["result"]
            state["started"] = now
            task = state["running"] = asyncio.ensure_future(method(self))
            # shielded: a caller that gives up does not cancel the run the others share
            state["result"] = result = await asyncio.shield(task)
            return result

        return wrapper

    return decorator


@dataclass
class ScheduledCheck:
    """One check with its interval and timeout."""

    name: str
    func: Callable[[], Awaitable[str]]
    required: bool
    interval: float
    timeout: float
    on_result: Callable[[Result], None] | None = None
    last: Result | None = field(default=None)

    @at_most_every(lambda self: self.interval)
    async def result(self) -> Result:
        started = time.perf_counter()
        required = self.required
        try:
            # the checks give their own requests this timeout and say what did not answer;
            # the grace here is the backstop for anything that still hangs
            message = await asyncio.wait_for(self.func(), self.timeout + GRACE)
            ok = True
        except asyncio.TimeoutError:
            ok, message = False, f"no answer within {self.timeout:g} s"
        except NotConfigured as e:
            ok, required, message = False, False, str(e)
        except CheckFailed as e:
            ok, message = False, str(e)
        except Exception as e:  # a bug in a check is a failed check, never a dead service
            ok, message = False, f"the check itself failed ({type(e).__name__})"
        now = time.time()
        result = Result(
            name=self.name,
            ok=ok,
            required=required,
            message=message,
            duration_ms=round(1000 * (time.perf_counter() - started), 1),
            checked_at=datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
            at=now,
        )
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

    def tick(self) -> float:
        """How often the loop looks for due checks (cheap: a clock read per check)."""
        return max(0.1, min(1.0, min(check.interval for check in self.checks) / 4))

    def start(self) -> None:
        async def loop():
            while True:
                try:
                    await self.run_due()
                except Exception:  # pragma: no cover - results catch their own errors
                    log.exception("health checks could not run")
                await asyncio.sleep(self.tick())

        self._task = asyncio.ensure_future(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
