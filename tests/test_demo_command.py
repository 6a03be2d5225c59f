"""`jhub-managed demo` as a user runs it: clear one-line refusals, and a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import psutil
import pytest
import requests

from .fixtures.demo import start_demo
from .fixtures.processes import descendants, free_port
from .fixtures.waiting import wait_until

pytestmark = pytest.mark.e2e


def run_demo(args: list[str], env: dict | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "jhub_managed.cli", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or dict(os.environ, JHUB_MANAGED_DEMO_PASSWORD="x"),
    )


def one_line_error(result) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_help_explains_itself():
    out = subprocess.run(
        [sys.executable, "-m", "jhub_managed.cli", "demo", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for words in ("--port", "--ip", "--data-dir", "alice", "JHUB_MANAGED_DEMO_PASSWORD"):
        assert words in out


def test_busy_port_is_one_clear_line(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        line = one_line_error(run_demo([f"--port={port}", f"--data-dir={tmp_path}"]))
    assert f"can't listen on 127.0.0.1:{port}" in line and "--port" in line


def test_missing_proxy_is_one_clear_line(tmp_path):
    # a PATH with python but without configurable-http-proxy, and a python whose prefix
    # has none either
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
        check=True,
    )
    pth = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (pth / "site-packages").mkdir(parents=True, exist_ok=True)
    (pth / "site-packages" / "venv-paths.pth").write_text("\n".join(sys.path[1:]))
    env = dict(os.environ, PATH="/usr/bin:/bin", JHUB_MANAGED_DEMO_PASSWORD="x")
    result = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "jhub_managed.cli",
            "demo",
            f"--port={free_port()}",
            f"--data-dir={tmp_path / 'data'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert "configurable-http-proxy was not found" in one_line_error(result)


def test_broken_config_is_one_clear_line(tmp_path):
    broken = tmp_path / "broken_config.py"
    broken.write_text("from jhub_managed.hub import configure\nconfigure(c, spawner='docker')\n")
    result = run_demo(
        [f"--port={free_port()}", f"--data-dir={tmp_path / 'data'}", f"--config={broken}"],
        timeout=120,
    )
    line = one_line_error(result)
    assert "spawner 'docker' is not one of kube, local" in line
    assert "hub.log" in line


def login_session(hub, username: str) -> requests.Session:
    """A logged-in session through the hub's own login form (cookies and XSRF)."""
    session = requests.Session()
    session.get(hub.hub_url("login")).raise_for_status()
    r = session.post(
        hub.hub_url("login"),
        data={"username": username, "password": hub.password, "_xsrf": session.cookies["_xsrf"]},
    )
    r.raise_for_status()
    assert "/hub/login" not in r.url, "login failed"
    return session


def test_ctrl_c_stops_hub_proxy_services_and_servers(tmp_path):
    hub = start_demo(tmp_path)
    try:
        session = login_session(hub, "alice")
        r = session.post(
            hub.hub_url("api/users/alice/server"),
            json={"profile": "python"},
            headers={"X-XSRFToken": session.cookies["_xsrf"]},
        )
        assert r.status_code in (201, 202), r.text

        def server_ready() -> bool:
            r = session.get(
                hub.hub_url("api/users/alice"), headers={"X-XSRFToken": session.cookies["_xsrf"]}
            )
            return bool(r.json().get("servers", {}).get("", {}).get("ready"))

        wait_until(server_ready, 60, "alice's server to start")
        tree = descendants(hub.process.pid)
        names = " ".join(" ".join(p.cmdline()) for p in tree)
        assert "jupyterhub" in names and "configurable-http-proxy" in names
        assert "jhub_managed.services.health" in names
        assert "jupyterhub-singleuser" in names
        pids = [p.pid for p in tree] + [hub.process.pid]
        hub.process.signal(signal.SIGINT)

        def all_gone() -> bool:
            return not any(
                psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                for pid in pids
            )

        wait_until(all_gone, 30, "the hub, proxy, services and servers to stop after Ctrl-C")
    finally:
        hub.process.stop()
