"""The chart with the real helm: lint, template, and every rendered object against Kubernetes'
own schemas; the chart's values schema generated from ManagedHub's traits; ``fleet render``
with zero-to-jupyterhub's real chart in the chart's charts/ folder, and without it."""

from __future__ import annotations

import json

import jsonschema
import kubernetes_validate
import pytest
import yaml

from jhub_managed.fleet import schema as chart_schema
from jhub_managed.fleet.fleetfile import load_fleet
from jhub_managed.fleet.helm import lint, template
from jhub_managed.fleet.validate import hub_values
from jhub_managed.fleet.values import dump
from jhub_managed.hub import ManagedHub

from .fixtures.fleet import CHART, EXAMPLE_HUBS, FLEET_FILE, copy_fleet, run_fleet

KUBERNETES_VERSION = "1.30"


def test_values_schema_is_a_valid_schema_the_chart_defaults_pass(tmp_path):
    written = chart_schema.write(tmp_path)
    schema = json.loads(written.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert list(jsonschema.Draft7Validator(schema).iter_errors(defaults)) == []
    # written only when it changes, so make and the fleet commands can call it freely
    before = written.stat().st_mtime_ns
    chart_schema.write(tmp_path)
    assert written.stat().st_mtime_ns == before


def test_every_configure_option_is_a_described_chart_key():
    ours = chart_schema.jhub_managed_schema()
    traits = ManagedHub.class_own_traits(config=True)
    assert set(ours["properties"]) == set(traits)
    assert ours["additionalProperties"] is False
    for name, trait in traits.items():
        described = ours["properties"][name]["description"]
        assert described.split()[:3] == trait.help.split()[:3], name


@pytest.fixture(scope="module")
def fleet():
    return load_fleet(FLEET_FILE)


@pytest.fixture(scope="module")
def values_files(fleet, tmp_path_factory):
    folder = tmp_path_factory.mktemp("values")
    files = {}
    for hub in fleet.hubs:
        files[hub.name] = folder / f"{hub.name}.yaml"
        files[hub.name].write_text(dump(hub_values(fleet, hub).values))
    return files


def test_example_fleet_has_the_three_hubs(fleet):
    assert [hub.name for hub in fleet.hubs] == EXAMPLE_HUBS


@pytest.mark.parametrize("name", [None, *EXAMPLE_HUBS])
def test_helm_lint_strict(helm, values_files, name):
    result = lint(helm, CHART, values_files[name] if name else None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("name", EXAMPLE_HUBS)
def test_every_rendered_object_is_valid_kubernetes(helm, fleet, values_files, name):
    hub = next(h for h in fleet.hubs if h.name == name)
    objects = [
        o
        for o in yaml.safe_load_all(
            template(helm, CHART, name, name, values_files[name], dependencies=False)
        )
        if o
    ]
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert kinds == [
        ("NetworkPolicy", f"{name}-jhm-metrics"),
        ("Service", f"{name}-jhm-health-metrics"),
        ("Service", f"{name}-jhm-usage-metrics"),
    ]
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    usage = services[f"{name}-jhm-usage-metrics"]
    assert usage["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "10102",
        "prometheus.io/path": "/services/usage/metrics",
    }
    # the hub pod, as zero-to-jupyterhub labels it, in this release
    assert usage["spec"]["selector"] == {"component": "hub", "release": hub.name}
    policy = next(o for o in objects if o["kind"] == "NetworkPolicy")
    assert [p["port"] for p in policy["spec"]["ingress"][0]["ports"]] == [10102, 10103]


def test_a_service_without_a_port_fails_the_rendering(helm, tmp_path):
    values = tmp_path / "values.yaml"
    # the chart's defaults give usage a port; null removes it, as an operator might
    values.write_text(
        dump({"jupyterhub": {"custom": {"jhubManaged": {"service_ports": {"usage": None}}}}})
    )
    with pytest.raises(Exception) as failure:
        template(helm, CHART, "broken", "broken", values, dependencies=False)
    assert "service_ports.usage" in str(failure.value)


def test_a_wrong_key_is_refused_by_helm_itself(helm, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(dump({"jupyterhub": {"custom": {"jhubManaged": {"hub_nmae": "x"}}}}))
    with pytest.raises(Exception) as failure:
        template(helm, CHART, "broken", "broken", values, dependencies=False)
    assert "hub_nmae" in str(failure.value)


def kinds(manifests: str) -> set[tuple[str, str]]:
    return {(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(manifests) if o}


OURS = {
    ("NetworkPolicy", "{name}-jhm-metrics"),
    ("Service", "{name}-jhm-health-metrics"),
    ("Service", "{name}-jhm-usage-metrics"),
}


def test_fleet_render_writes_manifests_and_the_values_z2jh_receives(tmp_path):
    fleet_file = copy_fleet(tmp_path / "fleet")
    out = tmp_path / "rendered"
    result = run_fleet("render", "--fleet", str(fleet_file), "--out", str(out))
    assert result.code == 0, result.text
    for name in EXAMPLE_HUBS:
        folder = out / name
        # the whole chart: our objects and zero-to-jupyterhub's, from its chart in charts/
        rendered = kinds((folder / "manifests.yaml").read_text())
        assert {(kind, n.format(name=name)) for kind, n in OURS} <= rendered
        assert {("Deployment", "hub"), ("Deployment", "proxy"), ("Secret", "hub")} <= rendered
        theirs = yaml.safe_load((folder / "jupyterhub-values.yaml").read_text())
        ours = theirs["custom"]["jhubManaged"]
        assert ours["hub_name"] == name
        # common values first, the hub's own on top
        assert ours["staff_users"] == ["ops-alice"]
        assert theirs["cull"]["enabled"] is False
        assert theirs["hub"]["image"]["name"] == "ghcr.io/jhub-managed/hub"
        assert json.dumps(theirs).count("oauth-client-secret") == 1


def test_fleet_render_without_the_dependency(tmp_path):
    fleet_file = copy_fleet(tmp_path / "fleet", dependency=False)
    out = tmp_path / "rendered"
    result = run_fleet("render", "--fleet", str(fleet_file), "--out", str(out))
    assert result.code == 2, result.text
    assert "`helm dependency build " in result.err and "--skip-dependency-schema" in result.err
    assert not out.exists()
    # left out on purpose: our own objects only
    result = run_fleet(
        "render", "--fleet", str(fleet_file), "--out", str(out), "--skip-dependency-schema"
    )
    assert result.code == 0, result.text
    assert "note: the chart's dependencies were left out" in result.err
    for name in EXAMPLE_HUBS:
        rendered = kinds((out / name / "manifests.yaml").read_text())
        assert rendered == {(kind, n.format(name=name)) for kind, n in OURS}


def test_fleet_render_of_one_hub(tmp_path):
    fleet_file = copy_fleet(tmp_path / "fleet")
    out = tmp_path / "rendered"
    result = run_fleet(
        "render", "--fleet", str(fleet_file), "--hub", "summer-workshop", "--out", str(out)
    )
    assert result.code == 0, result.text
    assert [p.name for p in out.iterdir()] == ["summer-workshop"]


CONFIG_D = CHART.parent / "images" / "hub" / "jupyterhub_config.d" / "50-jhub-managed.py"


@pytest.mark.parametrize(
    ("name", "authenticator"),
    [
        ("physics-course", "ManagedGitHubOAuthenticator"),
        ("genomics-research", "ManagedCILogonOAuthenticator"),
        ("summer-workshop", "ManagedGenericOAuthenticator"),
    ],
)
def test_the_images_config_file_configures_the_hub_from_the_values(
    fleet, tmp_path, monkeypatch, name, authenticator
):
    """The jupyterhub_config.d file as z2jh's jupyterhub_config.py runs it: exec'd with the
    hub's ``c`` in scope, reading the values file z2jh mounts (the ``jupyterhub:`` part)."""
    from traitlets.config import Config

    hub = next(h for h in fleet.hubs if h.name == name)
    values_file = tmp_path / "values.yaml"
    values_file.write_text(dump(hub_values(fleet, hub).values["jupyterhub"]))
    monkeypatch.setenv("JHUB_MANAGED_VALUES_FILE", str(values_file))
    monkeypatch.setenv("JHUB_MANAGED_DB_PASSWORD", "from-the-secret")
    c = Config()
    exec(compile(CONFIG_D.read_text(), CONFIG_D.name, "exec"), {"c": c})  # noqa: S102

    assert c.JupyterHub.authenticator_class.endswith(authenticator)
    assert c.JupyterHub.spawner_class == "jhub_managed.spawner.ManagedKubeSpawner"
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert services["config"]["url"] == "http://hub:10101"
    assert services["usage"]["url"] == "http://hub:10102"
    assert services["health"]["url"] == "http://hub:10103"
    assert "--ip=0.0.0.0" in services["health"]["command"]
    # the password from the Secret's environment variable, not from the values
    assert c.ManagedKubeSpawner.managed_hub.db_url == (
        "postgresql+psycopg://jhub_managed:from-the-secret@fleet-db.databases.svc:5432/jhub_managed"
    )
    assert c.ManagedKubeSpawner.managed_hub.hub_name == name
    assert c.ManagedAuthenticatorMixin.staff_users == {"ops-alice"}


def test_a_wrong_option_in_the_values_stops_the_hub_with_one_clear_message(tmp_path, monkeypatch):
    from traitlets.config import Config

    from jhub_managed.hub import ConfigureError

    values_file = tmp_path / "values.yaml"
    values_file.write_text(dump({"custom": {"jhubManaged": {"idle_timeout": -1}}}))
    monkeypatch.setenv("JHUB_MANAGED_VALUES_FILE", str(values_file))
    with pytest.raises(ConfigureError, match=r"^custom.jhubManaged: idle_timeout cannot be"):
        exec(compile(CONFIG_D.read_text(), CONFIG_D.name, "exec"), {"c": Config()})  # noqa: S102
    values_file.write_text(dump({"custom": {"jhubManaged": {"hub_nmae": "x"}}}))
    with pytest.raises(ConfigureError, match=r"custom.jhubManaged.hub_nmae is not an option"):
        exec(compile(CONFIG_D.read_text(), CONFIG_D.name, "exec"), {"c": Config()})  # noqa: S102
