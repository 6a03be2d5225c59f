"""The spawners' usage events: written in a thread of their own, kept and written later when
the store can't be reached, never raising into the hub."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from jhub_managed.spawner.usage_events import UsageEvents, session_facts
from jhub_managed.store.models import UsageSession

from .fixtures.waiting import wait_until

STARTED = "2026-11-02T10:00:00.250000Z"


def facts(user="ann"):
    return session_facts(
        user_name=user,
        server_name="",
        started=STARTED,
        groups=["physics"],
        user_options={"profile": "lab"},
        profile={"slug": "lab", "allowed_groups": ["physics"]},
        spawner_resources={"cpu_limit": 1, "mem_limit": 1024**3},
        override={"cpu_limit": 2},
    )


def sessions(events: UsageEvents) -> list[UsageSession]:
    with Session(events._recorder.engine) as session:
        return list(session.scalars(select(UsageSession).order_by(UsageSession.id)))


def test_facts_from_the_spawner():
    f = facts()
    assert (f.profile, f.attribution.group, f.resources["cpu_limit"]) == ("lab", "physics", 2.0)
    assert f.resources["mem_limit"] == 1024**3


def test_events_wait_out_an_outage_of_the_store_and_lose_nothing(throwaway_db):
    events = UsageEvents(throwaway_db.url)
    try:
        events.started(facts("warmup"))
        assert events.flush()
        engine = events._recorder.engine
        with throwaway_db.unreachable(engine):
            events.started(facts())
            events.stopped(facts(), seen=True)
            assert events.flush()
            assert len(events._waiting) == 2  # kept, not lost
        wait_until(lambda: not events._waiting, 60, "the waiting writes to be made")
        rows = [s for s in sessions(events) if s.user_name == "ann"]
        assert len(rows) == 1
        assert rows[0].stop_source == "spawner" and rows[0].stopped_at is not None
    finally:
        events.flush_and_stop()
        if events._recorder is not None:
            events._recorder.engine.dispose()


def test_a_stop_found_gone_is_closed_at_its_last_activity(throwaway_db):
    events = UsageEvents(throwaway_db.url)
    try:
        events.started(facts())
        events.stopped(facts(), seen=False, last_activity="2026-11-02T10:30:00Z")
        assert events.flush()
        [row] = sessions(events)
        assert row.stop_source == "last_activity"
        assert row.stopped_at - row.started_at == 1800 - 0.25
    finally:
        events.flush_and_stop()
        events._recorder.engine.dispose()
