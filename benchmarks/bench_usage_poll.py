"""One poll of the usage collector against a real hub with 2,000 running servers.

The hub (a subprocess, with its real proxy) starts on a database in which 2,000 users have a
server recorded as running; a spawner that starts no processes answers that they still run,
and one small HTTP server answers for all of them, so the hub takes them for running (this
benchmark's only stand-in: 2,000 real servers do not fit on the machine). The collector
runs in this process against its own SQLite store, exactly as the usage service runs it,
with the usage service's scopes.

Measured in one run: the collector's CPU time per poll (the first poll opens 2,000
sessions; the next ones update them), the hub's CPU time during it, and the latency of a
cheap authenticated hub API request made by another process in a loop, while no poll runs
and while polls run back to back.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.common import summary_ms, write_results

SERVERS = 2000
PROBE_SECONDS = 20
POLLS = 5

HUB_CONFIG = """
import os
from jupyterhub.spawner import Spawner

class StillRunning(Spawner):
    # servers recorded as running: poll says so, nothing is started
    async def start(self):
        return os.environ["JHM_BENCH_DUMMY_URL"]
    async def stop(self, now=False):
        return None
    async def poll(self):
        return None

c = get_config()  # noqa
env = os.environ
data = env["JHM_BENCH_DATA"]
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(env["JHM_BENCH_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["JHM_BENCH_HUB_PORT"])
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:" + env["JHM_BENCH_PROXY_API_PORT"]
c.ConfigurableHTTPProxy.pid_file = os.path.join(data, "proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(data, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(data, "cookie_secret")
c.JupyterHub.spawner_class = StillRunning
c.JupyterHub.cleanup_servers = False
c.JupyterHub.init_spawners_timeout = 1
c.JupyterHub.last_activity_interval = 3600
c.JupyterHub.services = [
    {"name": "usage-bench", "api_token": env["JHM_BENCH_TOKEN"]},
    {"name": "probe", "api_token": env["JHM_BENCH_PROBE_TOKEN"]},
]
c.JupyterHub.load_roles = [
    {"name": "usage-bench", "scopes": env["JHM_BENCH_SCOPES"].split(","),
     "services": ["usage-bench"]},
    {"name": "probe", "scopes": ["read:users:name!user=user00001"], "services": ["probe"]},
]
"""

PROBE = """
import json, sys, time, urllib.request
url, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
request = urllib.request.Request(url, headers={"Authorization": "token " + token})
end = time.monotonic() + seconds
times = []
while time.monotonic() < end:
    start = time.perf_counter()
    urllib.request.urlopen(request, timeout=60).read()
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_database(path: Path, dummy_port: int) -> None:
    """2,000 users with a server the hub's database records as running."""
    from jupyterhub import orm

    db = orm.new_session_factory(f"sqlite:///{path}")()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for i in range(SERVERS):
        user = orm.User(name=f"user{i:05d}")
        db.add(user)
        server = orm.Server(ip="127.0.0.1", port=dummy_port, base_url=f"/user/{user.name}/")
        db.add(server)
        spawner = orm.Spawner(user=user, name="", server=server, started=now, last_activity=now)
        spawner.user_options = {"profile": "small"}
        db.add(spawner)
    db.commit()
    db.close()


def dummy_server(port: int) -> subprocess.Popen:
    code = (
        "import http.server, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'ok')\n"
        "    def log_message(self, *a): pass\n"
        f"http.server.ThreadingHTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def probe(hub_url: str, token: str, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PROBE, hub_url + "hub/api/users/user00001", token, str(seconds)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )


def main() -> None:
    import urllib.request

    import psutil

    from jhub_managed.hub import SERVICE_SCOPES
    from jhub_managed.services.hubapi import HubAPI
    from jhub_managed.services.usage.collector import Collector
    from jhub_managed.store import create_engine_for, upgrade
    from jhub_managed.store.usage import UsageRecorder

    token, probe_token = secrets.token_hex(16), secrets.token_hex(16)
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dummy_port, port = free_port(), free_port()
        processes.append(dummy_server(dummy_port))
        make_database(tmp / "jupyterhub.sqlite", dummy_port)
        (tmp / "jupyterhub_config.py").write_text(HUB_CONFIG)
        env = dict(
            os.environ,
            JHM_BENCH_DATA=str(tmp),
            JHM_BENCH_PORT=str(port),
            JHM_BENCH_HUB_PORT=str(free_port()),
            JHM_BENCH_PROXY_API_PORT=str(free_port()),
            JHM_BENCH_DUMMY_URL=f"http://127.0.0.1:{dummy_port}",
            JHM_BENCH_TOKEN=token,
            JHM_BENCH_PROBE_TOKEN=probe_token,
            JHM_BENCH_SCOPES=",".join(SERVICE_SCOPES["usage"]),
        )
        log = open(tmp / "hub.log", "wb")
        hub = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(tmp / "jupyterhub_config.py")],
            env=env,
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(hub)
        hub_url = f"http://127.0.0.1:{port}/"
        api = HubAPI(api_url=hub_url + "hub/api", token=token)
        try:
            deadline = time.monotonic() + 600
            while True:
                assert hub.poll() is None, (tmp / "hub.log").read_text()[-3000:]
                try:
                    request = urllib.request.Request(  # noqa: S310 - our own http URL
                        hub_url + "hub/api/users?state=active&limit=1",
                        headers={"Authorization": f"token {token}"},
                    )
                    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
                        if r.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "the hub did not come up"
                time.sleep(1)
            engine = create_engine_for(f"sqlite:///{tmp / 'store.sqlite'}")
            upgrade(engine)
            collector = Collector(api, UsageRecorder(engine), lambda: [])
            hub_ps = psutil.Process(hub.pid)

            async def running() -> int:
                users = await api.get_all("users", {"state": "active"})
                return sum(len(u.get("servers") or {}) for u in users)

            seen = asyncio.run(running())
            while seen < SERVERS and time.monotonic() < deadline:
                time.sleep(5)  # the hub checks each recorded server at start
                seen = asyncio.run(running())
            # without polls
            quiet = probe(hub_url, probe_token, PROBE_SECONDS)
            processes.append(quiet)
            quiet_times = json.loads(quiet.communicate(timeout=PROBE_SECONDS + 120)[0])
            # with polls back to back
            loud = probe(hub_url, probe_token, PROBE_SECONDS)
            processes.append(loud)
            polls = []

            async def poll_loop():
                end = time.monotonic() + PROBE_SECONDS
                while time.monotonic() < end or len(polls) < 2:
                    cpu, hub_cpu = time.process_time(), sum(hub_ps.cpu_times()[:2])
                    wall = time.perf_counter()
                    result = await collector.poll_once()
                    polls.append(
                        {
                            "wall_s": round(time.perf_counter() - wall, 3),
                            "collector_cpu_s": round(time.process_time() - cpu, 3),
                            "hub_cpu_s": round(sum(hub_ps.cpu_times()[:2]) - hub_cpu, 3),
                            "opened": result.opened,
                            "updated": result.updated,
                        }
                    )

            asyncio.run(poll_loop())
            loud_times = json.loads(loud.communicate(timeout=PROBE_SECONDS + 120)[0])
            collector._writer.shutdown()
            engine.dispose()
        finally:
            for process in reversed(processes):
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        os.killpg(process.pid, signal.SIGKILL)
            log.close()
    steady = polls[1:]
    results = {
        "servers_running": seen,
        "first_poll": polls[0],
        "steady_polls": steady,
        "steady_collector_cpu_s_median": sorted(p["collector_cpu_s"] for p in steady)[
            len(steady) // 2
        ],
        "hub_request_without_poll": summary_ms(quiet_times),
        "hub_request_during_polls": summary_ms(loud_times),
    }
    results["latency_ratio_p50"] = round(
        results["hub_request_during_polls"]["median_ms"]
        / results["hub_request_without_poll"]["median_ms"],
        2,
    )
    write_results("usage_poll", results)


if __name__ == "__main__":
    main()
