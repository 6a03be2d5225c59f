"""The settings API under load: 200 profiles, 20 concurrent clients.

A real hub (subprocess, with its proxy) runs the real settings service, subclassed here only
to add one bare ``HubOAuthenticated`` route that answers the caller's name: the floor of any
authenticated request to that service. Clients authenticate with a token (of a service that
holds the settings scope) and talk to the service's port directly, so the figures are the
service's own.

Measured in one run: ``GET /api/settings`` (the resolved settings, ~250 kB of JSON), the bare
route, and ``PUT /api/settings`` of the whole document, each client first reading the ETag
and saving with it (some of those saves find that another client saved first: 409, counted
apart). Target: GET p50 at most 2x the bare route's p50.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.bench_profiles import make_settings
from benchmarks.common import summary_ms, write_results

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 20
GET_REQUESTS = 2000
ROUNDS = 5
PUT_REQUESTS = 200
SEQUENTIAL_PUTS = 40
WARMUP = 200
BENCH_TOKEN_ENV = "JHM_BENCH_TOKEN"

HUB_CONFIG = """
import json, os, sys
from jhub_managed.hub import SETTINGS_SCOPE, configure

c = get_config()  # noqa
env = os.environ
data_dir = env["JHM_BENCH_DATA_DIR"]
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(env["JHM_BENCH_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["JHM_BENCH_HUB_PORT"])
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:" + env["JHM_BENCH_PROXY_API_PORT"]
c.ConfigurableHTTPProxy.pid_file = os.path.join(data_dir, "proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(data_dir, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(data_dir, "cookie_secret")
configure(
    c, hub_name="bench", spawner="local", authenticator="demo", data_dir=data_dir,
    services=["config"], idle_timeout=0,
    service_ports={"config": int(env["JHM_BENCH_SERVICE_PORT"])},
)
c.ManagedDemoAuthenticator.password = env["JHM_BENCH_PASSWORD"]
for service in c.JupyterHub.services:
    if service["name"] == "config":
        # the real service, with one bare route added (see BenchConfigService)
        service["command"] = [
            sys.executable, "-c",
            "import sys; sys.path.insert(0, %r); "
            "from benchmarks.bench_settings_api import BenchConfigService; "
            "BenchConfigService.launch(sys.argv[1:])" % env["JHM_BENCH_ROOT"],
            *service["command"][3:],
        ]
        service["environment"]["JHM_BENCH_ROOT"] = env["JHM_BENCH_ROOT"]
c.JupyterHub.services.append({"name": "bench-client", "api_token": env["JHM_BENCH_TOKEN"]})
c.JupyterHub.load_roles.append(
    {
        "name": "bench-client",
        "scopes": [SETTINGS_SCOPE, "access:services!service=config"],
        "services": ["bench-client"],
    }
)
"""


def _bench_service_class():
    from jupyterhub.services.auth import HubOAuthenticated
    from tornado import web

    from jhub_managed.services.config.app import ConfigService

    class BareHandler(HubOAuthenticated, web.RequestHandler):
        """The floor: HubOAuth identifies the caller, nothing else happens."""

        @web.authenticated
        def get(self):
            self.write({"name": self.current_user["name"]})

    class BenchConfigService(ConfigService):
        def handlers(self):
            return [("bench/bare", BareHandler), *super().handlers()]

    return BenchConfigService


def __getattr__(name: str):
    # the service process imports the subclass by name; the benchmark itself doesn't need it
    if name == "BenchConfigService":
        return _bench_service_class()
    raise AttributeError(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http, loopback
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


class Hub:
    def __init__(self, tmp: Path):
        self.data_dir = tmp / "data"
        self.data_dir.mkdir()
        self.token = secrets.token_hex(16)
        self.port, self.service_port = _free_port(), _free_port()
        (tmp / "jupyterhub_config.py").write_text(HUB_CONFIG)
        env = dict(
            os.environ,
            JHM_BENCH_DATA_DIR=str(self.data_dir),
            JHM_BENCH_PORT=str(self.port),
            JHM_BENCH_HUB_PORT=str(_free_port()),
            JHM_BENCH_PROXY_API_PORT=str(_free_port()),
            JHM_BENCH_SERVICE_PORT=str(self.service_port),
            JHM_BENCH_PASSWORD=secrets.token_hex(8),
            JHM_BENCH_TOKEN=self.token,
            JHM_BENCH_ROOT=str(ROOT),
            PATH=os.pathsep.join(
                [
                    str(Path(sys.executable).parent),
                    str(Path(sys.prefix) / "node" / "node_modules" / ".bin"),
                    os.environ.get("PATH", ""),
                ]
            ),
        )
        self.log = open(tmp / "hub.log", "wb")  # closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(tmp / "jupyterhub_config.py")],
            cwd=self.data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log_path = tmp / "hub.log"

    @property
    def service(self) -> str:
        return f"http://127.0.0.1:{self.service_port}/services/config/"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def wait(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the hub exited:\n" + self.log_path.read_text()[-3000:])
            if _status(self.service + "bench/bare", self.headers) == 200:
                return
            time.sleep(0.25)
        raise RuntimeError("the hub did not come up:\n" + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        # the proxy runs in a session of its own: a hub that had to be killed leaves it behind
        pid_file = Path(self.data_dir) / "proxy.pid"
        try:
            pid = int(pid_file.read_text().strip())
            if b"configurable-http-proxy" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            pass  # no pid file, or the proxy is gone already
        self.log.close()


async def load(
    session, requests_total: int, one_request, concurrency: int = CONCURRENCY
) -> tuple[list[float], collections.Counter]:
    """``requests_total`` calls of ``one_request(session) -> (seconds, status)`` from
    ``concurrency`` clients at once."""
    times: list[float] = []
    statuses: collections.Counter = collections.Counter()
    remaining = requests_total

    async def client():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            seconds, status = await one_request(session)
            times.append(seconds)
            statuses[status] += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return times, statuses


async def measure(hub: Hub) -> dict:
    import aiohttp

    headers = hub.headers
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        def timed_get(url: str):
            async def one(session):
                start = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                return time.perf_counter() - start, response.status

            return one

        bare = timed_get(hub.service + "bench/bare")
        get = timed_get(hub.service + "api/settings")
        put_status: collections.Counter = collections.Counter()
        put_times: dict[int, list[float]] = collections.defaultdict(list)

        # the whole document, serialised once: the clients' own JSON work would otherwise
        # land in each other's timings (they share one event loop)
        async with session.get(hub.service + "api/settings") as response:
            document = (await response.json())["settings"]
        document["announcement"] = {"text": "saved by the benchmark"}
        payload = json.dumps({"settings": document, "comment": "benchmark"}).encode()

        async def put(session):
            async with session.get(hub.service + "api/settings") as response:
                etag = response.headers["ETag"]
                await response.read()
            start = time.perf_counter()
            async with session.put(
                hub.service + "api/settings",
                data=payload,
                headers={"If-Match": etag, "Content-Type": "application/json"},
            ) as response:
                await response.read()
            seconds = time.perf_counter() - start
            put_times[response.status].append(seconds)
            put_status[response.status] += 1
            return seconds, response.status

        await load(session, WARMUP, bare)
        await load(session, WARMUP, get)
        # bare and GET alternate in rounds, so a noisy moment doesn't land on one of them
        bare_times, get_times = [], []
        for _ in range(ROUNDS):
            times, statuses = await load(session, GET_REQUESTS // ROUNDS, bare)
            assert set(statuses) == {200}, statuses
            bare_times += times
            times, statuses = await load(session, GET_REQUESTS // ROUNDS, get)
            assert set(statuses) == {200}, statuses
            get_times += times
        _, statuses = await load(session, PUT_REQUESTS, put)
        assert set(statuses) <= {200, 409}, statuses
        concurrent_saved = summary_ms(put_times[200]) if put_times[200] else None
        concurrent_conflict = summary_ms(put_times[409]) if put_times[409] else None
        concurrent_statuses = {str(k): v for k, v in sorted(put_status.items())}
        # one person saving: each save starts from the version the last one made
        put_times.clear()
        put_status.clear()
        _, statuses = await load(session, SEQUENTIAL_PUTS, put, concurrency=1)
        assert set(statuses) == {200}, statuses
        sequential = summary_ms(put_times[200])
        size = len(payload)
    get_summary, bare_summary = summary_ms(get_times), summary_ms(bare_times)
    ratio = round(get_summary["median_ms"] / bare_summary["median_ms"], 2)
    return {
        "profiles": len(make_settings(random.Random(42))["profiles"]),
        "put_body_bytes": size,
        "concurrency": CONCURRENCY,
        "get_settings": get_summary,
        "bare_huboauth_handler": bare_summary,
        "get_to_bare_p50_ratio": ratio,
        "put_settings_saved": concurrent_saved,
        "put_settings_conflict_409": concurrent_conflict,
        "put_statuses": concurrent_statuses,
        "put_settings_one_client": sequential,
        "target": "GET p50 at most 2x the bare HubOAuthenticated handler's p50; "
        "PUT p50 of one client at most 100 ms",
        "met": ratio <= 2 and sequential["median_ms"] <= 100,
    }


def main() -> None:
    from jhub_managed.store import SettingsStore

    with tempfile.TemporaryDirectory() as tmp:
        hub = Hub(Path(tmp))
        try:
            store = SettingsStore("sqlite:///" + str(hub.data_dir / "jhub-managed.sqlite"))
            store.save(make_settings(random.Random(42)), author="bench", expected_version=0)
            store.dispose()
            hub.wait()
            results = asyncio.run(measure(hub))
        finally:
            hub.stop()
    write_results("settings_api", results)


if __name__ == "__main__":
    main()
