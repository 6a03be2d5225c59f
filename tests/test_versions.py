"""Which JupyterHub the suite runs on: ``make test`` on the newest, ``make test-jh55`` on 5.5.0.

``make test-jh55`` sets ``JHUB_MANAGED_EXPECT_JUPYTERHUB``; this test makes sure that run is
really on that version (a venv that quietly upgraded would test the wrong thing).
"""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _requirement(name: str) -> Requirement:
    # from pyproject.toml itself: an installed venv's metadata may be older than the file
    for line in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]:
        req = Requirement(line)
        if req.name == name and not req.marker:
            return req
    raise AssertionError(f"jhub-managed does not depend on {name}")


@pytest.mark.parametrize(
    "name", ["jupyterhub", "jupyterhub-kubespawner", "oauthenticator", "jupyterhub-idle-culler"]
)
def test_installed_versions_are_within_the_declared_ranges(name):
    installed = version(name)
    assert _requirement(name).specifier.contains(installed, prereleases=True), (name, installed)


def test_the_declared_ranges_admit_what_z2jh_4_4_ships():
    # zero-to-jupyterhub 4.4.0's hub image; the idle culler is the one exception (see the
    # hub image's Dockerfile: per-profile timeouts need jupyterhub-idle-culler 2)
    for name, shipped in [
        ("jupyterhub", "5.5.0"),
        ("jupyterhub-kubespawner", "7.0.0"),
        ("oauthenticator", "17.4.0"),
    ]:
        assert _requirement(name).specifier.contains(shipped), (name, shipped)
    assert not _requirement("jupyterhub-idle-culler").specifier.contains("1.4.0")


def test_runs_on_the_expected_jupyterhub():
    expected = os.environ.get("JHUB_MANAGED_EXPECT_JUPYTERHUB")
    if not expected:
        pytest.skip("JHUB_MANAGED_EXPECT_JUPYTERHUB is set by `make test-jh55` only")
    assert version("jupyterhub") == expected
    assert version("jupyterhub-kubespawner") == "7.0.0"


def test_every_service_field_is_one_this_jupyterhub_knows():
    # JupyterHub 5.5 stops at start on a field it does not know ("No such service field")
    from jupyterhub.services.service import Service

    from jhub_managed.hub import ManagedHub
    from jhub_managed.hubside.services import service_definitions

    known = set(Service.class_traits(input=True))
    hub = ManagedHub(service_ports={"config": 1, "usage": 2, "health": 3})
    for spec in service_definitions(hub):
        assert set(spec) <= known, (spec["name"], sorted(set(spec) - known))
