"""The usage service behind a real hub: two users in two groups start and stop servers; the
report and ``/metrics`` show the hours the test measured; who may read what; bad queries;
and crashes (the service killed, the hub killed and restarted, a long outage of the service,
an outage of the store) that lose no session and count none twice.

One JupyterHub per module as a subprocess with the real proxy, the real ``usage`` service
and real single-user servers on the local managed spawner. A test service ``tester`` makes
users, groups, tokens and servers through the hub's REST API, as an operator's script would.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .fixtures.processes import (
    HUB_CONFIG_PREAMBLE,
    Process,
    free_port,
    hub_environment,
    service_process,
)
from .fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e]

POLL = 5
TESTER_TOKEN = secrets.token_hex(16)
PROFILES = [
    {
        "display_name": "Small",
        "slug": "small",
        "default": True,
        "kubespawner_override": {"cpu_guarantee": 0.5, "mem_guarantee": "512M"},
    },
    {
        "display_name": "Lab",
        "slug": "lab",
        "allowed_groups": ["physics"],
        "kubespawner_override": {"cpu_limit": 2, "mem_limit": "2G"},
    },
]
USERS = {"ann": ["physics"], "ben": ["chem"], "fin": ["finance"], "sam": ["staff"], "nobody": []}
HUB_CONFIG = (
    """
import json, os, sys
from jhub_managed.hub import configure

"""
    + HUB_CONFIG_PREAMBLE
    + """# servers outlive a hub restart, as pods do on Kubernetes
c.JupyterHub.cleanup_servers = False
c.JupyterHub.cleanup_proxy = False
c.Authenticator.admin_users = {"admin"}
configure(
    c,
    hub_name="usagetest",
    spawner="local",
    authenticator="demo",
    data_dir=data_dir,
    db_url="sqlite:///" + os.path.join(data_dir, "store", "jhub-managed.sqlite"),
    hub_values={"profiles": json.loads(env["JHM_TEST_PROFILES"])},
    services=["usage"],
    service_ports={"usage": int(env["JHM_TEST_USAGE_PORT"])},
    idle_timeout=0,
    usage_poll_interval=int(env["JHM_TEST_POLL"]),
    usage_report_groups=["finance"],
)
c.ManagedDemoAuthenticator.password = "usage-test-password"
# the users and their groups are in the hub when it starts, before the usage service first
# reads them (it reads them again only every few minutes)
users = json.loads(env["JHM_TEST_USERS"])
c.ManagedDemoAuthenticator.demo_users = {name: {"groups": gs} for name, gs in users.items()}
c.ManagedDemoAuthenticator.manage_groups = False
c.JupyterHub.load_groups = {
    group: {"users": [name for name, gs in users.items() if group in gs]}
    for group in {g for gs in users.values() for g in gs}
}
c.ManagedLocalSpawner.home_dir_template = os.path.join(data_dir, "home", "{username}")
c.Spawner.cmd = [os.path.join(os.path.dirname(sys.executable), "jupyterhub-singleuser")]
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.JupyterHub.services.append({"name": "tester", "api_token": env["JHM_TEST_TESTER_TOKEN"]})
c.JupyterHub.load_roles.append(
    {
        "name": "tester",
        "scopes": ["admin:users", "admin:servers", "admin:groups", "tokens", "list:users"],
        "services": ["tester"],
    }
)
"""
)


@dataclass
class Hub:
    url: str
    tmp: Path
    data_dir: Path
    env: dict
    process: Process | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    generation: int = 0

    def hub_api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method,
            self.url + "hub/api/" + path,
            headers={"Authorization": f"token {TESTER_TOKEN}"},
            timeout=60,
            **kwargs,
        )

    def usage(self, user: str | None, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.tokens[user]}"} if user else {}
        return requests.get(
            self.url + "services/usage/" + path,
            headers=headers,
            timeout=60,
            allow_redirects=False,
            **kwargs,
        )

    def start(self) -> None:
        self.generation += 1
        self.process = Process(
            [sys.executable, "-m", "jupyterhub", "-f", str(self.tmp / "jupyterhub_config.py")],
            self.tmp / f"hub-{self.generation}.log",
            env=self.env,
            cwd=self.data_dir,
        )
        wait_until(self.service_up, 180, "the hub and its usage service to come up")

    def service_up(self) -> bool:
        assert self.process.popen.poll() is None, "the hub exited:\n" + self.process.log()[-5000:]
        try:
            r = requests.get(self.url + "services/usage/api/report", timeout=3)
            return r.status_code == 403 and r.headers["content-type"].startswith("application/json")
        except requests.RequestException:
            return False

    def usage_service(self) -> psutil.Process:
        return service_process(self.process.pid, "usage")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("usage-hub")
    data_dir = tmp / "data"
    (data_dir / "store").mkdir(parents=True)
    (tmp / "jupyterhub_config.py").write_text(HUB_CONFIG)
    port, env = hub_environment(
        data_dir,
        JHM_TEST_USAGE_PORT=str(free_port()),
        JHM_TEST_PROFILES=json.dumps(PROFILES),
        JHM_TEST_USERS=json.dumps(USERS),
        JHM_TEST_POLL=str(POLL),
        JHM_TEST_TESTER_TOKEN=TESTER_TOKEN,
    )
    hub = Hub(url=f"http://127.0.0.1:{port}/", tmp=tmp, data_dir=data_dir, env=env)
    leftovers: list[int] = []
    try:
        hub.start()
        for user in USERS:
            r = hub.hub_api("POST", f"users/{user}")
            assert r.status_code in (201, 409), r.text
        for group in {g for groups in USERS.values() for g in groups}:
            members = [u for u, groups in USERS.items() if group in groups]
            r = hub.hub_api("POST", f"groups/{group}")
            assert r.status_code in (201, 409), r.text  # roles may have made it already
            r = hub.hub_api("POST", f"groups/{group}/users", json={"users": members})
            assert r.status_code == 200, r.text
        r = hub.hub_api("POST", "users/admin")
        for user in [*USERS, "admin"]:
            r = hub.hub_api("POST", f"users/{user}/tokens", json={"note": "usage tests"})
            assert r.status_code == 201, r.text
            hub.tokens[user] = r.json()["token"]
        hub.leftovers = leftovers
        yield hub
    finally:
        for user in USERS:
            try:
                hub.hub_api("DELETE", f"users/{user}/server")
            except requests.RequestException:
                pass
        if hub.process is not None:
            stop_hub(hub)
        for pid in leftovers:
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                pass


def stop_hub(hub: Hub) -> None:
    try:
        children = psutil.Process(hub.process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    hub.process.stop(timeout=30)
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass


def server_model(hub: Hub, user: str) -> dict | None:
    r = hub.hub_api("GET", f"users/{user}")
    assert r.status_code == 200, r.text
    return (r.json().get("servers") or {}).get("")


def hub_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def start_server(hub: Hub, user: str, profile: str) -> float:
    """Start ``user``'s server; the hub's ``started`` time of it."""
    r = hub.hub_api("POST", f"users/{user}/server", json={"profile": profile})
    assert r.status_code in (201, 202), r.text

    def ready() -> bool:
        model = server_model(hub, user)
        return bool(model and model.get("ready"))

    wait_until(ready, 120, f"{user}'s server to be ready")
    return hub_time(server_model(hub, user)["started"])


def stop_server(hub: Hub, user: str) -> tuple[float, float]:
    """Stop ``user``'s server: the times just before the request and once it was gone."""
    before = time.time()
    r = hub.hub_api("DELETE", f"users/{user}/server")
    assert r.status_code in (202, 204), r.text
    wait_until(lambda: server_model(hub, user) is None, 60, f"{user}'s server to stop")
    return before, time.time()


def report_range() -> dict:
    today = datetime.now(timezone.utc).date()
    return {
        "start": (today - timedelta(days=1)).isoformat(),
        "end": (today + timedelta(days=1)).isoformat(),
    }


def report(hub: Hub, group_by: str = "user", user: str = "fin") -> dict:
    r = hub.usage(user, "api/report", params={**report_range(), "group_by": group_by})
    assert r.status_code == 200, r.text
    return r.json()


def row(report_: dict, key: str) -> dict | None:
    return next((r for r in report_["rows"] if r["key"] == key), None)


def metric_samples(hub: Hub, name: str) -> list:
    r = hub.usage("fin", "metrics")
    assert r.status_code == 200, r.text
    return [
        sample
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
        if sample.name == name
    ]


def hours_between(low: float, high: float, hours: float, slack: float = 1.0) -> bool:
    """Whether ``hours`` (rounded to 4 decimals) lies within ``[low, high]`` seconds."""
    return low - slack <= hours * 3600 <= high + slack


# -- two users in two groups ------------------------------------------------------------------


def test_two_users_in_two_groups_show_the_hours_the_test_measured(hub):
    ann_started = start_server(hub, "ann", "lab")
    ben_started = start_server(hub, "ben", "small")

    # while they run: running servers by profile and group
    def running_seen() -> bool:
        samples = metric_samples(hub, "jhub_managed_usage_running_servers")
        seen = {(s.labels["profile"], s.labels["usergroup"]): s.value for s in samples}
        return seen.get(("lab", "physics")) == 1 and seen.get(("small", "chem")) == 1

    wait_until(running_seen, POLL + 30, "both running servers in the metrics")

    # server time the report must show, counted by the service while they run
    def hours_counted() -> dict:
        samples = metric_samples(hub, "jhub_managed_usage_server_hours_total")
        seen = {(s.labels["usergroup"], s.labels["profile"]): s.value * 3600 for s in samples}
        wanted = (("physics", "lab"), ("chem", "small"))
        return seen if all(seen.get(key, 0) >= 2 for key in wanted) else {}

    wait_until(hours_counted, POLL + 30, "2 s of server time of each in the metrics")
    ann_low, ann_high = stop_server(hub, "ann")
    ben_low, ben_high = stop_server(hub, "ben")

    def report_right() -> bool:
        by_group = report(hub, "group")
        physics, chem = row(by_group, "physics"), row(by_group, "chem")
        return (
            physics is not None
            and chem is not None
            and physics["running"] == 0
            and chem["running"] == 0
            and hours_between(ann_low - ann_started, ann_high - ann_started,
                              physics["server_hours"])
            and hours_between(ben_low - ben_started, ben_high - ben_started, chem["server_hours"])
        )  # fmt: skip

    wait_until(report_right, POLL + 30, "the report to show the measured hours")
    by_group = report(hub, "group")
    physics, chem = row(by_group, "physics"), row(by_group, "chem")
    assert physics["sessions"] == chem["sessions"] == 1
    # what the profiles asked for: lab 2 CPUs (limit) and 2 GiB; small 0.5 CPU and 0.5 GiB
    assert physics["cpu_hours"] == pytest.approx(2 * physics["server_hours"], abs=1e-3)
    assert physics["memory_gib_hours"] == pytest.approx(2 * physics["server_hours"], abs=1e-3)
    assert chem["cpu_hours"] == pytest.approx(0.5 * chem["server_hours"], abs=1e-3)
    by_profile = report(hub, "profile")
    assert row(by_profile, "lab")["sessions"] == 1 and row(by_profile, "small")["sessions"] == 1
    csv_text = hub.usage(
        "fin", "api/report", params={**report_range(), "group_by": "group", "format": "csv"}
    ).text
    assert csv_text.splitlines()[0].startswith("group,billable,sessions,server_hours")
    assert any(line.startswith("physics,true,1,") for line in csv_text.splitlines())

    hours = {
        s.labels["usergroup"]: s.value
        for s in metric_samples(hub, "jhub_managed_usage_server_hours_total")
        if s.labels["profile"] in ("lab", "small")
    }
    assert hours_between(ann_low - ann_started, ann_high - ann_started, hours["physics"])
    assert hours_between(ben_low - ben_started, ben_high - ben_started, hours["chem"])

    def groups_seen() -> bool:
        info = {
            (s.labels["username"], s.labels["usergroup"]): s.labels
            for s in metric_samples(hub, "jupyterhub_user_group_info")
        }
        return ("ann", "physics") in info and ("nobody", "none") in info

    wait_until(groups_seen, POLL + 30, "every user's groups in jupyterhub_user_group_info")
    info = metric_samples(hub, "jupyterhub_user_group_info")
    ann = next(s for s in info if s.labels["username"] == "ann")
    assert ann.labels == {
        "namespace": "usagetest",
        "usergroup": "physics",
        "username": "ann",
        "username_escaped": "ann",
        "username_safe": "ann",
    }
    assert ann.value == 1


def test_own_use_needs_only_a_login(hub):
    r = hub.usage("ann", "api/me")
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["user"] == "ann" and mine["groups"] == ["physics"]
    assert mine["this_month"]["sessions"] >= 1 or mine["last_month"]["sessions"] >= 1
    assert hub.usage(None, "api/me").status_code == 403


def test_without_the_usage_report_scope_reports_and_metrics_are_refused(hub):
    for user in ("ann", "nobody", "sam"):
        for path in ("api/report", "metrics"):
            r = hub.usage(user, path)
            assert r.status_code == 403, (user, path, r.status_code)
            assert "custom:jhub-managed:usage-reports" in r.json()["message"]
    assert hub.usage(None, "metrics").status_code == 403
    assert hub.usage(None, "api/report").status_code == 403


def store_rows(hub: Hub) -> list[tuple]:
    import sqlite3

    connection = sqlite3.connect(hub.data_dir / "store" / "jhub-managed.sqlite")
    try:
        return connection.execute(
            "SELECT id, user_name, started_at, stopped_at, stop_source FROM jhm_usage_sessions "
            "ORDER BY id"
        ).fetchall()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "params, words",
    [
        ({"start": "2026-02-30"}, "'start' must be a date"),
        ({"start": "2026-11-10", "end": "2026-11-01"}, "before 'start'"),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "at most 400 days"),
        ({"group_by": "planet"}, "'group_by'"),
        ({"format": "pdf"}, "'format'"),
        ({"start": "<script>"}, "must be a date"),
    ],
)
def test_bad_report_queries_get_400_with_the_reason_and_change_nothing(hub, params, words):
    before_rows, before_report = store_rows(hub), report(hub, "group")
    r = hub.usage("fin", "api/report", params=params)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    errors = r.json()["errors"]
    assert any(words in e for e in errors), errors
    assert "<script>" not in r.text or "\\u003c" in r.text or r.json()
    assert store_rows(hub) == before_rows
    after_report = report(hub, "group")
    assert after_report["rows"] == before_report["rows"]


def test_a_long_bad_argument_is_answered_shortly(hub):
    r = hub.usage("fin", "api/report", params={"group_by": "x" * 5000})
    assert r.status_code == 400
    assert len(r.text) < 500


# -- crashes: nothing lost, nothing twice ------------------------------------------------------


def sessions_of(hub: Hub, user: str) -> list[dict]:
    return [
        {"started_at": s, "stopped_at": e, "stop_source": src}
        for _, name, s, e, src in store_rows(hub)
        if name == user
    ]


def expect_one_exact_session(hub: Hub, user: str, started: float, low: float, high: float):
    """The report and the store hold exactly this session, with its exact stop."""

    def right() -> bool:
        mine = row(report(hub), user)
        return (
            mine is not None
            and mine["running"] == 0
            and hours_between(low - started, high - started, mine["server_hours"])
        )

    wait_until(right, POLL + 60, f"the report to show {user}'s one session")
    [session] = sessions_of(hub, user)
    assert session["stop_source"] == "spawner"
    assert session["started_at"] == pytest.approx(started, abs=0.01)
    assert low - 0.01 <= session["stopped_at"] <= high + 0.01
    assert row(report(hub), user)["sessions"] == 1


def test_the_service_killed_mid_session_is_restarted_and_loses_nothing(hub):
    started = start_server_for(hub, "fin")
    service = hub.usage_service()
    service.send_signal(signal.SIGKILL)
    service.wait(timeout=30)
    low, high = stop_server(hub, "fin")  # while the service is down

    def restarted() -> bool:
        try:
            return hub.usage_service().pid != service.pid and hub.service_up()
        except AssertionError:
            return False

    wait_until(restarted, 120, "the hub to restart the usage service")
    expect_one_exact_session(hub, "fin", started, low, high)


def start_server_for(hub: Hub, user: str) -> float:
    return start_server(hub, user, "small")


def test_the_hub_killed_and_restarted_keeps_the_session_whole(hub):
    started = start_server_for(hub, "nobody")
    # the hub's pod dies: the hub, its proxy and its services, at once
    doomed = [hub.process.pid] + [c.pid for c in psutil.Process(hub.process.pid).children()]
    singleuser = [
        c.pid
        for c in psutil.Process(hub.process.pid).children(recursive=True)
        if "singleuser" in " ".join(c.cmdline())
    ]
    for pid in doomed:
        if pid not in singleuser:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    hub.process.popen.wait(timeout=30)
    hub.leftovers.extend(singleuser)
    hub.start()
    assert server_model(hub, "nobody") is not None, "the server did not outlive the hub"
    low, high = stop_server(hub, "nobody")
    expect_one_exact_session(hub, "nobody", started, low, high)


def test_an_outage_of_the_service_longer_than_a_session_loses_nothing(hub):
    service = hub.usage_service()
    service.suspend()  # the service hangs: nobody polls, nobody answers
    try:
        started = start_server_for(hub, "sam")
        # the spawner writes the start itself, the service down or not
        wait_until(lambda: sessions_of(hub, "sam"), 60, "sam's session in the store")
        low, high = stop_server(hub, "sam")
        assert service.status() == psutil.STATUS_STOPPED  # it saw nothing of the session
    finally:
        resumed = time.time()
        service.resume()

    # once the service polled the hub again, the session is still the one the spawner wrote
    def polled_again() -> list:
        samples = metric_samples(hub, "jhub_managed_usage_last_poll_timestamp_seconds")
        return [s.value for s in samples if s.value > resumed]

    wait_until(polled_again, POLL + 60, "the service's first poll after the outage")
    expect_one_exact_session(hub, "sam", started, low, high)
    # sam is staff: kept out of billing, shown apart
    mine = row(report(hub), "sam")
    assert mine["billable"] is False
    by_group = report(hub, "group")
    assert row(by_group, "staff")["billable"] is False
    assert by_group["not_billable"]["sessions"] >= 1
