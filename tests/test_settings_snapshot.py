"""The hub's one settings snapshot: started (the store migrated) at hub start, refreshed off
the event loop within its interval, one snapshot per page render, last good settings kept."""

from __future__ import annotations

import copy

import pytest
from jupyterhub.tests.utils import get_page
from sqlalchemy import inspect, text
from traitlets.config import Config

from jhub_managed.demo.settings import DEMO_SETTINGS
from jhub_managed.hub import ConfigureError, configure
from jhub_managed.store import SettingsStore
from jhub_managed.store.source import SettingsSnapshot, SettingsSource

from .fixtures.db import queries_on_this_thread
from .fixtures.waiting import wait_until, wait_until_async


def announcing(text_: str) -> dict:
    return {"announcement": {"text": text_, "level": "warning"}}


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'jhub-managed.sqlite'}"


def test_a_save_is_in_force_within_the_interval_and_reads_never_touch_the_store(db_url):
    snapshot = SettingsSnapshot(SettingsSource(db_url), interval=0.2)
    try:
        snapshot.start()  # as the hub does when it starts
        queries_by_reader = queries_on_this_thread(snapshot.source.store.engine)
        assert snapshot.current().version == 0
        SettingsStore(db_url, migrate=False).save(
            announcing("Tonight"), author="admin", expected_version=0
        )
        wait_until(lambda: snapshot.current().version == 1, 60, "version 1 in force")
        assert snapshot.current().document["announcement"]["text"] == "Tonight"
        assert queries_by_reader == []  # the refresher thread asked the store, not the reader
    finally:
        snapshot.close()


async def test_a_new_snapshot_takes_its_place_only_between_two_callbacks_of_the_loop(db_url):
    """What one render reads (synchronously, on the loop) comes from one snapshot."""
    snapshot = SettingsSnapshot(SettingsSource(db_url), interval=0.2)
    try:
        before = snapshot.current()  # the reader's loop is known from now on
        SettingsStore(db_url, migrate=False).save(
            announcing("New"), author="admin", expected_version=0
        )
        # hold the loop, as a page render does, while the refresher finds version 1
        snapshot.refreshed.clear()

        def refreshed_to_version_1() -> bool:
            assert snapshot.refreshed.wait(60)
            snapshot.refreshed.clear()
            return snapshot.source.current().version == 1

        wait_until(refreshed_to_version_1, 60, "the refresher to find version 1", interval=0)
        assert snapshot.current() is before  # still the one this render started with
        await wait_until_async(lambda: snapshot.current().version == 1, 30, "the new snapshot")
    finally:
        snapshot.close()


def test_the_last_good_settings_stay_when_the_store_cannot_be_read(db_url):
    store = SettingsStore(db_url)
    store.save(announcing("Kept"), author="admin", expected_version=0)
    snapshot = SettingsSnapshot(SettingsSource(db_url), interval=0.2)
    try:
        assert snapshot.current().version == 1
        with store.engine.begin() as connection:
            connection.execute(text("ALTER TABLE jhm_settings_versions RENAME TO gone"))
        wait_until(lambda: snapshot.last_error is not None, 60, "the failed read")
        assert snapshot.current().version == 1
        assert snapshot.current().document["announcement"]["text"] == "Kept"
    finally:
        snapshot.close()
        store.dispose()


def test_configure_makes_no_store_the_snapshot_makes_and_migrates_it_when_started(tmp_path):
    c = Config()
    configure(c, data_dir=str(tmp_path), spawner="local", services=[], idle_timeout=0)
    store_file = tmp_path / "jhub-managed.sqlite"
    assert not store_file.exists()
    snapshot = c.ManagedLocalSpawner.settings_snapshot
    assert isinstance(snapshot, SettingsSnapshot)
    snapshot.start()  # what the hub does when it starts (see test_hub_configure.py)
    assert store_file.exists()
    assert "jhm_settings_versions" in inspect(snapshot.source.store.engine).get_table_names()
    # the spawners and the pages share it; copying the configuration keeps it one
    assert c.ManagedKubeSpawner.settings_snapshot is snapshot
    assert copy.deepcopy(c).ManagedLocalSpawner.settings_snapshot is snapshot
    snapshot.close()


def test_a_snapshot_read_before_the_hub_started_it_starts_itself(db_url):
    SettingsStore(db_url).save(announcing("Saved"), author="admin", expected_version=0)
    snapshot = SettingsSnapshot(SettingsSource(db_url), interval=0.2)
    try:
        assert snapshot.current().document["announcement"]["text"] == "Saved"
        assert snapshot.current().version == 1
    finally:
        snapshot.close()


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
def test_a_wrong_refresh_interval_stops_the_hub_at_start(tmp_path, value):
    with pytest.raises(ConfigureError, match="settings_refresh_interval"):
        configure(Config(), data_dir=str(tmp_path), settings_refresh_interval=value)


async def test_hub_pages_read_no_store_on_the_event_loop_and_show_a_save_soon(managed_hub):
    settings = copy.deepcopy(DEMO_SETTINGS)
    settings["announcement"] = {"text": "First words", "level": "info"}
    app = await managed_hub(hub_values=settings, settings_refresh_interval=0.5)
    snapshot = app.config.ManagedLocalSpawner.settings_snapshot
    on_loop = queries_on_this_thread(snapshot.source.store.engine)
    cookies = await app.login_user("alice")
    for page in ("home", "spawn", "home"):
        r = await get_page(page, app, cookies=cookies)
        assert r.status_code == 200, r.text
    assert "First words" in r.text
    assert on_loop == []
    # a spawner of the hub reads the same snapshot
    assert app.users["alice"].spawner.settings_source is snapshot

    store = SettingsStore(snapshot.source.db_url, migrate=False)
    store.save(announcing("Second words"), author="admin", expected_version=0)
    store.dispose()

    async def shown():
        page = await get_page("home", app, cookies=cookies)
        return "Second words" in page.text

    await wait_until_async(shown, 60, "the saved announcement on the home page")
    assert on_loop == []
