"""``jhub-managed fleet validate``: the example fleet passes; each kind of wrong value is
refused with the hub, the file and the key path named, and no traceback.

Cases are a table: ``(case id, file to change, change, hubs named, key, words of the message)``.
The fleet is a copy of the example fleet whose chart has zero-to-jupyterhub's real chart in
its charts/ folder, as `helm dependency build` leaves it: its own schema judges the
``jupyterhub:`` values.
"""

from __future__ import annotations

import io
import tarfile

import pytest

from jhub_managed.cli import main

from .fixtures.fleet import (
    EXAMPLE_HUBS,
    FLEET_FILE,
    Z2JH_CHART,
    copy_fleet,
    edit_yaml,
    needs_z2jh,
    run_fleet,
)

OURS = ("jupyterhub", "custom", "jhubManaged")


def ours(data) -> dict:
    node = data
    for key in OURS:
        node = node.setdefault(key, {})
    return node


def hub_of(data) -> dict:
    return data.setdefault("jupyterhub", {}).setdefault("hub", {})


PHYSICS = "hubs/physics-course.values.yaml"
GENOMICS = "hubs/genomics-research.values.yaml"
WORKSHOP = "hubs/summer-workshop.values.yaml"
COMMON = "common.values.yaml"

CASES = [
    (
        "unknown-option",
        PHYSICS,
        lambda d: ours(d).update(hub_nmae="physics"),
        ["physics-course"],
        "jupyterhub.custom.jhubManaged.hub_nmae",
        "unknown key 'hub_nmae'",
    ),
    (
        "wrong-type",
        GENOMICS,
        lambda d: ours(d).update(idle_timeout="soon"),
        ["genomics-research"],
        "jupyterhub.custom.jhubManaged.idle_timeout",
        "is not of type 'integer'",
    ),
    (
        "bad-hub-name",
        WORKSHOP,
        lambda d: ours(d).update(hub_name="Summer_Workshop"),
        ["summer-workshop"],
        "jupyterhub.custom.jhubManaged.hub_name",
        "does not match",
    ),
    (
        "ceiling-not-a-number",
        PHYSICS,
        lambda d: ours(d).update(ceilings={"cpu_limit": "lots"}),
        ["physics-course"],
        "jupyterhub.custom.jhubManaged.ceilings.cpu_limit",
        "could not convert",
    ),
    (
        "z2jh-unknown-key",
        GENOMICS,
        lambda d: hub_of(d).update(extraPortz=[]),
        ["genomics-research"],
        "jupyterhub.hub.extraPortz",
        "zero-to-jupyterhub: unknown key 'extraPortz'",
    ),
    (
        "z2jh-misspelt-key",
        PHYSICS,
        lambda d: hub_of(d).update(extraConfg={"ours": "c.JupyterHub.log_level = 10"}),
        ["physics-course"],
        "jupyterhub.hub.extraConfg",
        "zero-to-jupyterhub: unknown key 'extraConfg'",
    ),
    (
        # helm gives a subchart the parent's global values: checked there, named here
        "z2jh-global-wrong-type",
        COMMON,
        lambda d: d.update({"global": {"safeToShowValues": "yes"}}),
        EXAMPLE_HUBS,
        "global.safeToShowValues",
        "zero-to-jupyterhub: 'yes' is not of type 'boolean'",
    ),
    (
        "z2jh-wrong-type",
        WORKSHOP,
        lambda d: hub_of(d).update(image={"tag": 5}),
        ["summer-workshop"],
        "jupyterhub.hub.image.tag",
        "zero-to-jupyterhub: 5 is not of type 'string'",
    ),
    (
        # a missing slug is derived from the name, as KubeSpawner derives it; a name is needed
        "profile-without-name",
        PHYSICS,
        lambda d: ours(d)["hub_values"]["profiles"][0].pop("display_name"),
        ["physics-course"],
        "jupyterhub.custom.jhubManaged.hub_values.profiles[0]",
        "'display_name' is a required property",
    ),
    (
        "over-the-ceiling",
        PHYSICS,
        lambda d: ours(d)["hub_values"]["profiles"][1]["kubespawner_override"].update(
            mem_limit="64G"
        ),
        ["physics-course"],
        "jupyterhub.custom.jhubManaged.hub_values.profiles[1].kubespawner_override.mem_limit",
        "above the operator's ceiling",
    ),
    (
        # the profile is in the common file, the ceiling it breaks in the hub's: both named
        "operator-default-over-a-hubs-ceiling",
        WORKSHOP,
        lambda d: ours(d)["ceilings"].update(cpu_limit=1),
        ["summer-workshop"],
        "jupyterhub.custom.jhubManaged.operator_defaults.profiles[0].kubespawner_override"
        ".cpu_limit",
        "above the operator's ceiling of 1 CPU "
        f"(ceilings.cpu_limit is set in {{fleet}}/{WORKSHOP})",
        COMMON,
    ),
    (
        "z2jh-culler-on",
        GENOMICS,
        lambda d: d["jupyterhub"].update(cull={"enabled": True}),
        ["genomics-research"],
        "jupyterhub.cull.enabled",
        "idle culler must be off",
    ),
    (
        "z2jh-service-named-like-ours",
        PHYSICS,
        lambda d: hub_of(d).update(services={"usage": {"url": "http://elsewhere:1"}}),
        ["physics-course"],
        "jupyterhub.hub.services.usage",
        "is a jhub-managed service",
    ),
    (
        "profiles-in-z2jh",
        WORKSHOP,
        lambda d: d["jupyterhub"].update(
            singleuser={"profileList": [{"display_name": "x", "slug": "x"}]}
        ),
        ["summer-workshop"],
        "jupyterhub.singleuser.profileList",
        "would be ignored: profiles come from the hub's settings",
    ),
    (
        "client-secret-in-values",
        PHYSICS,
        lambda d: hub_of(d)["config"]["ManagedGitHubOAuthenticator"].update(
            client_secret="hunter2"
        ),
        ["physics-course"],
        "jupyterhub.hub.config.ManagedGitHubOAuthenticator.client_secret",
        "a secret in a values file",
    ),
    (
        "secret-env-as-text",
        COMMON,
        lambda d: hub_of(d)["extraEnv"].update(OAUTH_CLIENT_SECRET="hunter2"),
        EXAMPLE_HUBS,
        "jupyterhub.hub.extraEnv.OAUTH_CLIENT_SECRET",
        "take it from a Kubernetes Secret",
    ),
    (
        "password-in-db-url",
        COMMON,
        lambda d: ours(d).update(db_url="postgresql+psycopg://jhm:hunter2@db/jhm"),
        EXAMPLE_HUBS,
        "jupyterhub.custom.jhubManaged.db_url",
        "a password in db_url",
    ),
    (
        "service-port-not-on-the-hub-service",
        GENOMICS,
        lambda d: ours(d).update(service_ports={"usage": 10200}),
        ["genomics-research"],
        "jupyterhub.custom.jhubManaged.service_ports.usage",
        "port 10200 of the usage service is not on the hub Service",
    ),
]
CASES = [(*case, case[1]) if len(case) == 6 else case for case in CASES]


@needs_z2jh
def test_the_example_fleet_is_valid(tmp_path, capsys):
    fleet_file = copy_fleet(tmp_path)
    assert main(["fleet", "validate", "--fleet", str(fleet_file)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith(
        "3 hub(s) valid against our schema, zero-to-jupyterhub 4.4.0's "
        "(charts/jupyterhub-4.4.0.tgz), the settings schema and ceilings: physics-course, "
    )


@needs_z2jh
@pytest.mark.parametrize(
    ("case", "file", "change", "hubs", "key", "words", "named"), CASES, ids=[c[0] for c in CASES]
)
def test_wrong_values_are_refused_naming_hub_file_and_key(
    tmp_path, capsys, case, file, change, hubs, key, words, named
):
    fleet_file = copy_fleet(tmp_path)
    edit_yaml(fleet_file.parent / file, change)
    target = fleet_file.parent / named
    words = words.replace("{fleet}", str(fleet_file.parent))
    before = {p: p.read_text() for p in fleet_file.parent.rglob("*.yaml")}

    assert main(["fleet", "validate", "--fleet", str(fleet_file)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if key + ":" in line and words in line]
    assert sorted(line.split(":")[0].removeprefix("hub ") for line in lines) == sorted(hubs), err
    for line in lines:
        assert f": {target}: {key}: " in line, line
    # validate changes nothing
    assert {p: p.read_text() for p in fleet_file.parent.rglob("*.yaml")} == before


def test_validate_of_one_hub_only_looks_at_that_hub(tmp_path, capsys):
    fleet_file = copy_fleet(tmp_path)
    edit_yaml(fleet_file.parent / PHYSICS, lambda d: ours(d).update(hub_nmae="x"))
    args = ["fleet", "validate", "--fleet", str(fleet_file), "--hub", "summer-workshop"]
    assert main(args) == 0, capsys.readouterr().err
    assert main([*args, "--hub", "physics-course"]) == 1
    assert "hub physics-course:" in capsys.readouterr().err


def test_without_the_dependency_validate_stops_saying_how_to_fetch_it(tmp_path):
    fleet_file = copy_fleet(tmp_path, dependency=False)
    edit_yaml(fleet_file.parent / PHYSICS, lambda d: hub_of(d).update(extraConfg={}))
    chart = tmp_path / "jhub-managed"
    result = run_fleet("validate", "--fleet", str(fleet_file))
    assert result.code == 2, result.text
    assert result.err == (
        f"jhub-managed fleet: {chart}/Chart.yaml: dependencies[0]: the chart's dependency "
        f"jupyterhub 4.4.0 (zero-to-jupyterhub) is not in {chart}/charts/: fetch it with "
        f"`helm dependency build {chart}`, or pass --skip-dependency-schema to go on without "
        "its schema\n"
    )
    assert result.out == ""
    assert not (chart / "charts").exists()

    # the operator's explicit choice: our own checks only, said so
    result = run_fleet("validate", "--fleet", str(fleet_file), "--skip-dependency-schema")
    assert result.code == 0, result.text
    assert result.err.startswith("note: the chart's dependencies were left out")
    assert "(zero-to-jupyterhub's) were not checked" in result.err
    assert "3 hub(s) valid against our schema, the settings schema and ceilings" in result.out
    edit_yaml(fleet_file.parent / PHYSICS, lambda d: ours(d).update(hub_nmae="x"))
    result = run_fleet("validate", "--fleet", str(fleet_file), "--skip-dependency-schema")
    assert result.code == 1, result.text
    assert "jupyterhub.custom.jhubManaged.hub_nmae: unknown key 'hub_nmae'" in result.err


@needs_z2jh
def test_another_version_of_the_dependency_is_refused(tmp_path):
    fleet_file = copy_fleet(tmp_path, dependency=False)
    chart = tmp_path / "jhub-managed"
    (chart / "charts").mkdir()
    # the real chart with another version in its Chart.yaml, as an older fetch left it
    with (
        tarfile.open(Z2JH_CHART) as real,
        tarfile.open(chart / "charts" / "jupyterhub-4.3.0.tgz", "w:gz") as old,
    ):
        for member in real:
            data = real.extractfile(member).read() if member.isfile() else None
            if member.name == "jupyterhub/Chart.yaml":
                data = data.replace(b"\nversion: 4.4.0\n", b"\nversion: 4.3.0\n")
                member.size = len(data)
            old.addfile(member, io.BytesIO(data) if data is not None else None)
    result = run_fleet("validate", "--fleet", str(fleet_file))
    assert result.code == 2, result.text
    assert (
        "dependencies[0]: the chart's dependency jupyterhub 4.4.0 (zero-to-jupyterhub): "
        f"{chart}/charts/ holds jupyterhub 4.3.0 (jupyterhub-4.3.0.tgz) instead: fetch it with "
        f"`helm dependency build {chart}`"
    ) in result.err


@needs_z2jh
def test_an_unpacked_dependency_judges_too(tmp_path, capsys):
    fleet_file = copy_fleet(tmp_path, dependency=False)
    charts = tmp_path / "jhub-managed" / "charts"
    charts.mkdir()
    with tarfile.open(Z2JH_CHART) as real:
        real.extractall(charts, filter="data")
    edit_yaml(fleet_file.parent / WORKSHOP, lambda d: hub_of(d).update(extraConfg={}))
    assert main(["fleet", "validate", "--fleet", str(fleet_file)]) == 1
    err = capsys.readouterr().err
    assert (
        f"hub summer-workshop: {fleet_file.parent / WORKSHOP}: jupyterhub.hub.extraConfg: "
        "zero-to-jupyterhub: unknown key 'extraConfg'"
    ) in err


def test_a_dependency_that_is_not_a_chart_is_named(tmp_path):
    fleet_file = copy_fleet(tmp_path, dependency=False)
    charts = tmp_path / "jhub-managed" / "charts"
    charts.mkdir()
    (charts / "jupyterhub-4.4.0.tgz").write_bytes(b"<html>not found</html>")
    result = run_fleet("validate", "--fleet", str(fleet_file))
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    assert f"jhub-managed fleet: {charts}/jupyterhub-4.4.0.tgz: can't read this chart: " in (
        result.err
    )


@pytest.mark.parametrize(
    ("case", "change", "words"),
    [
        ("unknown-key", lambda d: d.update(hubz=[]), "fleet.yaml: hubz: unknown key 'hubz'"),
        ("no-url", lambda d: d["hubs"][0].pop("url"), "'url' is a required property"),
        (
            "bad-name",
            lambda d: d["hubs"][1].update(name="Genomics"),
            "hubs[1].name: 'Genomics' is not allowed here",
        ),
        (
            "same-name-twice",
            lambda d: d["hubs"][2].update(name="physics-course"),
            "hub physics-course: ",
        ),
        ("no-chart", lambda d: d.update(chart="../nowhere"), "chart: no chart at"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " not in v else "",
)
def test_a_wrong_fleet_file_is_one_clear_line(tmp_path, case, change, words):
    fleet_file = copy_fleet(tmp_path, dependency=False)
    edit_yaml(fleet_file, change)
    result = run_fleet("validate", "--fleet", str(fleet_file))
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    assert words in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err


def test_broken_yaml_and_missing_files_are_named(tmp_path, capsys):
    fleet_file = copy_fleet(tmp_path)
    (fleet_file.parent / WORKSHOP).write_text("jupyterhub:\n  custom: [unclosed\n")
    (fleet_file.parent / GENOMICS).unlink()
    assert main(["fleet", "validate", "--fleet", str(fleet_file)]) == 1
    err = capsys.readouterr().err
    assert f"hub summer-workshop: {fleet_file.parent / WORKSHOP}: not valid YAML at line" in err
    assert f"hub genomics-research: {fleet_file.parent / GENOMICS}: can't read it" in err
    assert "Traceback" not in err


def test_an_unknown_hub_is_refused(capsys):
    assert main(["fleet", "status", "--fleet", str(FLEET_FILE), "--hub", "chemistry"]) == 2
    assert "no hub named 'chemistry'" in capsys.readouterr().err
