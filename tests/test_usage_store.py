"""Recording sessions on SQLite and PostgreSQL: one row per session, whoever reports it, in
whatever order; sessions that ended unseen closed at their last activity."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jhub_managed.store import create_engine_for, upgrade
from jhub_managed.store.attribution import attribute
from jhub_managed.store.models import UsageSession, UsageShare
from jhub_managed.store.usage import (
    ObservedServer,
    SessionFacts,
    UsageRecorder,
    epoch,
    requested_resources,
)

T0 = 1_780_000_000.0  # 2026-05-28


def facts(user="ann", server="", started=T0, groups=("physics",), **kwargs) -> SessionFacts:
    return SessionFacts(
        user_name=user,
        server_name=server,
        started_at=started,
        attribution=attribute(user, groups),
        groups=list(groups),
        profile=kwargs.pop("profile", "small"),
        resources=kwargs.pop("resources", {"cpu_limit": 1.0, "mem_limit": 2 * 1024**3}),
        **kwargs,
    )


@pytest.fixture
def recorder(db_url):
    engine = create_engine_for(db_url)
    upgrade(engine)
    yield UsageRecorder(engine)
    engine.dispose()


def rows(recorder) -> list[UsageSession]:
    from sqlalchemy.orm import Session

    with Session(recorder.engine) as session:
        return list(session.scalars(select(UsageSession).order_by(UsageSession.id)))


def test_a_start_seen_twice_is_one_session(recorder):
    assert recorder.record_start(facts()) is True
    assert recorder.record_start(facts()) is False
    [row] = rows(recorder)
    assert (row.user_name, row.started_at, row.stopped_at, row.start_source) == (
        "ann",
        T0,
        None,
        "spawner",
    )
    with recorder.engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(UsageShare)) == 1


def test_a_stop_closes_it_once_and_a_repeated_stop_changes_nothing(recorder):
    recorder.record_start(facts())
    recorder.record_stop(facts(), T0 + 3600)
    recorder.record_stop(facts(), T0 + 7200)
    [row] = rows(recorder)
    assert (row.stopped_at, row.stop_source) == (T0 + 3600, "spawner")


def test_a_stop_without_its_start_records_the_whole_session(recorder):
    recorder.record_stop(facts(), T0 + 60)
    [row] = rows(recorder)
    assert (row.started_at, row.stopped_at, row.stop_source) == (T0, T0 + 60, "spawner")


def test_an_exact_stop_replaces_a_guessed_one_but_not_the_other_way(recorder):
    recorder.record_start(facts(last_activity_at=T0 + 100))
    recorder.record_stop(facts(), T0 + 100, source="last_activity")
    recorder.record_stop(facts(), T0 + 500)
    recorder.record_stop(facts(), T0 + 200, source="last_activity")
    [row] = rows(recorder)
    assert (row.stopped_at, row.stop_source) == (T0 + 500, "spawner")


def observed(user="ann", server="", started=T0, activity=None) -> ObservedServer:
    return ObservedServer(user, server, started, activity)


def test_polls_open_update_and_close_sessions_idempotently(recorder):
    made = []

    def facts_for(server):
        made.append(server.user_name)
        return facts(server.user_name, server.server_name, server.started_at)

    r = recorder.reconcile([observed()], facts_for, snapshot_at=T0 + 10)
    assert (r.opened, r.closed) == (1, 0)
    r = recorder.reconcile([observed(activity=T0 + 300)], facts_for, snapshot_at=T0 + 600)
    assert (r.opened, r.updated, r.closed) == (0, 1, 0)
    [row] = rows(recorder)
    assert (row.start_source, row.last_activity_at, row.stopped_at) == ("poll", T0 + 300, None)
    # gone from the hub: closed at its last activity, and marked so
    r = recorder.reconcile([], facts_for, snapshot_at=T0 + 900)
    assert r.closed == 1
    [row] = rows(recorder)
    assert (row.stopped_at, row.stop_source) == (T0 + 300, "last_activity")
    recorder.reconcile([], facts_for, snapshot_at=T0 + 1200)
    assert len(rows(recorder)) == 1 and made == ["ann"]


def test_a_poll_leaves_alone_what_started_after_it_began(recorder):
    recorder.record_start(facts(started=T0 + 100))
    recorder.reconcile([], lambda s: None, snapshot_at=T0 + 50)
    [row] = rows(recorder)
    assert row.stopped_at is None


def test_a_poll_that_saw_a_server_the_spawner_since_stopped_does_not_reopen_it(recorder):
    recorder.record_start(facts())
    recorder.record_stop(facts(), T0 + 60)
    recorder.reconcile([observed()], lambda s: facts(), snapshot_at=T0 + 30)
    [row] = rows(recorder)
    assert (row.stopped_at, row.stop_source) == (T0 + 60, "spawner")


def test_a_new_start_of_the_same_server_closes_the_one_that_ended_unseen(recorder):
    recorder.record_start(facts(last_activity_at=T0 + 40))
    recorder.reconcile(
        [observed(started=T0 + 1000)],
        lambda s: facts(started=s.started_at),
        snapshot_at=T0 + 1100,
    )
    first, second = rows(recorder)
    assert (first.stopped_at, first.stop_source) == (T0 + 40, "last_activity")
    assert (second.started_at, second.stopped_at) == (T0 + 1000, None)


def test_split_shares_are_stored_with_the_session(recorder):
    recorder.record_start(facts(groups=("b", "a")))
    with recorder.engine.connect() as c:
        shares = c.execute(select(UsageShare.group_name, UsageShare.share)).all()
    assert sorted(shares) == [("a", 0.5), ("b", 0.5)]
    assert rows(recorder)[0].billing_group == "multiple"


def test_epoch_is_the_same_from_the_hub_database_and_its_api():
    from datetime import datetime

    naive = datetime(2026, 12, 1, 21, 0, 5, 123456)
    assert epoch(naive) == epoch("2026-12-01T21:00:05.123456Z") == epoch(epoch(naive))
    assert epoch(None) is None


@pytest.mark.parametrize(
    "layers, expected",
    [
        pytest.param(
            [{"cpu_limit": 2, "mem_limit": "4G"}],
            {"cpu_limit": 2.0, "mem_limit": 4 * 1024.0**3},
            id="limits",
        ),
        pytest.param(
            [{"cpu_limit": 2, "cpu_guarantee": 0.5}, {"cpu_limit": 4, "mem_guarantee": "1Gi"}],
            {"cpu_limit": 4.0, "cpu_guarantee": 0.5, "mem_guarantee": 1024.0**3},
            id="profile over spawner",
        ),
        pytest.param(
            [{"extra_resource_limits": {"nvidia.com/gpu": 1}}],
            {"gpu_limit": 1.0},
            id="gpu",
        ),
        pytest.param([{"mem_limit": "lots", "cpu_limit": 0}], {}, id="nonsense ignored"),
    ],
)
def test_requested_resources(layers, expected):
    result = requested_resources(*layers)
    assert {k: v for k, v in result.items() if v is not None} == expected
