"""Measured by ``bench_spawn.py`` through pytest, to reuse the test harness's fixtures (the
Kubernetes API emulator, the test kubelet and pytest-jupyterhub's in-process hub).

Each block starts one hub, warms it with one spawn, then times whole spawns: the REST API
request until the hub reports the server ready (pod created in the emulator, started by the
kubelet, answering through the hub). Blocks alternate between the two spawner classes.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from jupyterhub.tests.utils import add_user, api_request
from kubespawner import KubeSpawner

from jhub_managed.spawner import ManagedKubeSpawner
from jhub_managed.store import SettingsStore
from jhub_managed.store.source import SettingsSnapshot, SettingsSource
from tests.fixtures.waiting import wait_until_async
from tests.test_kube_spawner import SETTINGS

SPAWNS = int(os.environ.get("JHM_BENCH_SPAWNS", "4"))
#: alternating blocks, so drift in the machine's load touches both classes alike
BLOCKS = ["managed", "plain"] * int(os.environ.get("JHM_BENCH_BLOCK_PAIRS", "4"))


async def one_spawn(app, name: str) -> float:
    start = time.perf_counter()
    r = await api_request(app, "users", name, "server", method="post", json={"profile": "small"})
    assert r.status_code in (201, 202), r.text

    async def ready():
        r = await api_request(app, "users", name)
        server = r.json()["servers"].get("")
        return bool(server and server["ready"])

    await wait_until_async(ready, timeout=90, what=f"{name} ready", interval=0.05)
    elapsed = time.perf_counter() - start
    r = await api_request(app, "users", name, "server", method="delete")

    async def stopped():
        r = await api_request(app, "users", name)
        return not r.json()["servers"]

    await wait_until_async(stopped, timeout=60, what=f"{name} stopped", interval=0.05)
    return elapsed


@pytest.mark.parametrize("block", range(len(BLOCKS)))
async def test_spawn_block(block, kube_emulator, test_kubelet, hub_app, tmp_path):
    kind = BLOCKS[block]
    url = f"sqlite:///{tmp_path / 'jhub-managed.sqlite'}"
    SettingsStore(url).save(SETTINGS, author="bench", expected_version=0)
    common = {
        **kube_emulator.spawner_config(),
        **test_kubelet.spawner_config(),
        "start_timeout": 90,
        "http_timeout": 90,
    }
    if kind == "managed":
        spawner_class = ManagedKubeSpawner
        spawner_config = {"ManagedKubeSpawner": common, "ManagedHub": {"db_url": url}}
    else:
        spawner_class = KubeSpawner
        spawner_config = {"KubeSpawner": {**common, "profile_list": SETTINGS["profiles"]}}
    config = {
        "JupyterHub": {
            "spawner_class": spawner_class,
            "cookie_secret_file": str(tmp_path / "cookie_secret"),
        },
        "ConfigurableHTTPProxy": {"pid_file": str(tmp_path / "proxy.pid")},
        **spawner_config,
    }
    app = await hub_app(config)
    add_user(app.db, app, name="admin", admin=True)
    add_user(app.db, app, name="bench")
    await one_spawn(app, "bench")  # warm up: reflectors, imports, caches
    times = [await one_spawn(app, "bench") for _ in range(SPAWNS)]
    out = os.environ["JHM_BENCH_OUT"]
    with open(out, "a") as f:
        f.write(json.dumps({"kind": kind, "times": times}) + "\n")
    await asyncio.sleep(0)


def _fake_user(name: str):
    from types import SimpleNamespace

    return SimpleNamespace(name=name, id=1, url=f"/user/{name}/", admin=False, groups=[])


async def test_spawner_work(kube_emulator, tmp_path):
    """The spawner's own work for one spawn, without the server process: what differs
    between the two classes. Plain: KubeSpawner's profile handling and pod manifest.
    Managed: the same plus reading the store, filtering, validation and attribution."""
    from traitlets.config import Config

    url = f"sqlite:///{tmp_path / 'jhub-managed.sqlite'}"
    SettingsStore(url).save(SETTINGS, author="bench", expected_version=0)
    base = {**kube_emulator.spawner_config(), "cmd": ["jupyterhub-singleuser"]}
    # the hub's one snapshot, as configure() makes it and the hub starts it
    snapshot = SettingsSnapshot(SettingsSource(url), interval=5)
    snapshot.start()
    managed_config = Config(
        {
            "ManagedKubeSpawner": {**base, "settings_snapshot": snapshot},
            "ManagedHub": {"db_url": url},
        }
    )
    plain_config = Config({"KubeSpawner": {**base, "profile_list": SETTINGS["profiles"]}})
    options = {"profile": "small"}

    async def managed():
        spawner = ManagedKubeSpawner(_mock=True, user=_fake_user("bench"), config=managed_config)
        spawner.user_options = options
        await spawner.apply_user_options(spawner, options)
        await spawner.load_user_options()
        await spawner.get_pod_manifest()

    async def plain():
        spawner = KubeSpawner(_mock=True, user=_fake_user("bench"), config=plain_config)
        spawner.user_options = options
        await spawner.load_user_options()
        await spawner.get_pod_manifest()

    times = {"managed": [], "plain": []}
    for _ in range(20):  # warm up
        await managed()
        await plain()
    for _ in range(300):  # interleaved, so drift touches both alike
        for kind, func in (("managed", managed), ("plain", plain)):
            start = time.perf_counter()
            await func()
            times[kind].append(time.perf_counter() - start)
    with open(os.environ["JHM_BENCH_OUT"], "a") as f:
        for kind, values in times.items():
            f.write(json.dumps({"kind": f"work-{kind}", "times": values}) + "\n")
