"""The hub image's ``jupyterhub_config.d`` file in a real JupyterHub, as z2jh's hub runs it:
as a non-root user, on a fresh data directory, with an example hub's values; and every metric
the Grafana dashboards (``helm/dashboards/``) query, in that hub's live ``/metrics``.

The hub is the research hub of the example fleet (CILogon login, a GPU profile for one group,
its own ceilings). A small stand-in for z2jh's ``jupyterhub_config.py`` reads the mounted
values file as z2jh's does for the keys these values use (``hub.config``, ``hub.services``,
``hub.loadRoles``), then loads the image's file. Kept from a cluster: the proxy and the
services listen on 127.0.0.1 on free ports, the store is SQLite in the data directory (a new
hub's volume) instead of the fleet's PostgreSQL, and no scheduled deep check (it would start
a pod). In the z2jh image the hub runs as ``jovyan``: run as root, the test makes that user
(a system user) if it is missing and runs the hub as it.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import requests

from jhub_managed.fleet.fleetfile import load_fleet
from jhub_managed.fleet.validate import hub_values
from jhub_managed.fleet.values import dump

from .fixtures.fleet import CHART, FLEET_FILE
from .fixtures.processes import Process, free_port, wait_for

pytestmark = pytest.mark.e2e

HUB = "genomics-research"
HUB_USER = "jovyan"
CONFIG_D = CHART.parent / "images" / "hub" / "jupyterhub_config.d" / "50-jhub-managed.py"
DASHBOARDS = CHART.parent / "dashboards"
TOKEN = secrets.token_hex(16)
#: the checks that need what this hub cannot reach here: a Kubernetes API and CILogon
UNREACHABLE = {"spawner-backend", "identity-provider"}

#: what z2jh's jupyterhub_config.py does with the values this hub uses, then its config.d
Z2JH_CONFIG = """
import os
import yaml

c = get_config()  # noqa: F821
with open(os.environ["JHUB_MANAGED_VALUES_FILE"]) as f:
    values = yaml.safe_load(f)
hub = values.get("hub") or {{}}

# where this hub listens here (in a cluster: the hub's and the proxy's pods)
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = "proxy.pid"
# as z2jh's hub.db.type sqlite-pvc: in the hub's volume, its working directory
c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "jupyterhub_cookie_secret"

# as z2jh's: services and roles appended, hub.config by class, then each config.d file
# exec'd in this namespace
for name, service in (hub.get("services") or {{}}).items():
    c.JupyterHub.services.append({{"name": name, "api_token": service["apiToken"]}})
for name, role in (hub.get("loadRoles") or {{}}).items():
    c.JupyterHub.load_roles.append({{"name": name, **role}})
for app, config in (hub.get("config") or {{}}).items():
    c[app].update(config)

with open({config_d!r}) as f:
    exec(compile(source=f.read(), filename={config_d!r}, mode="exec"))
"""


def hub_user() -> str | None:
    """The user to run the hub as: ``jovyan`` when the tests run as root (made if missing),
    else none: the tests' own user, which is not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(HUB_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if not useradd:
            pytest.skip(f"running as root, no user {HUB_USER!r}, and no useradd to make one")
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", HUB_USER],
            check=True,
            capture_output=True,
        )
    return HUB_USER


def the_hubs_values(ports: dict[str, int]) -> dict:
    fleet = load_fleet(FLEET_FILE)
    values = hub_values(fleet, next(h for h in fleet.hubs if h.name == HUB)).values["jupyterhub"]
    ours = values["custom"]["jhubManaged"]
    ours.pop("db_url")  # SQLite in the data directory
    ours.update(
        health_interval=5,  # the checks' first run may meet the hub still starting
        service_ip="127.0.0.1",
        service_host="127.0.0.1",
        service_ports=ports,
        health_deep_check_interval=0,
    )
    # the operator's token, as it would be given to the fleet commands and Prometheus
    values["hub"]["services"] = {"fleet-operator": {"apiToken": TOKEN}}
    values["hub"]["loadRoles"] = {
        "fleet-operator": {
            "scopes": [
                "custom:jhub-managed:settings",
                "custom:jhub-managed:usage-reports",
                "custom:jhub-managed:health",
                "access:services",
                "list:users",
            ],
            "services": ["fleet-operator"],
        }
    }
    return values


def as_user(user: str | None, args: list[str]) -> tuple[list[str], str | None]:
    """``args`` run as ``user``: ``(command, user for Popen)``.

    Where ``user`` cannot read the interpreter itself (a Python under /root), setpriv runs
    the hub as ``user`` with one capability kept, to read and search directories: it writes,
    binds and owns its files as ``user``, as in the image."""
    if user is None:
        return args, None
    try:
        as_is = subprocess.run([sys.executable, "-c", ""], user=user, group=user, extra_groups=[])
    except OSError:
        as_is = None
    if as_is and as_is.returncode == 0:
        return args, user
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip(f"{user} cannot run {sys.executable}, and there is no setpriv")
    keep = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    switch = [setpriv, f"--reuid={user}", f"--regid={user}", "--clear-groups", *keep, "--"]
    return [*switch, *args], None


class ChartHub:
    def __init__(self, url: str, data_dir: Path, process: Process, user: str | None):
        self.url, self.data_dir, self.process, self.user = url, data_dir, process, user

    def get(self, path: str, token: str = TOKEN) -> requests.Response:
        headers = {"Authorization": f"token {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=30)

    def running(self) -> bool:
        return self.process.popen.poll() is None


def start_chart_hub(root: Path, user: str | None, log: Path) -> ChartHub:
    data_dir = root / "srv-jupyterhub"
    data_dir.mkdir()
    ports = {name: free_port() for name in ("config", "usage", "health")}
    values_file = root / "values.yaml"
    values_file.write_text(dump(the_hubs_values(ports)))
    config = root / "jupyterhub_config.py"
    port = free_port()
    config.write_text(
        Z2JH_CONFIG.format(
            port=port,
            hub_port=free_port(),
            proxy_api_port=free_port(),
            config_d=str(CONFIG_D),
        )
    )
    if user:
        entry = pwd.getpwnam(user)
        for path in (root, data_dir, values_file, config):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    env = dict(
        os.environ,
        HOME=str(root),
        JHUB_MANAGED_VALUES_FILE=str(values_file),
        # from the hub's Kubernetes Secret, as the common values' hub.extraEnv says
        OAUTH_CLIENT_ID="genomics-client",
        OAUTH_CLIENT_SECRET=secrets.token_hex(8),
        PYTHONUNBUFFERED="1",
    )
    command, popen_user = as_user(user, [sys.executable, "-m", "jupyterhub", "-f", str(config)])
    process = Process(command, log, env=env, cwd=str(data_dir), user=popen_user)
    hub = ChartHub(f"http://127.0.0.1:{port}/", data_dir, process, user)

    def up() -> bool:
        assert hub.running(), "the hub exited:\n" + process.log()[-5000:]
        try:
            return hub.get("services/health/", token="").status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(up, 240, "the chart's hub and its services to come up")
    except BaseException:
        process.stop(timeout=20)
        raise
    return hub


@pytest.fixture(scope="module")
def chart_hub(tmp_path_factory):
    user = hub_user()
    log = tmp_path_factory.mktemp("chart-hub") / "hub.log"
    # the hub's own directory, outside pytest's (root-only) temporary directories
    root = Path(tempfile.mkdtemp(prefix="jhm-chart-hub-"))
    try:
        hub = start_chart_hub(root, user, log)
        try:
            yield hub
        finally:
            hub.process.signal(signal.SIGTERM)
            hub.process.stop(timeout=20)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def expected_uid(hub: ChartHub) -> int:
    return pwd.getpwnam(hub.user).pw_uid if hub.user else os.geteuid()


def only_unreachables_fail(hub: ChartHub) -> bool:
    checks = hub.get("services/health/api/health", token="").json()["checks"]
    failing = {c["name"] for c in checks if c["required"] and not c["ok"]}
    return all(c.get("checked_at") for c in checks) and failing <= UNREACHABLE


def collector_polled(hub: ChartHub) -> bool:
    metrics = hub.get("services/usage/metrics").text
    return "\njhub_managed_usage_last_poll_timestamp_seconds{" in metrics


def test_the_chart_hub_runs_as_a_non_root_user_from_a_fresh_data_directory(chart_hub):
    hub_process = psutil.Process(chart_hub.process.pid)
    tree = [hub_process, *hub_process.children(recursive=True)]
    commands = " ".join(" ".join(p.cmdline()) for p in tree)
    for part in ("services.config", "services.usage", "services.health", "idle_culler"):
        assert part in commands
    assert "configurable-http-proxy" in commands
    uid = expected_uid(chart_hub)
    assert uid != 0
    assert {p.uids().effective for p in tree} == {uid}
    # what the hub and the store wrote in the new volume, as the hub's user
    written = {p.name for p in chart_hub.data_dir.iterdir()}
    assert {"jupyterhub.sqlite", "jupyterhub_cookie_secret", "jhub-managed.sqlite"} <= written
    assert {p.stat().st_uid for p in chart_hub.data_dir.rglob("*")} == {uid}


def test_the_services_answer_through_the_proxy_with_the_hubs_values(chart_hub):
    r = chart_hub.get("services/config/api/settings")
    assert r.status_code == 200, r.text
    settings = r.json()["settings"]
    assert [p["slug"] for p in settings["profiles"]] == ["python", "gpu"]
    assert settings["profiles"][1]["allowed_groups"] == ["genomics-gpu"]
    assert settings["branding"]["organization_name"] == "Genomics Research Group"
    r = chart_hub.get("services/usage/api/report?start=2026-01-01&end=2026-01-31")
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == []
    # the operator's staff from the common values are users of this hub from its start
    assert "ops-alice" in {u["name"] for u in chart_hub.get("hub/api/users").json()}

    # every required check passes but those needing what a hub cannot reach here: a
    # Kubernetes API and CILogon
    wait_for(lambda: only_unreachables_fail(chart_hub), 120, "the hub's own checks to pass")
    wait_for(lambda: collector_polled(chart_hub), 120, "the usage collector's first poll")
    assert chart_hub.running(), chart_hub.process.log()[-5000:]


# -- the dashboards ------------------------------------------------------------------------

#: PromQL words that look like names
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
PROMQL_WORDS |= {"unless", "bool", "offset", "inf", "nan"}
#: the series Prometheus stores for each type of metric prometheus-client exposes (its
#: text format names a counter with ``_total`` in the TYPE line already)
SERIES = {
    "counter": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana ``label_values()`` query) reads."""
    values = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", expr)
    if values:
        return metric_names(values.group(1))
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\$\{?\w+\}?", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", expr):
        if expr[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group(0).lower() not in PROMQL_WORDS:
            names.add(match.group(0))
    return names


def exposed_series(text: str) -> set[str]:
    """The series names Prometheus gets from a ``/metrics`` text, samples or not yet."""
    names = set()
    for line in text.splitlines():
        typed = re.match(r"# TYPE (\S+) (\S+)", line)
        if typed:
            name, kind = typed.groups()
            if kind == "counter" and not name.endswith("_total"):
                name += "_total"
            names |= {name + suffix for suffix in SERIES.get(kind, ("",))}
        elif line and not line.startswith("#"):
            names.add(re.match(r"[^{\s]+", line).group(0))
    return names


def dashboard_queries(dashboard: dict) -> list[str]:
    queries = []
    for panel in dashboard["panels"]:
        queries += [target["expr"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["query"]["query"])
    return queries


def test_metric_names_are_read_from_promql_as_prometheus_stores_them():
    expr = (
        'sum by (namespace) (increase(a_total{b="c", d=~"$hub"}[$__range])) / on (namespace)'
        " group_left (kind) histogram_quantile(0.9, rate(e_bucket[5m])) > bool 1e3"
    )
    assert metric_names(expr) == {"a_total", "e_bucket"}
    assert metric_names('label_values(f{namespace=~"$hub"}, usergroup)') == {"f"}
    # a counter and a histogram without samples yet, a gauge with one
    text = "# TYPE g_total counter\n# TYPE h histogram\n# TYPE i gauge\ni 2\n"
    assert exposed_series(text) == {"g_total", "h_bucket", "h_sum", "h_count", "i"}


def test_every_metric_the_dashboards_query_is_in_the_services_live_metrics(chart_hub):
    wait_for(lambda: collector_polled(chart_hub), 120, "the usage collector's first poll")
    usage = chart_hub.get("services/usage/metrics")
    health = chart_hub.get("services/health/metrics", token="")
    assert usage.status_code == 200 and health.status_code == 200
    exposed = exposed_series(usage.text) | exposed_series(health.text)
    files = sorted(DASHBOARDS.glob("*.json"))
    assert [f.name for f in files] == ["jhub-managed-health.json", "jhub-managed-usage.json"]
    for file in files:
        dashboard = json.loads(file.read_text())
        queries = dashboard_queries(dashboard)
        assert queries, file.name
        for query in queries:
            names = metric_names(query)
            assert names, (file.name, query)
            assert names <= exposed, (file.name, query, names - exposed)
