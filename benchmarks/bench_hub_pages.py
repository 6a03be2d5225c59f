"""The hub's own pages with the suite against a bare hub: ``/hub/home`` and ``/hub/spawn``.

Two real hubs run side by side in one run (subprocesses, asked directly on their own
ports): a bare JupyterHub with a static spawn form, and one wired with ``configure()``
(the demo's settings, with an announcement and branding, so every template variable has
work to do). Both log users in with the same authenticator. Each page is asked for 200 times
per hub, in alternating rounds, once with the suite's store on SQLite and once on
PostgreSQL. The suite's hub counts, with SQLAlchemy's event hooks on its store's engine,
every query run on the hub's event loop (the main thread) and every one run elsewhere (the
snapshot's refresher thread). Target: ratio of medians at most 1.10, and no store query on
the event loop.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from benchmarks.common import summary_ms, write_results

REQUESTS = 200
ROUNDS = 10
PAGES = ("home", "spawn")

COMMON = """
import json, os, sys
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
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = env["JHM_BENCH_PASSWORD"]
c.Authenticator.allow_all = True
"""

BARE = (
    COMMON
    + """
c.JupyterHub.spawner_class = "simple"
c.Spawner.options_form = (
    '<label for="profile">Profile</label><select name="profile" id="profile">'
    '<option value="python">Python</option><option value="classic">Classic</option></select>'
)
"""
)

SUITE = (
    COMMON
    + """
import atexit, threading
from sqlalchemy import event
from jhub_managed.hub import configure
from jhub_managed.hubside.start import on_hub_start

configure(
    c, hub_name="bench", spawner="local", data_dir=data_dir, db_url=env["JHM_BENCH_STORE"],
    hub_values=json.loads(env["JHM_BENCH_SETTINGS"]), services=[], idle_timeout=0,
)
snapshot = c.ManagedLocalSpawner.settings_snapshot
counts = {"event_loop": 0, "other_threads": 0}


def _count(*args):
    on_loop = threading.current_thread() is threading.main_thread()
    counts["event_loop" if on_loop else "other_threads"] += 1


# counted once the hub has started: its start (creating and migrating the store, which
# configure() leaves to the hub's start) is not a render
on_hub_start(c, lambda: event.listen(snapshot.source.store.engine, "before_cursor_execute", _count))


def _write_counts():
    with open(env["JHM_BENCH_COUNTS"], "w") as f:
        json.dump(counts, f)


atexit.register(_write_counts)
"""
)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Hub:
    def __init__(self, tmp: Path, name: str, config: str, extra_env: dict[str, str]):
        self.dir = tmp / name
        self.dir.mkdir()
        self.password = secrets.token_hex(8)
        self.hub_port = _free_port()
        (self.dir / "jupyterhub_config.py").write_text(config)
        env = dict(
            os.environ,
            JHM_BENCH_DATA_DIR=str(self.dir),
            JHM_BENCH_PORT=str(_free_port()),
            JHM_BENCH_HUB_PORT=str(self.hub_port),
            JHM_BENCH_PROXY_API_PORT=str(_free_port()),
            JHM_BENCH_PASSWORD=self.password,
            PATH=os.pathsep.join(
                [
                    str(Path(sys.executable).parent),
                    str(Path(sys.prefix) / "node" / "node_modules" / ".bin"),
                    os.environ.get("PATH", ""),
                ]
            ),
            **extra_env,
        )
        self.log_path = self.dir / "hub.log"
        self.log = open(self.log_path, "wb")  # closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(self.dir / "jupyterhub_config.py")],
            cwd=self.dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.session = requests.Session()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.hub_port}/hub/{path}"

    def wait_and_login(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("a hub exited:\n" + self.log_path.read_text()[-3000:])
            try:
                if self.session.get(self.url("login"), timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.25)
        else:
            raise RuntimeError("a hub did not come up:\n" + self.log_path.read_text()[-3000:])
        r = self.session.post(
            self.url("login"),
            data={
                "username": "alice",
                "password": self.password,
                "_xsrf": self.session.cookies.get("_xsrf", path="/hub/"),
            },
            timeout=30,
            allow_redirects=False,
        )
        assert r.status_code == 302, r.text

    def get(self, page: str) -> float:
        start = time.perf_counter()
        r = self.session.get(self.url(page), timeout=60, allow_redirects=False)
        elapsed = time.perf_counter() - start
        assert r.status_code == 200, (page, r.status_code, r.text[:500])
        return elapsed

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.log.close()


def _postgres_store() -> tuple[str, object] | None:
    """A new PostgreSQL database for the suite's store, and how to drop it; ``None``
    without a server (``$JHUB_MANAGED_TEST_DATABASE_URL`` names one to create it from)."""
    admin_url = os.environ.get("JHUB_MANAGED_TEST_DATABASE_URL")
    if not admin_url:
        return None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"jhm_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND backend_type = 'client backend'"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, drop


def _settings() -> dict:
    from jhub_managed.demo.settings import DEMO_SETTINGS

    settings = copy.deepcopy(DEMO_SETTINGS)
    settings["announcement"] = {
        "text": "Maintenance **tonight** from 20:00",
        "level": "warning",
        "show_on": ["login", "home", "spawn"],
    }
    return settings


def measure(store: str, tmp: Path) -> dict:
    counts_file = tmp / f"counts-{uuid.uuid4().hex[:6]}.json"
    bare = Hub(tmp, f"bare-{uuid.uuid4().hex[:6]}", BARE, {})
    suite = Hub(
        tmp,
        f"suite-{uuid.uuid4().hex[:6]}",
        SUITE,
        {
            "JHM_BENCH_STORE": store,
            "JHM_BENCH_SETTINGS": json.dumps(_settings()),
            "JHM_BENCH_COUNTS": str(counts_file),
        },
    )
    try:
        for hub in (bare, suite):
            hub.wait_and_login()
        for hub in (bare, suite):  # warm up: templates, caches
            for page in PAGES:
                for _ in range(10):
                    hub.get(page)
        times = {(kind, page): [] for kind in ("bare", "suite") for page in PAGES}
        for _ in range(ROUNDS):  # alternating, so a noisy moment touches both hubs
            for page in PAGES:
                for kind, hub in (("bare", bare), ("suite", suite)):
                    times[kind, page] += [hub.get(page) for _ in range(REQUESTS // ROUNDS)]
    finally:
        suite.stop()
        bare.stop()
    counts = json.loads(counts_file.read_text())
    renders = REQUESTS * len(PAGES) + 10 * len(PAGES)
    result = {"store_queries": {**counts, "renders": renders}}
    for page in PAGES:
        suite_times, bare_times = times["suite", page], times["bare", page]
        result[page] = {
            "suite": summary_ms(suite_times),
            "bare": summary_ms(bare_times),
            "ratio_of_medians": round(
                statistics.median(suite_times) / statistics.median(bare_times), 3
            ),
        }
    return result


def main() -> None:
    results: dict = {"requests_per_page": REQUESTS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        results["sqlite"] = measure(f"sqlite:///{tmp_path / 'jhub-managed.sqlite'}", tmp_path)
        postgres = _postgres_store()
        if postgres is not None:
            url, drop = postgres
            try:
                results["postgresql"] = measure(url, tmp_path)
            finally:
                drop()
    stores = [v for k, v in results.items() if k in ("sqlite", "postgresql")]
    results["target"] = "ratio of medians at most 1.10; no store query on the event loop"
    results["met"] = all(
        s[page]["ratio_of_medians"] <= 1.10 and s["store_queries"]["event_loop"] == 0
        for s in stores
        for page in PAGES
    )
    write_results("hub_pages", results)


if __name__ == "__main__":
    main()
