"""``fleet deploy``, ``fleet status`` and ``fleet report`` against real hubs standing in for
the fleet's URLs.

Two real demo hubs (``jhub-managed demo``: real JupyterHub, proxy and services, a real server
running for ``alice`` on each) answer for ``physics-course`` and ``genomics-research``;
``summer-workshop`` points at a socket that takes connections and never answers: a hub that
is down and hangs its callers. ``helm upgrade`` goes through a stand-in executable that
records each call and the values it was given, since no cluster runs here. The chart being
deployed has zero-to-jupyterhub's real chart in its charts/ folder, as `helm dependency
build` leaves it: ``deploy`` checks the values against its schema first.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import signal
import socket
from datetime import datetime, timezone

import jupyterhub
import pytest
import requests
import yaml

from .fixtures.demo import start_demo
from .fixtures.fleet import add_dependency, copy_fleet, edit_yaml, operator_config, run_fleet
from .fixtures.processes import service_process
from .fixtures.waiting import wait_until

pytestmark = pytest.mark.e2e

TOKEN = secrets.token_hex(16)
OPERATOR_CONFIG = operator_config(TOKEN)
ENV = {
    "PHYSICS_COURSE_TOKEN": TOKEN,
    "GENOMICS_RESEARCH_TOKEN": TOKEN,
    "SUMMER_WORKSHOP_TOKEN": TOKEN,
}


def hub_api(hub, method: str, path: str) -> requests.Response:
    headers = {"Authorization": f"token {TOKEN}"}
    return requests.request(method, hub.hub_url("api/" + path), headers=headers, timeout=30)


def alice_is_running(hub) -> bool:
    server = hub_api(hub, "GET", "users/alice").json()["servers"].get("")
    return bool(server and server["ready"])


@pytest.fixture(scope="module")
def hubs(tmp_path_factory):
    started = []
    try:
        for name in ("physics", "genomics"):
            tmp = tmp_path_factory.mktemp(name)
            extra = tmp / "operator_config.py"
            extra.write_text(OPERATOR_CONFIG)
            started.append(start_demo(tmp, ["--config", str(extra)]))
        # a session on each hub, for the report and the status table's servers
        for hub in started:
            assert hub_api(hub, "POST", "users/alice/server").status_code in (201, 202)
        for hub in started:
            wait_until(lambda hub=hub: alice_is_running(hub), 180, "alice's server")
        yield started
    finally:
        for hub in started:
            hub.process.signal(signal.SIGINT)
            hub.process.stop(timeout=20)


@pytest.fixture(scope="module")
def silent_hub():
    """A URL whose socket accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.fixture
def fleet_file(tmp_path, hubs, silent_hub):
    fleet_file = copy_fleet(tmp_path, dependency=False)

    def point(data):
        urls = {"physics-course": hubs[0].url, "genomics-research": hubs[1].url}
        for hub in data["hubs"]:
            hub["url"] = urls.get(hub["name"], silent_hub)

    edit_yaml(fleet_file, point)
    return fleet_file


def deploy(fleet_file, stand_in, *args: str, fail: str = "", dependency: bool = True):
    if dependency:
        add_dependency(fleet_file.parent.parent / "jhub-managed")
    env = {**ENV, "JHM_STAND_IN_LOG": str(stand_in.log), "JHM_STAND_IN_FAIL": fail}
    return run_fleet(
        "deploy", "--fleet", str(fleet_file), "--helm", str(stand_in.path), *args, env=env
    )


def is_healthy(hub) -> bool:
    try:
        return requests.get(hub.url + "services/health/api/health", timeout=5).ok
    except requests.RequestException:
        return False


def test_a_healthy_rollout_upgrades_hub_by_hub_and_keeps_the_values(fleet_file, stand_in_helm):
    two = ["--hub", "physics-course", "--hub", "genomics-research"]
    result = deploy(fleet_file, stand_in_helm, *two)
    assert result.code == 0, result.text
    assert "deployed 2 hub(s): physics-course, genomics-research" in result.out
    # the progress bar, one line per step when stderr is not a terminal
    assert "deploy [############............] 1/2 physics-course: healthy" in result.err
    assert "deploy [########################] 2/2 genomics-research: healthy" in result.err
    calls = stand_in_helm.calls()
    assert [c["args"][:3] for c in calls] == [
        ["upgrade", "--install", "physics-course"],
        ["upgrade", "--install", "genomics-research"],
    ]
    first = calls[0]["args"]
    assert first[first.index("--namespace") + 1] == "physics-course"
    assert "--create-namespace" in first and "--wait" in first
    # the values helm was given: common first, the hub's own on top
    given = yaml.safe_load(calls[1]["values"])["jupyterhub"]["custom"]["jhubManaged"]
    assert given["authenticator"] == "cilogon" and given["staff_users"] == ["ops-alice"]
    assert given["hub_name"] == "genomics-research"

    # a dry run now: the plan, no change since the last deploy, and no helm call
    result = deploy(fleet_file, stand_in_helm, *two, "--dry-run")
    assert result.code == 0, result.text
    assert "Plan: 2 hub(s), one after another" in result.out
    assert "1. physics-course: helm upgrade --install physics-course " in result.out
    assert "2. genomics-research: helm upgrade --install genomics-research " in result.out
    assert result.out.count("values unchanged since the last deploy") == 2
    edit_yaml(
        fleet_file.parent / "hubs" / "physics-course.values.yaml",
        lambda d: d["jupyterhub"]["custom"]["jhubManaged"].update(idle_timeout=1200),
    )
    result = deploy(fleet_file, stand_in_helm, *two, "--dry-run")
    assert result.code == 0, result.text
    assert "(last deployed)" in result.out
    assert "-      idle_timeout: 2700\n+      idle_timeout: 1200\n" in result.out
    assert result.out.count("values unchanged since the last deploy") == 1
    assert len(stand_in_helm.calls()) == 2


def test_the_rollout_stops_at_the_first_unhealthy_hub(fleet_file, stand_in_helm, hubs):
    # genomics' health service hangs: its probe gets no answer; the workshop comes after it
    frozen = service_process(hubs[1].process.pid, "health")
    frozen.suspend()
    try:
        result = deploy(
            fleet_file, stand_in_helm, "--health-timeout", "8", "--health-interval", "1"
        )
    finally:
        frozen.resume()
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    probe = hubs[1].url + "services/health/api/health"
    assert (
        f"hub genomics-research: not healthy within 8s after the upgrade: {probe} no answer "
        "within" in result.err
    )
    assert "the rollout stops here; not touched: summer-workshop" in result.err
    assert "deployed" not in result.out
    assert [c["args"][2] for c in stand_in_helm.calls()] == ["physics-course", "genomics-research"]
    # helm applied the values of both hubs it upgraded, the unhealthy one's too: the next
    # dry run compares with them; the hub not touched has nothing kept yet
    result = deploy(fleet_file, stand_in_helm, "--dry-run")
    assert result.out.count("values unchanged since the last deploy") == 2
    assert result.out.count("(nothing deployed from here yet)") == 1


def test_a_failed_helm_upgrade_stops_the_rollout_naming_the_hub(fleet_file, stand_in_helm):
    result = deploy(fleet_file, stand_in_helm, fail="physics-course")
    assert result.code == 1, result.text
    assert "hub physics-course: helm upgrade failed: Error: UPGRADE FAILED" in result.err
    assert "not touched: genomics-research, summer-workshop" in result.err
    assert "Traceback" not in result.text
    assert [c["args"][2] for c in stand_in_helm.calls()] == ["physics-course"]


def test_invalid_values_deploy_nothing(fleet_file, stand_in_helm):
    edit_yaml(
        fleet_file.parent / "hubs" / "genomics-research.values.yaml",
        lambda d: d["jupyterhub"].update(cull={"enabled": True}),
    )
    result = deploy(fleet_file, stand_in_helm)
    assert result.code == 1
    assert "hub genomics-research:" in result.err and "jupyterhub.cull.enabled" in result.err
    assert stand_in_helm.calls() == []


def test_without_the_dependency_deploy_touches_nothing_unless_told(fleet_file, stand_in_helm):
    one = ["--hub", "physics-course"]
    result = deploy(fleet_file, stand_in_helm, *one, dependency=False)
    assert result.code == 2, result.text
    assert "is not in " in result.err and "`helm dependency build " in result.err
    assert stand_in_helm.calls() == []
    # told to go on: helm upgrade --dependency-update fetches the chart itself
    result = deploy(fleet_file, stand_in_helm, *one, "--skip-dependency-schema", dependency=False)
    assert result.code == 0, result.text
    assert "note: the chart's dependencies were left out" in result.err
    [call] = stand_in_helm.calls()
    assert call["args"][:3] == ["upgrade", "--install", "physics-course"]
    assert "--dependency-update" in call["args"]


def columns(table: str) -> list[dict[str, str]]:
    """The rows of a table printed with one title per column, cut where the titles start."""
    lines = table.splitlines()
    titles = ["HUB", "HEALTH", "FAILING CHECKS", "JUPYTERHUB", "SERVERS", "SETTINGS VERSION"]
    starts = [lines[0].index(title) for title in titles]
    assert starts == sorted(starts), lines[0]
    ends = [*starts[1:], None]
    return [
        {t: line[s:e].strip() for t, s, e in zip(titles, starts, ends, strict=True)}
        for line in lines[1:]
    ]


def test_status_is_one_table_with_the_hub_that_is_down(fleet_file, hubs):
    for hub in hubs:  # healthy again after the rollout test froze one
        wait_until(lambda hub=hub: is_healthy(hub), 60, f"{hub.url} to be healthy")
    result = run_fleet("status", "--fleet", str(fleet_file), "--timeout", "10", env=ENV)
    assert result.code == 1, result.text
    rows = {row["HUB"]: row for row in columns(result.out)}
    assert list(rows) == ["physics-course", "genomics-research", "summer-workshop"]
    for name in ("physics-course", "genomics-research"):
        assert rows[name]["HEALTH"] == "ok"
        # the version the hubs run: 6.x in `make test`, 5.5.0 in `make test-jh55`
        assert rows[name]["JUPYTERHUB"] == jupyterhub.__version__
        assert rows[name]["SERVERS"] == "1"  # alice's
        assert rows[name]["SETTINGS VERSION"].isdigit()
    # the hub that hangs is given up on after the per-hub timeout; the others answered
    assert rows["summer-workshop"]["HEALTH"] == "unreachable"
    assert rows["summer-workshop"]["FAILING CHECKS"] == "no answer within 10s"
    assert rows["summer-workshop"]["JUPYTERHUB"] == "?"
    assert "1 of 3 hub(s) not healthy: summer-workshop" in result.err


@pytest.mark.parametrize("form", ["csv", "json"])
def test_report_merges_every_hub_with_a_hub_column_and_names_the_one_down(
    fleet_file, tmp_path, form
):
    today = datetime.now(timezone.utc).date().isoformat()
    target = tmp_path / f"report.{form}"
    result = run_fleet(
        "report",
        "--fleet",
        str(fleet_file),
        "--start",
        today,
        "--end",
        today,
        "--group-by",
        "user",
        "--out",
        str(target),
        "--format",
        form,
        "--timeout",
        "5",
        "--retries",
        "0",
        env=ENV,
    )
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    assert "hub summer-workshop: no report: no answer within 5s" in result.err
    assert "report [########################] 3/3" in result.err
    if form == "csv":
        rows = list(csv.DictReader(io.StringIO(target.read_text())))
        assert list(rows[0])[:2] == ["hub", "key"]
    else:
        document = json.loads(target.read_text())
        assert (document["start"], document["end"], document["group_by"]) == (today, today, "user")
        assert document["failed"] == [{"hub": "summer-workshop", "reason": "no answer within 5s"}]
        assert set(document["hubs"]) == {"physics-course", "genomics-research"}
        rows = document["rows"]
    alice = {row["hub"]: row for row in rows if row["key"] == "alice"}
    assert set(alice) == {"physics-course", "genomics-research"}
    for row in alice.values():
        assert float(row["sessions"]) == 1 and float(row["running"]) == 1
        assert float(row["server_hours"]) > 0
    assert f"{len(rows)} row(s) from 2 hub(s) written to {target}" in result.out
