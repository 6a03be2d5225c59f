"""``jhub-managed fleet`` as an operator runs it: from the wheel, in a directory that holds
only a fleet, with an environment that points nowhere.

The wheel is built from this source tree (``python -m build --wheel``) and installed with
its dependencies into a fresh venv, once per test session. Each command runs that venv's
``jhub-managed`` with the fleet's directory as its working directory: ``fleet.yaml``, the
values files and the chart, with zero-to-jupyterhub's real chart in its ``charts/`` as
`helm dependency build` leaves it. The environment holds ``PATH`` (the real helm, or a
stand-in that records ``helm upgrade``) and ``HOME`` only, plus the operator's token for
``status`` and ``report``; no variable names a folder of the source tree or beside it. A
real demo hub stands in for one hub's URL, as in ``test_fleet_deploy``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from .fixtures.demo import start_demo
from .fixtures.fleet import (
    CHART,
    FLEET_DIR,
    STAND_IN_HELM,
    Result,
    add_dependency,
    edit_yaml,
    helm_binary,
    operator_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = CHART.parent.parent
TOKEN = secrets.token_hex(16)
OURS = ("jupyterhub", "custom", "jhubManaged")


def run(args: list, what: str, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    assert proc.returncode == 0, f"{what} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel of this source tree and its dependencies installed."""
    tmp = tmp_path_factory.mktemp("installed")
    run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", tmp / "dist", ROOT],
        "python -m build --wheel (the build package is in the test extra)",
        timeout=600,
    )
    [wheel] = (tmp / "dist").glob("jhub_managed-*.whl")
    venv = tmp / "venv"
    # no pip of its own: this venv's pip installs into it (pip --python)
    run([sys.executable, "-m", "venv", "--without-pip", venv], "python -m venv")
    run(
        [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", wheel],
        f"pip install {wheel.name}",
        timeout=900,
    )
    return venv


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A real hub answering for physics-course, with the operator's token."""
    tmp = tmp_path_factory.mktemp("physics")
    extra = tmp / "operator_config.py"
    extra.write_text(operator_config(TOKEN))
    started = start_demo(tmp, ["--config", str(extra)])
    yield started
    started.process.signal(signal.SIGINT)
    started.process.stop(timeout=20)


@pytest.fixture
def fleet_dir(tmp_path) -> Path:
    """A directory with only a fleet: fleet.yaml, the values files and the chart, its
    dependency in charts/."""
    folder = tmp_path / "operator" / "fleet"
    shutil.copytree(FLEET_DIR, folder, ignore=shutil.ignore_patterns(".fleet-state"))
    shutil.copytree(
        CHART,
        folder / "jhub-managed",
        ignore=shutil.ignore_patterns("charts", "Chart.lock", "values.schema.json"),
    )
    add_dependency(folder / "jhub-managed")
    edit_yaml(folder / "fleet.yaml", lambda d: d.update(chart="jhub-managed"))
    return folder


class Operator:
    """Runs the installed ``jhub-managed fleet`` in the fleet's directory."""

    def __init__(self, venv: Path, folder: Path, tmp: Path):
        self.venv = venv
        self.folder = folder
        self.home = tmp / "home"
        self.home.mkdir()
        self.tools = tmp / "tools"  # the operator's PATH: the real helm
        self.tools.mkdir()
        (self.tools / "helm").symlink_to(helm_binary())
        self.stand_in = tmp / "stand-in"  # or a helm that records upgrades
        self.stand_in.mkdir()
        self.log = tmp / "helm-calls.jsonl"
        (self.stand_in / "helm.py").write_text(STAND_IN_HELM.format(python=sys.executable))
        (self.stand_in / "helm").write_text(
            textwrap.dedent(
                f"""\
                #!/bin/sh
                JHM_STAND_IN_LOG={self.log} exec {sys.executable} {self.stand_in / "helm.py"} "$@"
                """
            )
        )
        (self.stand_in / "helm").chmod(0o755)

    def env(self, stand_in: bool = False, token: bool = False) -> dict[str, str]:
        tools = self.stand_in if stand_in else self.tools
        env = {"PATH": f"{tools}:/usr/bin:/bin", "HOME": str(self.home)}
        if token:
            env["PHYSICS_COURSE_TOKEN"] = TOKEN
        return env

    def fleet(self, *args: str, stand_in: bool = False, token: bool = False) -> Result:
        proc = subprocess.run(
            [self.venv / "bin" / "jhub-managed", "fleet", *args, "--fleet", "fleet.yaml"],
            cwd=self.folder,
            env=self.env(stand_in, token),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in result.text, result.text
        return result

    def helm_calls(self) -> list[str]:
        if not self.log.is_file():
            return []
        return [line for line in self.log.read_text().splitlines() if line]


@pytest.fixture
def operator(installed, fleet_dir, tmp_path) -> Operator:
    return Operator(installed, fleet_dir, tmp_path)


def test_the_command_runs_the_installed_package(operator):
    proc = run(
        [
            operator.venv / "bin" / "python",
            "-c",
            "import jhub_managed; print(jhub_managed.__file__)",
        ],
        "import jhub_managed",
        cwd=operator.folder,
        env=operator.env(),
    )
    assert proc.stdout.startswith(str(operator.venv / "lib")), proc.stdout
    assert sorted(p.name for p in operator.folder.iterdir()) == [
        "common.values.yaml",
        "fleet.yaml",
        "hubs",
        "jhub-managed",
    ]


def test_validate_names_the_hub_the_file_and_the_key(operator):
    result = operator.fleet("validate")
    assert result.code == 0, result.text
    assert (
        "3 hub(s) valid against our schema, zero-to-jupyterhub 4.4.0's "
        "(charts/jupyterhub-4.4.0.tgz), the settings schema and ceilings" in result.out
    )
    hubs = operator.folder / "hubs"

    def typo_in_z2jh(d):
        d["jupyterhub"]["hub"]["extraConfg"] = {"debug": "c.JupyterHub.log_level = 10"}

    def typo_in_ours(d):
        node = d
        for key in OURS:
            node = node.setdefault(key, {})
        node["idle_timout"] = 600

    def bad_ceiling(d):
        d["jupyterhub"]["custom"]["jhubManaged"]["ceilings"]["cpu_limit"] = "lots"

    edit_yaml(hubs / "physics-course.values.yaml", typo_in_z2jh)
    edit_yaml(hubs / "genomics-research.values.yaml", typo_in_ours)
    edit_yaml(hubs / "summer-workshop.values.yaml", bad_ceiling)
    result = operator.fleet("validate")
    assert result.code == 1, result.text
    lines = result.err.splitlines()
    assert (
        "hub physics-course: hubs/physics-course.values.yaml: jupyterhub.hub.extraConfg: "
        "zero-to-jupyterhub: unknown key 'extraConfg'"
    ) in [line.split(" (known:")[0] for line in lines]
    assert (
        "hub genomics-research: hubs/genomics-research.values.yaml: "
        "jupyterhub.custom.jhubManaged.idle_timout: unknown key 'idle_timout'"
    ) in [line.split(" (known:")[0] for line in lines]
    assert any(
        line.startswith(
            "hub summer-workshop: hubs/summer-workshop.values.yaml: "
            "jupyterhub.custom.jhubManaged.ceilings.cpu_limit: "
        )
        and "'lots'" in line
        for line in lines
    ), result.err
    assert lines[-1] == "3 error(s) in 3 hub(s)"


def test_render_deploy_status_and_report(operator, hub):
    result = operator.fleet("render", "--out", "rendered")
    assert result.code == 0, result.text
    manifests = operator.folder / "rendered" / "physics-course" / "manifests.yaml"
    objects = [o for o in yaml.safe_load_all(manifests.read_text()) if o]
    rendered = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {("Deployment", "hub"), ("Service", "physics-course-jhm-usage-metrics")} <= rendered

    edit_yaml(
        operator.folder / "fleet.yaml",
        lambda d: d["hubs"][0].update(url=hub.url),  # physics-course
    )
    result = operator.fleet("deploy", "--hub", "physics-course", stand_in=True)
    assert result.code == 0, result.text
    assert "deployed 1 hub(s): physics-course" in result.out
    [call] = [json.loads(line) for line in operator.helm_calls()]
    assert call["args"][:4] == [
        "upgrade",
        "--install",
        "physics-course",
        str(operator.folder / "jhub-managed"),
    ]
    given = yaml.safe_load(call["values"])["jupyterhub"]["custom"]["jhubManaged"]
    assert given["hub_name"] == "physics-course"

    result = operator.fleet("status", "--hub", "physics-course", token=True)
    assert result.code == 0, result.text
    assert result.out.splitlines()[1].split()[:2] == ["physics-course", "ok"]

    today = datetime.now(timezone.utc).date().isoformat()
    result = operator.fleet(
        "report", "--hub", "physics-course", "--start", today, "--end", today,
        "--out", "report.csv", token=True,
    )  # fmt: skip
    assert result.code == 0, result.text
    assert "from 1 hub(s) written to report.csv" in result.out
    assert (operator.folder / "report.csv").read_text().splitlines()[0].startswith("hub")


def test_without_the_dependency_each_command_says_how_to_get_it(operator):
    chart = operator.folder / "jhub-managed"
    shutil.rmtree(chart / "charts")
    hint = (
        f"jhub-managed fleet: {chart}/Chart.yaml: dependencies[0]: the chart's dependency "
        f"jupyterhub 4.4.0 (zero-to-jupyterhub) is not in {chart}/charts/: fetch it with "
        f"`helm dependency build {chart}`, or pass --skip-dependency-schema to go on without "
        "its schema\n"
    )
    # (deploy stops the same way: test_fleet_deploy)
    for command in (["validate"], ["render", "--out", "rendered"]):
        result = operator.fleet(*command)
        assert result.code == 2, result.text
        assert result.err == hint
    assert not (operator.folder / "rendered").exists()

    # the operator's explicit choice: our own checks, and our own objects only
    result = operator.fleet("validate", "--skip-dependency-schema")
    assert result.code == 0, result.text
    assert "note: the chart's dependencies were left out (--skip-dependency-schema)" in (result.err)
    result = operator.fleet("render", "--out", "rendered", "--skip-dependency-schema")
    assert result.code == 0, result.text
    manifests = operator.folder / "rendered" / "summer-workshop" / "manifests.yaml"
    kinds = {o["kind"] for o in yaml.safe_load_all(manifests.read_text()) if o}
    assert kinds == {"Service", "NetworkPolicy"}
