"""The tests' poll-until helper: it returns what the condition found, and a failure names
what was awaited and the last value seen (never a bare "timed out")."""

from __future__ import annotations

import pytest

from .fixtures.waiting import NotYet, wait_until, wait_until_async


def test_returns_the_first_truthy_value():
    answers = iter([None, 0, {"ready": True}])
    assert wait_until(lambda: next(answers), 30, "the server", interval=0) == {"ready": True}


def test_a_failure_names_what_was_awaited_and_the_last_value_seen():
    with pytest.raises(AssertionError, match=r"waiting for alice's server; last seen: 503"):
        wait_until(lambda: NotYet(503), 0, "alice's server")


def test_ignored_errors_mean_not_yet_and_other_errors_fail_at_once():
    calls = []

    def refused():
        calls.append(1)
        raise ConnectionRefusedError("nobody listens")

    with pytest.raises(AssertionError, match=r"last seen: ConnectionRefusedError"):
        wait_until(refused, 0.05, "the port", interval=0.01, ignore=OSError)
    assert len(calls) > 1
    with pytest.raises(ConnectionRefusedError):
        wait_until(refused, 30, "the port")


async def test_the_async_twin_awaits_coroutine_conditions():
    answers = iter([False, "up"])

    async def up():
        return next(answers)

    assert await wait_until_async(up, 30, "the service", interval=0) == "up"
    with pytest.raises(AssertionError, match=r"waiting for the pod; last seen: 'Pending'"):
        await wait_until_async(lambda: NotYet("Pending"), 0, "the pod")
