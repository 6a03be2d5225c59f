"""Start of each service to its first 200 answer, against a bare HubOAuth tornado app.

One real hub knows the services (``config``, ``usage``, ``health``) and the baseline
(``bare``, see ``bare_service.py``) as external services with their own tokens and roles;
the benchmark starts each one itself, as the hub would (``python -m ... --ip --port``, with
the environment the hub gives it), and asks one route with a token every 20 ms until it
answers 200: ``config`` its settings API, ``usage`` its front page, ``health`` its health
API, ``bare`` its one route. The four start in turn, ROUNDS times. Target: each service's
median at most 1.5 s above the bare app's.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from benchmarks.bench_hub_pages import COMMON, Hub, _free_port
from benchmarks.common import write_results
from jhub_managed.scopes import SETTINGS_SCOPE

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5
NAMES = ("bare", "config", "usage", "health")
ROUTES = {
    "bare": "",
    "config": "api/settings",
    "usage": "",
    "health": "",  # the status page answers 200 whatever the checks say
}

HUB = (
    COMMON
    + """
from jhub_managed.hub import SERVICE_SCOPES, SETTINGS_SCOPE, ManagedHub, configure

hub = configure(
    c, hub_name="bench", spawner="local", data_dir=data_dir, services=[], idle_timeout=0
)
ports = json.loads(env["JHM_BENCH_SERVICE_PORTS"])
tokens = json.loads(env["JHM_BENCH_SERVICE_TOKENS"])
services = list(c.JupyterHub.services)
roles = list(c.JupyterHub.load_roles)
for name, port in ports.items():
    service = {"name": name, "url": f"http://127.0.0.1:{port}", "api_token": tokens[name],
               "oauth_no_confirm": True}
    if name == "config":
        service["oauth_client_allowed_scopes"] = [SETTINGS_SCOPE]
    services.append(service)
    if name in SERVICE_SCOPES:
        roles.append({"name": f"bench-{name}", "scopes": SERVICE_SCOPES[name],
                      "services": [name]})
services.append({"name": "bench-client", "api_token": env["JHM_BENCH_CLIENT_TOKEN"]})
roles.append({
    "name": "bench-client",
    "scopes": [SETTINGS_SCOPE, "access:services", "admin:users", "tokens", "read:users",
               "read:servers"],
    "services": ["bench-client"],
})
c.JupyterHub.services = services
c.JupyterHub.load_roles = roles
c.Authenticator.admin_users = {"alice"}
with open(os.path.join(data_dir, "service-env.json"), "w") as f:
    json.dump(hub.service_environment(), f)
"""
)


def start_one(name: str, hub: Hub, port: int, token: str, user_token: str, env: dict) -> float:
    prefix = f"/services/{name}/"
    module = "benchmarks.bare_service" if name == "bare" else f"jhub_managed.services.{name}"
    service_env = dict(
        env,
        JUPYTERHUB_API_TOKEN=token,
        JUPYTERHUB_API_URL=f"http://127.0.0.1:{hub.hub_port}/hub/api",
        JUPYTERHUB_BASE_URL="/",
        JUPYTERHUB_SERVICE_NAME=name,
        JUPYTERHUB_SERVICE_PREFIX=prefix,
        JUPYTERHUB_SERVICE_URL=f"http://127.0.0.1:{port}",
        JUPYTERHUB_CLIENT_ID=f"service-{name}",
        JUPYTERHUB_OAUTH_CALLBACK_URL=f"{prefix}oauth_callback",
        PYTHONPATH=str(ROOT),
    )
    url = f"http://127.0.0.1:{port}{prefix}{ROUTES[name]}"
    headers = {"Authorization": f"token {user_token}"}
    log = open(hub.dir / f"{name}.log", "ab")
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--ip=127.0.0.1", f"--port={port}"],
        cwd=hub.dir,
        env=service_env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = start + 120
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n" + (hub.dir / f"{name}.log").read_text())
            try:
                if requests.get(url, headers=headers, timeout=5).status_code == 200:
                    return time.perf_counter() - start
            except requests.RequestException:
                pass
            time.sleep(0.02)
        log_text = (hub.dir / f"{name}.log").read_text()
        raise RuntimeError(f"{name} gave no 200 in 120 s:\n" + log_text)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        log.close()


def main() -> None:
    ports = {name: _free_port() for name in NAMES}
    tokens = {name: secrets.token_hex(16) for name in NAMES}
    client = secrets.token_hex(16)
    times: dict[str, list[float]] = {name: [] for name in NAMES}
    with tempfile.TemporaryDirectory() as tmp:
        hub = Hub(
            Path(tmp),
            "hub",
            HUB,
            {
                "JHM_BENCH_SERVICE_PORTS": json.dumps(ports),
                "JHM_BENCH_SERVICE_TOKENS": json.dumps(tokens),
                "JHM_BENCH_CLIENT_TOKEN": client,
            },
        )
        try:
            hub.wait_and_login()  # alice (an admin) exists from here on
            api = f"http://127.0.0.1:{hub.hub_port}/hub/api/"
            auth = {"Authorization": f"token {client}"}
            r = requests.post(
                api + "users/alice/tokens",
                headers=auth,
                # reading the settings needs the settings scope on the token, admin or not
                json={"scopes": ["access:services", "read:users!user=alice", SETTINGS_SCOPE]},
                timeout=30,
            )
            assert r.status_code == 201, r.text
            user_token = r.json()["token"]
            env = {**os.environ, **json.loads((hub.dir / "service-env.json").read_text())}
            for name in NAMES:  # warm up: the operating system's file cache, the store
                start_one(name, hub, ports[name], tokens[name], user_token, env)
            for _ in range(ROUNDS):
                for name in NAMES:
                    times[name].append(
                        start_one(name, hub, ports[name], tokens[name], user_token, env)
                    )
        finally:
            hub.stop()
    bare = statistics.median(times["bare"])
    results = {
        "rounds": ROUNDS,
        "median_s": {name: round(statistics.median(v), 3) for name, v in times.items()},
        "all_s": {name: [round(t, 3) for t in v] for name, v in times.items()},
        "above_bare_s": {
            name: round(statistics.median(v) - bare, 3)
            for name, v in times.items()
            if name != "bare"
        },
        "target": "each service's median at most 1.5 s above the bare HubOAuth app's",
    }
    results["met"] = all(delta <= 1.5 for delta in results["above_bare_s"].values())
    write_results("service_start", results)


if __name__ == "__main__":
    main()
