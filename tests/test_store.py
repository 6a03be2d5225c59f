"""The settings store on SQLite and PostgreSQL: migrations, versions, conflicts, outages."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text

from jhub_managed.store import SettingsConflict, SettingsStore, create_engine_for, upgrade
from jhub_managed.store.source import SettingsSource

DOC_A = {
    "profiles": [
        {
            "slug": "small",
            "display_name": "Small, 1 CPU",
            "kubespawner_override": {"cpu_limit": 1.5, "mem_limit": "2G"},
            "allowed_groups": ["Physics"],
        }
    ],
    "branding": {"organization_name": "Universität Beispiel"},
}
DOC_B = {"profiles": [{"slug": "large", "display_name": "Large", "default": True}]}
DOC_C = {"announcement": {"text": "Maintenance **Friday**", "show_on": ["login"]}}


@pytest.fixture
def store(db_url):
    store = SettingsStore(db_url)
    yield store
    store.dispose()


def table_names(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_run_from_empty_and_twice(db_url):
    assert table_names(db_url) == set()

    engine = create_engine_for(db_url)
    try:
        upgrade(engine)
        assert table_names(db_url) == {
            "jhm_settings_versions",
            "jhm_alembic_version",
            "jhm_usage_sessions",
            "jhm_usage_shares",
            "jhm_usage_active_days",
            "jhm_usage_active_weeks",
            "jhm_usage_active_months",
        }
        store = SettingsStore(engine, migrate=False)
        store.save(DOC_A, author="ada", expected_version=0)

        # again on a database that is already at head: nothing breaks, nothing is lost
        upgrade(engine)
        SettingsStore(db_url).dispose()
        with engine.connect() as connection:
            revisions = connection.execute(
                text("SELECT version_num FROM jhm_alembic_version")
            ).all()
        assert [r[0] for r in revisions] == ["0003"]
        assert store.current_version() == 1
        assert store.get(1).document == DOC_A
    finally:
        engine.dispose()


# One process of the hub or a service: it gets ready, waits for the word (a line on its
# standard input), then migrates.
_MIGRATING_PROCESS = """
import sys
from jhub_managed.store import create_engine_for, upgrade
engine = create_engine_for(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
upgrade(engine)
engine.dispose()
"""


def test_processes_migrating_a_new_database_at_once(db_url):
    """The hub and its services start together on a new database: all of them come up,
    and the schema is there once."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATING_PROCESS, db_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready", process.communicate()[1]
        for process in processes:  # the word, to all of them at once
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [process.communicate(timeout=120) for process in processes]
        failures = [
            # the exception's own line, not SQLAlchemy's "Background on this error" link
            next((line for line in reversed(err.splitlines()) if "Error" in line), err[-300:])
            for process, (_out, err) in zip(processes, results, strict=True)
            if process.returncode != 0
        ]
        assert failures == []
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert table_names(db_url) == {
        "jhm_settings_versions",
        "jhm_alembic_version",
        "jhm_usage_sessions",
        "jhm_usage_shares",
        "jhm_usage_active_days",
        "jhm_usage_active_weeks",
        "jhm_usage_active_months",
    }
    store = SettingsStore(db_url)
    try:
        with store.engine.connect() as connection:
            revisions = connection.execute(text("SELECT version_num FROM jhm_alembic_version"))
            assert [r[0] for r in revisions] == ["0003"]
        assert store.save(DOC_A, author="ada", expected_version=0).version == 1
    finally:
        store.dispose()


def test_empty_store(store):
    assert store.current_version() == 0
    assert store.latest() is None
    assert store.get(1) is None
    assert store.history() == []


def test_save_get_latest_history(store):
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    first = store.save(DOC_A, author="ada", comment="first profiles", expected_version=0)
    second = store.save(DOC_B, author="grace", expected_version=1)
    third = store.save(DOC_A, author="ada", comment="undo", expected_version=2, restored_from=1)
    assert [first.version, second.version, third.version] == [1, 2, 3]

    assert store.current_version() == 3
    # documents come back as they were saved: unicode, floats and nesting intact
    assert store.get(1).document == DOC_A
    assert store.get(2).document == DOC_B
    assert store.get(4) is None
    assert store.latest().version == 3

    summary = store.get(3).summary()
    assert summary["author"] == "ada"
    assert summary["comment"] == "undo"
    assert summary["restored_from"] == 1
    created = datetime.fromisoformat(summary["created"])
    assert created.tzinfo is not None
    assert before <= created <= datetime.now(timezone.utc) + timedelta(seconds=5)
    assert store.get(2).summary()["comment"] == ""
    assert store.get(2).summary()["restored_from"] is None

    assert [v.version for v in store.history()] == [3, 2, 1]
    assert [v.version for v in store.history(limit=2)] == [3, 2]
    assert [v.version for v in store.history(before=3)] == [2, 1]
    assert [v.version for v in store.history(limit=1, before=3)] == [2]


def test_store_reopened_sees_saved_versions(db_url, store):
    store.save(DOC_A, author="ada", expected_version=0)
    store.dispose()
    reopened = SettingsStore(db_url)
    try:
        assert reopened.current_version() == 1
        assert reopened.latest().document == DOC_A
    finally:
        reopened.dispose()


@pytest.mark.parametrize(
    "expected_version, current",
    [
        pytest.param(0, 2, id="stale-from-empty"),
        pytest.param(1, 2, id="stale-one-behind"),
        pytest.param(5, 2, id="ahead-of-the-store"),
        pytest.param(-1, 2, id="negative"),
    ],
)
def test_save_from_wrong_version_conflicts_and_changes_nothing(store, expected_version, current):
    store.save(DOC_A, author="ada", expected_version=0)
    store.save(DOC_B, author="grace", expected_version=1)
    before = [(v.version, v.author, v.document) for v in store.history()]

    with pytest.raises(SettingsConflict) as info:
        store.save(DOC_C, author="mallory", expected_version=expected_version)
    assert info.value.expected == expected_version
    assert info.value.current == current
    assert str(info.value) == f"settings are at version {current}, not {expected_version}"

    assert store.current_version() == current
    assert [(v.version, v.author, v.document) for v in store.history()] == before
    assert store.get(current + 1) is None


def race(stores: list[SettingsStore], start: int, round_: int) -> list[tuple[int, object]]:
    """Every store saves from version ``start`` at the same moment; (writer, result or error)."""
    barrier = threading.Barrier(len(stores))
    outcomes: list[tuple[int, object]] = []
    lock = threading.Lock()

    def write(i: int, writer: SettingsStore) -> None:
        barrier.wait()
        try:
            result = writer.save(
                {"announcement": {"text": f"round {round_} writer {i}"}},
                author=f"writer-{i}",
                expected_version=start,
            )
        except Exception as e:
            result = e
        with lock:
            outcomes.append((i, result))

    threads = [threading.Thread(target=write, args=(i, s)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a writer hung"
    return sorted(outcomes, key=lambda o: o[0])


def test_concurrent_writers_one_wins_nothing_lost(db_url, store):
    """Writers (separate stores, as separate service processes would have) all save from the
    same version: each round exactly one wins, the others get a conflict, and after reloading
    the current version their retries get their documents in too."""
    writers = 4
    rounds = 5
    stores = [SettingsStore(db_url) for _ in range(writers)]
    try:
        for round_ in range(rounds):
            start = store.current_version()
            outcomes = race(stores, start, round_)

            won = [(i, r) for i, r in outcomes if not isinstance(r, Exception)]
            lost = [(i, r) for i, r in outcomes if isinstance(r, Exception)]
            assert len(won) == 1, outcomes
            assert all(isinstance(r, SettingsConflict) for _, r in lost), outcomes
            assert all(r.expected == start and r.current == start + 1 for _, r in lost)
            winner, saved = won[0]
            assert saved.version == start + 1
            assert store.get(start + 1).author == f"writer-{winner}"
            assert store.current_version() == start + 1

            for i, _conflict in lost:
                stores[i].save(
                    {"announcement": {"text": f"round {round_} writer {i}"}},
                    author=f"writer-{i}",
                    expected_version=stores[i].current_version(),
                )
            assert store.current_version() == start + writers

        history = store.history(limit=1000)
        assert [v.version for v in history] == list(range(rounds * writers, 0, -1))
        texts = sorted(v.document["announcement"]["text"] for v in history)
        assert texts == sorted(
            f"round {r} writer {i}" for r in range(rounds) for i in range(writers)
        )
    finally:
        for s in stores:
            s.dispose()


OPERATOR = {
    "branding": {"organization_name": "Fleet", "contact": "help@fleet.example"},
    "profiles": [{"slug": "operator", "display_name": "Operator default"}],
}
HUB = {"branding": {"organization_name": "Physics Hub"}}


@pytest.fixture
def source(db_url):
    source = SettingsSource(db_url, operator_defaults=OPERATOR, hub_values=HUB)
    yield source
    if source._store is not None:
        source.store.dispose()


def test_source_layers_and_new_versions(source, store):
    current = source.current()
    assert current.version == 0
    assert current.document == {
        "branding": {"organization_name": "Physics Hub", "contact": "help@fleet.example"},
        "profiles": [{"slug": "operator", "display_name": "Operator default"}],
    }
    assert source.current() is current  # cached while nothing new is saved

    store.save(DOC_B, author="ada", expected_version=0)
    v1 = source.current()
    assert v1.version == 1
    assert v1.profiles == DOC_B["profiles"]  # the admins' list replaces the operator's
    assert v1.document["branding"]["organization_name"] == "Physics Hub"
    assert source.current() is v1

    store.save(DOC_C, author="grace", expected_version=1)
    v2 = source.current()
    assert v2.version == 2
    # the latest version is the admins' layer: version 2 alone, not 1 and 2 merged
    assert v2.profiles == OPERATOR["profiles"]
    assert v2.document["announcement"]["text"] == "Maintenance **Friday**"
    assert source.last_error is None


def test_source_keeps_last_good_settings_while_store_is_unreachable(
    throwaway_db, source, store, caplog
):
    store.save(DOC_B, author="ada", expected_version=0)
    good = source.current()
    assert good.version == 1

    with caplog.at_level(logging.ERROR, logger="jhub_managed.store.source"):
        with throwaway_db.unreachable(source.store.engine, store.engine):
            during = [source.current(), source.current()]
            assert all(s.version == 1 and s.document == good.document for s in during)
            assert source.last_error
            assert source.last_error_at is not None
            first_error = source.last_error
    # logged once, not on every read; the password-free URL is in it
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "using settings version 1" in errors[0].getMessage()
    assert "Error" in first_error

    # back: the error clears and a version saved meanwhile elsewhere shows up
    assert source.current().version == 1
    assert source.last_error is None
    store.save(DOC_C, author="grace", expected_version=1)
    recovered = source.current()
    assert recovered.version == 2
    assert recovered.document["announcement"]["text"] == "Maintenance **Friday**"
    assert source.last_error is None


def test_source_unreachable_from_the_start_uses_base_layers(throwaway_db, db_url):
    with throwaway_db.unreachable():
        source = SettingsSource(db_url, operator_defaults=OPERATOR, hub_values=HUB)
        current = source.current()
        assert current.version == 0
        assert current.document["branding"]["organization_name"] == "Physics Hub"
        assert source.last_error
    try:
        assert source.current().version == 0
        assert source.last_error is None
    finally:
        source.store.dispose()


def test_source_failure_never_shows_the_database_password(caplog):
    # nothing listens on port 1: the connection is refused at once
    source = SettingsSource("postgresql://jhm:s3cret-pw@127.0.0.1:1/hub")
    with caplog.at_level(logging.ERROR, logger="jhub_managed.store.source"):
        assert source.current().version == 0
    assert source.last_error and "s3cret-pw" not in source.last_error
    assert caplog.records, "the failure is logged"
    assert all("s3cret-pw" not in r.getMessage() for r in caplog.records)
    assert "jhm:***@127.0.0.1" in caplog.records[0].getMessage()


def test_upgrade_from_0002_fills_the_kept_figures_and_the_active_weeks_and_months(db_url):
    """A store made before the figures were kept: the upgrade works them out for every
    stopped session (running ones wait for their stop), and fills the weeks and months
    from the active days."""
    engine = create_engine_for(db_url)
    try:
        upgrade(engine, "0002")
        insert = text(
            "INSERT INTO jhm_usage_sessions (user_name, server_name, started_at, "
            "last_activity_at, stopped_at, stop_source, start_source, groups, profile, options, "
            "cpu_guarantee, cpu_limit, mem_guarantee, mem_limit, gpu_guarantee, gpu_limit, "
            "billing_group, billable) VALUES (:user, '', :start, :start, :stop, '', 'spawner', "
            "'[]', 'small', '{}', :cpu_g, 2.0, NULL, 1024.0, NULL, :gpu, 'g', true)"
        )
        day = 20_757  # 2026-10-31, a Saturday
        with engine.begin() as connection:
            for user, start, stop, cpu_g, gpu in (
                ("ann", day * 86400.0, day * 86400.0 + 7200, 0.5, None),
                ("bob", day * 86400.0, None, None, 1.0),
                ("cy", day * 86400.0, day * 86400.0 + 100, None, 2.0),
            ):
                connection.execute(
                    insert, {"user": user, "start": start, "stop": stop, "cpu_g": cpu_g, "gpu": gpu}
                )
            connection.execute(
                text("INSERT INTO jhm_usage_active_days (day, user_name) VALUES (:d, :u)"),
                [
                    {"d": day, "u": "ann"},
                    {"d": day + 1, "u": "ann"},
                    {"d": day + 2, "u": "bob"},
                    {"d": day + 3, "u": "ann"},
                ],
            )
        upgrade(engine)
        with engine.connect() as connection:
            figures = connection.execute(
                text(
                    "SELECT user_name, seconds, cpu_seconds, mem_seconds, gpu_seconds "
                    "FROM jhm_usage_sessions ORDER BY user_name"
                )
            ).all()
            weeks = connection.execute(
                text("SELECT week, user_name FROM jhm_usage_active_weeks ORDER BY 1, 2")
            ).all()
            months = connection.execute(
                text("SELECT month, user_name, days FROM jhm_usage_active_months ORDER BY 1, 2")
            ).all()
        assert [tuple(r) for r in figures] == [
            ("ann", 7200.0, 3600.0, 7200.0 * 1024, 0.0),  # the guarantee, else the limit
            ("bob", None, None, None, None),  # still running
            ("cy", 100.0, 200.0, 100.0 * 1024, 200.0),
        ]
        # Saturday 31 October and Sunday 1 November are in the week of Monday 26 October;
        # Monday 2 November starts the next
        assert [tuple(r) for r in weeks] == [(day - 5, "ann"), (day + 2, "ann"), (day + 2, "bob")]
        # October for ann's first day; November (day + 1) for ann's second and bob's
        assert [tuple(r) for r in months] == [
            (day - 30, "ann", 1),
            (day + 1, "ann", 2),  # Sunday 1 and Tuesday 3 November
            (day + 1, "bob", 1),
        ]
    finally:
        engine.dispose()
