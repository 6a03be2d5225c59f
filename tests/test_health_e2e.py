"""The health service against real hubs (subprocesses with their proxy and services): a hub
whose checks fail at start stays up; faults injected under a running hub turn the probe to
503 naming the check, and back to 200 when they are removed; the deep check passes and
fails naming its step; the probe under load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import kmock
import pytest
from sqlalchemy import inspect, text

from jhub_managed.store import create_engine_for, upgrade

from .fixtures.health_hub import (
    NOBODY_TOKEN,
    OPERATOR_TOKEN,
    HubProcess,
    assert_no_secrets,
    failing,
    fails_with,
    healthy,
    start_hub,
    wait_health,
)
from .fixtures.kube import KubeEmulator, _write_kubeconfig
from .fixtures.processes import free_port
from .fixtures.waiting import wait_until_async

pytestmark = [pytest.mark.e2e]


@contextlib.asynccontextmanager
async def kube_api(port: int):
    """The Kubernetes API emulator on a given port, for as long as the block runs."""
    emulator = KubeEmulator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        emulator.resources.load_bundled()
    async with emulator, kmock.Server(emulator, host="127.0.0.1", port=port):
        try:
            yield emulator
        finally:
            emulator.close_watches()


@pytest.fixture
def hubs():
    started: list[HubProcess] = []
    yield started
    for hub in started:
        hub.stop()


async def test_hub_with_failing_checks_starts_stays_up_and_recovers(tmp_path, hubs):
    """A store without tables, Kubernetes API down: the hub stays up, the probe says 503
    and why, the page 200; then each fault goes and comes back."""
    kube_port = free_port()
    kubeconfig = tmp_path / "kubeconfig"
    _write_kubeconfig(kubeconfig, f"http://127.0.0.1:{kube_port}", "jhub-test")
    store_url = f"sqlite:///{tmp_path / 'hub-data' / 'jhub-managed.sqlite'}"
    hub = await asyncio.to_thread(
        start_hub,
        tmp_path,
        # only the health service, no settings on the hub's pages
        {
            "spawner": "kube",
            "services": ["health"],
            "idle_timeout": 0,
            "db_url": store_url,
            "announcement_in_templates": False,
        },
        extra=f'c.KubeSpawner.k8s_api_host = "http://127.0.0.1:{kube_port}"\n'
        'c.KubeSpawner.namespace = "jhub-test"\n',
        env={"KUBECONFIG": str(kubeconfig)},
    )
    hubs.append(hub)
    # the hub made and migrated its store when it started; now the tables go (a store
    # restored empty, say), and nothing may migrate it again behind the operator's back
    engine = create_engine_for(store_url)
    with engine.begin() as connection:
        for table in inspect(connection).get_table_names():
            connection.execute(text(f'DROP TABLE "{table}"'))
    engine.dispose()

    def store_and_kubernetes_fail(status, body) -> bool:
        # on a busy machine the first rounds may only time out: wait for the reasons
        checks = {c["name"]: c for c in body["checks"]}
        return (
            status == 503
            and "no tables" in checks["settings-store"]["message"]
            and "Kubernetes API does not answer" in checks["spawner-backend"]["message"]
        )

    _, body = await wait_health(hub, store_and_kubernetes_fail, "the store and Kubernetes checks")
    assert {"settings-store", "spawner-backend"} <= failing(body)
    checks = {c["name"]: c for c in body["checks"]}
    assert_no_secrets(hub, json.dumps(body))
    status, _, page = await asyncio.to_thread(hub.get, "services/health/")
    assert status == 200 and b"failing" in page
    status, _, head = await asyncio.to_thread(hub.get, "services/health/api/health", "", "HEAD")
    assert status == 503 and head == b""
    # it stays up: several rounds later the hub and the service still answer
    first = checks["hub-api"]["checked_at"]
    await wait_health(
        hub,
        lambda s, b: next(c for c in b["checks"] if c["name"] == "hub-api")["checked_at"] != first,
        "another round of checks",
    )
    assert hub.process.popen.poll() is None
    assert (await asyncio.to_thread(hub.get, "hub/api/"))[0] == 200

    # the store gets its tables; the Kubernetes API comes up: healthy
    engine = create_engine_for(store_url)
    upgrade(engine)
    engine.dispose()
    async with kube_api(kube_port):
        await wait_health(hub, healthy, "the hub to be healthy")
        message = hub.check("spawner-backend")["message"]
        assert "Kubernetes API answers" in message
    # the emulator stops: 503 naming the check, then 200 when it is back
    stopped = time.monotonic()
    await wait_health(hub, fails_with("spawner-backend"), "the Kubernetes check to fail")
    print(f"Kubernetes API stopped: 503 after {time.monotonic() - stopped:.1f} s (interval 2 s)")
    async with kube_api(kube_port):
        await wait_health(hub, healthy, "the hub to be healthy again")


@contextlib.contextmanager
def small_volume(path: Path, size_mib: int):
    """A tmpfs of ``size_mib`` at ``path`` (needs root), so a test can fill it safely."""
    path.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        path.rmdir()
        pytest.skip(f"a small volume for the disk check needs mount (as root): {result.stderr}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
async def test_data_directory_over_the_disk_threshold_and_back(tmp_path, hubs):
    with small_volume(tmp_path / "volume", 64) as volume:
        data_dir = volume / "data"
        data_dir.mkdir()
        hub = await asyncio.to_thread(
            start_hub,
            tmp_path,
            {"data_dir": str(data_dir), "services": ["health"], "health_min_free_mib": 24},
        )
        hubs.append(hub)
        await wait_health(hub, healthy, "the hub to be healthy")
        ballast = data_dir / "ballast"
        with open(ballast, "wb") as f:
            f.write(b"\0" * (48 * 1024 * 1024))
        await wait_health(hub, fails_with("data-disk"), "the disk check to fail")
        message = hub.check("data-disk")["message"]
        assert "thresholds are" in message and str(data_dir) not in message
        ballast.unlink()
        await wait_health(hub, healthy, "the hub to be healthy once space is freed")
        hub.stop()
        hubs.remove(hub)


SPAWN_MODES = """
import sys
def _spawn_mode(spawner):
    path = os.path.join(data_dir, "spawn-mode")
    mode = open(path).read().strip() if os.path.exists(path) else "ok"
    if mode == "broken":
        spawner.cmd = [os.path.join(data_dir, "no-such-server")]
    elif mode == "never-ready":
        spawner.cmd = [sys.executable, "-c", "import time; time.sleep(600)"]
        spawner.http_timeout = 15
c.Spawner.pre_spawn_hook = _spawn_mode
"""


async def start_deep_check(hub: HubProcess, token: str = OPERATOR_TOKEN) -> tuple[int, dict]:
    status, _, body = await asyncio.to_thread(
        hub.get, "services/health/api/deep-check", token, "POST", {}
    )
    return status, json.loads(body)


async def wait_run(hub: HubProcess, run_id: int) -> dict:
    async def finished() -> dict | None:
        _, _, body = await asyncio.to_thread(
            hub.get, "services/health/api/deep-check", OPERATOR_TOKEN
        )
        return next((run for run in json.loads(body)["runs"] if run["id"] == run_id), None)

    return await wait_until_async(finished, 300, f"deep check {run_id} to finish", interval=1)


async def deep_check(hub: HubProcess) -> dict:
    status, body = await start_deep_check(hub)
    assert status == 202, body
    return await wait_run(hub, body["run"]["id"])


async def test_deep_check_passes_and_fails_naming_the_step(tmp_path, hubs):
    hub = await asyncio.to_thread(
        start_hub,
        tmp_path,
        # a real server may take a minute to start on a busy machine
        {"services": ["health"], "idle_timeout": 0, "health_deep_check_timeout": 240},
        extra=SPAWN_MODES,
    )
    hubs.append(hub)
    await wait_health(hub, healthy, "the hub to be healthy")

    # only the health scope (or admin:servers) may start one
    for token in (NOBODY_TOKEN, ""):
        status, body = await start_deep_check(hub, token)
        assert status == 403, body
        if token:
            assert body["message"].startswith("Running a deep check needs"), body
    assert hub.check("deep-check")["message"] == "no deep check has finished yet"

    # concurrent requests share one run
    answers = await asyncio.gather(*(start_deep_check(hub) for _ in range(3)))
    assert {status for status, _ in answers} == {202}
    assert {body["run"]["id"] for _, body in answers} == {1}
    run = await wait_run(hub, 1)
    assert run["ok"], run
    assert [s["name"] for s in run["steps"]] == ["start", "ready", "kernel", "execute", "stop"]
    await wait_health(hub, lambda s, b: hub.check("deep-check")["ok"], "the entry to pass")
    status, _, metrics = await asyncio.to_thread(hub.get, "services/health/metrics")
    assert b"jhub_managed_health_deep_check_ok 1.0" in metrics

    # the spawner cannot start servers
    (hub.data_dir / "spawn-mode").write_text("broken")
    run = await deep_check(hub)
    assert not run["ok"] and run["failed_step"] == "start", run
    assert str(hub.data_dir) not in run["message"]
    entry = hub.check("deep-check")
    assert not entry["ok"] and "start step" in entry["message"]

    # a server that never becomes ready
    (hub.data_dir / "spawn-mode").write_text("never-ready")
    run = await deep_check(hub)
    assert not run["ok"] and run["failed_step"] == "ready", run
    assert "didn't respond in 15 seconds" in run["message"], run
    # the status page lists the runs with their failing steps
    status, _, page = await asyncio.to_thread(hub.get, "services/health/")
    assert status == 200
    assert page.count(b'class="jhm-deep-run') == 3
    assert b"<td>ready</td>" in page and b"<td>start</td>" in page


LOAD_SCRIPT = Path(__file__).parent.parent / "benchmarks" / "load.py"


async def test_probe_under_load_answers_every_request_without_more_hub_calls(tmp_path, hubs):
    hub = await asyncio.to_thread(
        start_hub, tmp_path, {"services": ["health"], "idle_timeout": 0, "health_interval": 2}
    )
    hubs.append(hub)
    await wait_health(hub, healthy, "the hub to be healthy")

    def hub_calls() -> float:
        _, _, metrics = hub.get("services/health/metrics")
        for line in metrics.decode().splitlines():
            if line.startswith("jhub_managed_health_hub_api_requests_total"):
                return float(line.split()[-1])
        raise AssertionError("no hub API request counter in the metrics")

    before = await asyncio.to_thread(hub_calls)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(LOAD_SCRIPT), hub.url + "services/health/api/health", "200", "10"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    after = await asyncio.to_thread(hub_calls)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    print(f"probe at 200 rps for 10 s: {figures}")
    assert figures["sent"] == 2000
    assert figures["answered"] == figures["sent"], figures
    assert set(figures["statuses"]) <= {"200", "503"}
    # the checks that call the hub make 7 requests a round, one round every 2 s
    rounds = elapsed / 2 + 2
    assert after - before <= 7 * rounds, (after - before, rounds)
