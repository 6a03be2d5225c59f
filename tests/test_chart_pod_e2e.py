"""Every example hub of the fleet, rendered with the real zero-to-jupyterhub 4.4.0 chart by the
real ``helm`` and run as z2jh's hub pod runs it (see :mod:`tests.fixtures.z2jh_pod`): the
mounts, environment, command and user of the rendered Deployment, on a fresh volume, on the
packages z2jh's hub image pins, with its proxy pod in front. It starts, stays up, every
service root answers through the proxy without a 5xx, the health probe answers JSON, a
user's server starts through the Kubernetes API emulator, and every metric the Grafana
dashboards query is in the live services' ``/metrics``.

What the test adds to the operator's values, as an operator would: a service with an API
token and its role for their fleet tooling (``hub.services``, ``hub.loadRoles``), a file of
their own in ``jupyterhub_config.d`` (``hub.extraFiles``); and the
store on the hub's volume (SQLite) instead of the fleet's PostgreSQL server, which the
pods' network cannot reach. The operator's Secret ``jhub-managed`` (client id and secret,
database password) is given as the operator would create it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import psutil
import pytest
import yaml

from jhub_managed.fleet.hubconfig import merge_values

from .fixtures.fleet import FLEET_FILE
from .fixtures.waiting import wait_until
from .fixtures.z2jh_pod import (
    CHART,
    POD_VENV,
    Z2JH_CHART,
    PodRun,
    chart_with_dependency,
    install_work_tree,
    missing_parts,
    render,
)

pytestmark = [pytest.mark.e2e, pytest.mark.kube]

FLEET = FLEET_FILE.parent
EXAMPLE_HUBS = ["physics-course", "genomics-research", "summer-workshop"]
DASHBOARDS = CHART.parent / "dashboards"
TOKEN = secrets.token_hex(16)
#: the operator's Secret in each hub's namespace (helm/fleet/common.values.yaml)
OPERATOR_SECRETS = {
    "jhub-managed": {
        "oauth-client-id": "example-client",
        "oauth-client-secret": secrets.token_hex(8),
        "db-password": secrets.token_hex(8),
    }
}
TEST_VALUES = {
    "jupyterhub": {
        "custom": {"jhubManaged": {"db_url": "sqlite:////srv/jupyterhub/jhub-managed.sqlite"}},
        "hub": {
            # an operator's own file, beside the image's jupyterhub_config.d file
            "extraFiles": {
                "operator-config": {
                    "mountPath": "/usr/local/etc/jupyterhub/jupyterhub_config.d/90-operator.py",
                    "stringData": "print('the operator\\'s extra file ran')\n",
                }
            },
            "services": {"fleet-operator": {"apiToken": TOKEN}},
            "loadRoles": {
                "fleet-operator": {
                    "services": ["fleet-operator"],
                    "scopes": [
                        "custom:jhub-managed:settings",
                        "custom:jhub-managed:usage-reports",
                        "custom:jhub-managed:health",
                        "access:services",
                        "admin:users",
                        "admin:servers",
                        "access:servers",
                    ],
                }
            },
        },
    }
}
SERVICE_ROOTS = ["services/config/", "services/usage/", "services/health/"]
USER = "pod-user"


def hub_values_files(hub: str) -> list[Path]:
    fleet = yaml.safe_load(FLEET_FILE.read_text())
    entry = next(h for h in fleet["hubs"] if h["name"] == hub)
    return [FLEET / f for f in fleet["common"]] + [FLEET / f for f in entry["values"]]


@pytest.fixture(scope="module")
def work_tree_installed():
    reason = missing_parts()
    if reason:
        pytest.skip(reason)
    if os.environ.get("JHUB_MANAGED_EXPECT_JUPYTERHUB"):
        # the pods run on their own venv, whichever JupyterHub runs the tests: once is enough
        pytest.skip("the pods ran in `make test`: they run on the hub image's own venv")
    install_work_tree()


@pytest.fixture(scope="module", params=EXAMPLE_HUBS)
def pod(request, work_tree_installed):
    root = Path(tempfile.mkdtemp(prefix=f"jhm-pod-{request.param}-"))
    root.chmod(0o755)
    extra = root / "test.values.yaml"
    extra.write_text(yaml.safe_dump(TEST_VALUES))
    run = PodRun(request.param, [*hub_values_files(request.param), extra], OPERATOR_SECRETS, root)
    try:
        run.start()
        # JupyterHub starts its managed services one after the other, once it answers
        wait_until(
            lambda: all(_answers(run, path) for path in SERVICE_ROOTS),
            180,
            "every service of the hub to start",
            interval=0.5,
        )
        yield run
    except BaseException:
        for name, process in run.processes.items():
            print(f"--- {name}\n{process.log()[-4000:]}")
        raise
    finally:
        run.stop()
        shutil.rmtree(root, ignore_errors=True)


def _answers(pod, path: str) -> bool:
    """Whether the service itself answers at ``path``: its page, or its login redirect (the
    hub answers an unrouted ``/services/...`` with a redirect to ``/hub/services/...``)."""
    assert pod.running(), pod.log()[-6000:]
    r = pod.get(path, allow_redirects=False)
    return r.status_code == 200 or "/oauth2/authorize" in r.headers.get("location", "")


# -- the render ----------------------------------------------------------------------------


def kinds(objects: list[dict]) -> Counter:
    return Counter((o["kind"], o["metadata"]["name"]) for o in objects)


@pytest.mark.parametrize("hub", EXAMPLE_HUBS)
def test_each_example_hub_renders_everything_z2jh_makes_and_ours(hub, tmp_path):
    if not Z2JH_CHART.exists():
        pytest.skip(f"zero-to-jupyterhub's chart is not at {Z2JH_CHART} (../shared/z2jh)")
    import kubernetes_validate

    ours = render(chart_with_dependency(tmp_path), hub, hub_values_files(hub))
    # z2jh's chart alone, with the same `jupyterhub:` values
    merged: dict = {}
    for path in hub_values_files(hub):
        values = yaml.safe_load(path.read_text()) or {}
        merged = merge_values(merged, values.get("jupyterhub", {}))
    alone_values = tmp_path / "z2jh.values.yaml"
    alone_values.write_text(yaml.safe_dump(merged))
    shutil.unpack_archive(Z2JH_CHART, tmp_path / "z2jh")
    theirs = render(tmp_path / "z2jh" / "jupyterhub", hub, [alone_values])

    assert kinds(theirs) - kinds(ours) == Counter()
    extra = kinds(ours) - kinds(theirs)
    assert set(extra) == {
        ("NetworkPolicy", f"{hub}-jhm-metrics"),
        ("Service", f"{hub}-jhm-usage-metrics"),
        ("Service", f"{hub}-jhm-health-metrics"),
    }
    # z2jh makes them all: the hub, the proxy, the user scheduler, image pullers ...
    made = {kind for kind, _ in kinds(theirs)}
    assert {"Deployment", "ConfigMap", "Secret", "Service", "PersistentVolumeClaim"} <= made
    assert {"NetworkPolicy", "PodDisruptionBudget", "DaemonSet", "StatefulSet", "Job"} <= made
    for obj in ours:
        kubernetes_validate.validate(obj, "1.30", strict=True)

    # the values reach the hub as z2jh hands them over: in the Secret `hub`, not the ConfigMap
    by_key = {(o["kind"], o["metadata"]["name"]): o for o in ours}
    assert "values.yaml" not in by_key[("ConfigMap", "hub")]["data"]
    assert "values.yaml" in by_key[("Secret", "hub")]["data"]


# -- the pod -------------------------------------------------------------------------------


def test_the_hub_runs_as_the_deployment_describes_its_pod(pod):
    hub = psutil.Process(pod.processes["hub"].pid)
    tree = [hub, *hub.children(recursive=True)]
    processes = [p for p in tree if p.uids().effective != 0]  # nsenter and setpriv are root
    commands = [" ".join(p.cmdline()) for p in processes]
    # the container's command, on the hub image's packages
    assert any(
        c.startswith(f"{POD_VENV}/bin/python")
        and "jupyterhub --config /usr/local/etc/jupyterhub/jupyterhub_config.py --upgrade-db" in c
        for c in commands
    ), commands
    for part in ("services.config", "services.usage", "services.health", "idle_culler"):
        assert any(part in c for c in commands), (part, commands)
    # as the container's user, never root
    uid, gid = pod.hub.user()
    assert uid != 0 and {p.uids().effective for p in processes} == {uid}
    assert {p.gids().effective for p in processes} == {gid}
    # z2jh's own jupyterhub_config.py read the values from the Secret and loaded the image's
    # jupyterhub_config.d, which configured the suite from them
    log = pod.log()
    assert "Loading /usr/local/etc/jupyterhub/secret/values.yaml" in log
    assert "Loading /usr/local/etc/jupyterhub/jupyterhub_config.d config: 50-jhub-managed.py" in log
    # and hub.extraFiles at their mount paths: the operator's file, after the image's
    assert log.index("config: 50-jhub-managed.py") < log.index("config: 90-operator.py")
    assert "the operator's extra file ran" in log
    assert "Traceback" not in log, log[-6000:]


def test_every_service_root_answers_through_the_proxy_without_a_5xx(pod):
    for path in SERVICE_ROOTS:
        r = pod.get(path, allow_redirects=False)
        assert r.status_code < 500, (path, r.status_code, r.text[:500])
        assert r.status_code == 200 or "/oauth2/authorize" in r.headers["location"], path
    r = pod.get("services/config/api/settings", token=TOKEN)
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["profiles"], r.json()
    r = pod.get("services/usage/api/report?start=2026-01-01&end=2026-01-31", token=TOKEN)
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == []
    # the operator's staff from the common values are users of this hub from its start
    assert "ops-alice" in {u["name"] for u in pod.get("hub/api/users", token=TOKEN).json()}


def test_the_health_probe_answers_json(pod):
    r = pod.get("services/health/api/health")
    assert r.status_code in (200, 503), r.text
    body = r.json()
    assert body["status"] in ("ok", "failing", "starting")
    assert all(c["state"] in ("ok", "failing", "starting", "skipped") for c in body["checks"])
    assert {c["name"] for c in body["checks"]} >= {"hub-api", "settings-store"}, body
    by_name = {c["name"]: c for c in body["checks"]}
    # what a hub pod can check here passes: the hub's API and its store on the fresh volume
    wait_until(
        lambda: _check_ok(pod, "settings-store") and _check_ok(pod, "hub-api"),
        120,
        "the hub's API and store checks to pass",
        interval=0.5,
    )
    assert set(by_name) == {
        c["name"] for c in pod.get("services/health/api/health").json()["checks"]
    }


def _check_ok(pod, name: str) -> bool:
    checks = pod.get("services/health/api/health").json()["checks"]
    return any(c["name"] == name and c["ok"] for c in checks)


def test_a_users_server_starts_through_the_kubernetes_api(pod):
    r = pod.request("POST", f"hub/api/users/{USER}", TOKEN)
    assert r.status_code in (201, 409), r.text
    r = pod.request("POST", f"hub/api/users/{USER}/server", TOKEN, json={})
    assert r.status_code in (201, 202), r.text

    def ready() -> bool:
        user = pod.get(f"hub/api/users/{USER}", token=TOKEN).json()
        server = (user.get("servers") or {}).get("")
        assert server is not None or user.get("pending"), user
        return bool(server and server.get("ready"))

    wait_until(ready, 180, f"{USER}'s server to be ready", interval=0.5)
    # the server answers through the proxy, at the pod's address KubeSpawner got from the API
    r = pod.get(f"user/{USER}/api/status", token=TOKEN)
    assert r.status_code == 200, r.text
    # the emulator's kubelet ran the pod KubeSpawner created: the server's own log
    logs = list((pod.root / "kube" / "pods").rglob("container.log"))
    assert len(logs) == 1, logs
    # in the hub's namespace, named as kubespawner 7 names it
    assert logs[0].parent.name.startswith(f"{pod.release}_jupyter-pod-user_"), logs
    assert "Jupyter Server" in logs[0].read_text(), logs[0].read_text()[-3000:]
    r = pod.request("DELETE", f"hub/api/users/{USER}/server", TOKEN)
    assert r.status_code in (202, 204), r.text
    wait_until(
        lambda: not pod.get(f"hub/api/users/{USER}", token=TOKEN).json().get("servers"),
        120,
        f"{USER}'s server to stop",
        interval=0.5,
    )


def test_the_hub_stays_up(pod):
    # after every request of the tests above, and a little more of the hub's own timers
    wait_for_first_poll(pod)
    assert pod.running(), pod.log()[-6000:]
    assert pod.get("hub/health").status_code == 200
    written = {p.name for p in (pod.root / "stage" / "volumes" / "pvc").iterdir()}
    # (the cookie secret comes from the Secret `hub`, as z2jh sets it: no file for it)
    assert {"jupyterhub.sqlite", "jhub-managed.sqlite"} <= written
    uid, _ = pod.hub.user()
    files = list((pod.root / "stage" / "volumes" / "pvc").rglob("*"))
    assert {p.stat().st_uid for p in files} == {uid}


def wait_for_first_poll(pod) -> None:
    def polled() -> bool:
        metrics = pod.get("services/usage/metrics", token=TOKEN).text
        return "jhub_managed_usage_last_poll_timestamp_seconds{" in metrics

    wait_until(polled, 120, "the usage collector's first poll", interval=0.5)


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


def test_every_metric_the_dashboards_query_is_in_the_services_live_metrics(pod):
    wait_for_first_poll(pod)
    usage = pod.get("services/usage/metrics", token=TOKEN)
    health = pod.get("services/health/metrics")
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


def test_the_hub_images_constraints_are_what_the_pod_ran_on(work_tree_installed):
    """The venv the pods run on has exactly the hub image's pins (constraints.txt)."""
    constraints = (CHART.parent / "images" / "hub" / "constraints.txt").read_text()
    pins = dict(
        line.split("==") for line in constraints.splitlines() if line and not line.startswith("#")
    )
    assert {
        "jupyterhub",
        "jupyterhub-kubespawner",
        "oauthenticator",
        "sqlalchemy",
        "tornado",
    } <= set(pins)
    frozen = subprocess.run(
        [str(POD_VENV / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True
    ).stdout
    installed = dict(
        (re.sub(r"[-_.]+", "-", name).lower(), version)
        for name, version in (line.split("==", 1) for line in frozen.splitlines() if "==" in line)
    )
    for name, version in pins.items():
        assert installed.get(name.lower()) == version, (name, version)
