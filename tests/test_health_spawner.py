"""What the spawner tells the health service, through a real in-process hub: a stored profile
refused at spawn, and spawns on last-known-good settings while the store is away."""

from __future__ import annotations

import json

import pytest
from jupyterhub.tests.utils import add_user, api_request

from jhub_managed.services.health.checks import ThreadGuard, check_spawner_settings
from jhub_managed.services.health.schedule import CheckFailed
from jhub_managed.shared import spawner_report as spawnreport
from jhub_managed.store import SettingsStore

from .fixtures.waiting import wait_until_async

PROFILE = {
    "display_name": "Big",
    "slug": "big",
    "default": True,
    "kubespawner_override": {"cpu_limit": 8},
}


class Context:
    """What ``check_spawner_settings`` reads, as the service has it."""

    def __init__(self, data_dir, version=None):
        self.config = {"spawner_report": spawnreport.report_path(str(data_dir))}
        self.threads = ThreadGuard()
        self.last_settings_version = version

    def secrets(self):
        return ()


async def test_a_stored_profile_refused_at_spawn_fails_the_check(managed_hub, tmp_path, db_url):
    # a version saved before the operator lowered the ceiling to 2 CPUs
    store = SettingsStore(db_url)
    store.save({"profiles": [PROFILE]}, author="admin", expected_version=0)
    store.dispose()
    app = await managed_hub(db_url=db_url, ceilings={"cpu_limit": 2}, services=["health"])
    assert await check_spawner_settings(Context(tmp_path)) == (
        "no spawn yet since the hub's data directory was made"
    )
    add_user(app.db, app, name="alice")
    r = await api_request(
        app, "users", "alice", "server", method="post", data=json.dumps({"profile": "big"})
    )
    assert r.status_code == 403, r.text
    with pytest.raises(CheckFailed) as failure:
        await check_spawner_settings(Context(tmp_path, version=1))
    message = str(failure.value)
    assert "the stored profile 'big' (settings version 1) was refused at spawn" in message
    assert "cpu_limit" in message
    # a newer version no longer has it: the refusal of version 1 does not count
    assert "settings version 1" in await check_spawner_settings(Context(tmp_path, version=2))


async def test_spawns_on_last_known_good_settings_fail_the_check(
    managed_hub, tmp_path, throwaway_db
):
    store = SettingsStore(throwaway_db.url)
    store.save(
        {"profiles": [{**PROFILE, "kubespawner_override": {}}]}, author="a", expected_version=0
    )
    store.dispose()
    app = await managed_hub(
        db_url=throwaway_db.url, services=["health"], settings_refresh_interval=0.2
    )
    add_user(app.db, app, name="alice")
    spawner = app.users["alice"].spawner
    assert spawner.select({"profile": "big"}).slug == "big"
    assert "settings version 1" in await check_spawner_settings(Context(tmp_path, version=1))
    snapshot = spawner.settings_source
    with throwaway_db.unreachable(snapshot.source.store.engine):
        # the hub's snapshot finds the store away within its refresh interval
        await wait_until_async(lambda: snapshot.last_error, timeout=60, what="the failed refresh")
        assert spawner.select({"profile": "big"}).slug == "big"  # last-known-good
        with pytest.raises(CheckFailed) as failure:
            await check_spawner_settings(Context(tmp_path, version=1))
    message = str(failure.value)
    assert "last-known-good settings (version 1)" in message
    assert throwaway_db.url not in message and str(tmp_path) not in message
    await wait_until_async(lambda: snapshot.last_error is None, timeout=60, what="the store back")
    spawner.select({"profile": "big"})
    assert "settings version 1" in await check_spawner_settings(Context(tmp_path, version=1))
