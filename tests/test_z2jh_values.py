"""The chart's values inside a hub, read as zero-to-jupyterhub 4.4.0 reads them.

z2jh's hub mounts the Secret ``hub`` (key ``values.yaml``) in
``/usr/local/etc/jupyterhub/secret/`` and, when ``hub.existingSecret`` is set, that Secret in
``existing-secret/``; its ``z2jh.get_config`` merges the second over the first. The suite
reads them with that function inside the hub (tests/test_chart_pod_e2e.py runs it so), and
the same files in the same order where ``z2jh`` cannot be imported: checked here against
z2jh's own module, taken from its chart.
"""

from __future__ import annotations

import importlib.util
import tarfile

import pytest
import yaml

from jhub_managed.fleet.hubconfig import (
    VALUES_SOURCES,
    merge_values,
    options_from_values,
    read_values,
    z2jh_values,
)
from jhub_managed.hub import ConfigureError

from .fixtures.z2jh_pod import Z2JH_CHART

SECRET = {
    "custom": {"jhubManaged": {"hub_name": "physics", "ceilings": {"cpu_limit": 4}}},
    "hub": {"config": {"JupyterHub": {"admin_access": False}}},
}
EXISTING = {"custom": {"jhubManaged": {"ceilings": {"mem_limit": "8G"}, "idle_timeout": 60}}}


@pytest.fixture
def z2jh_module(tmp_path):
    """z2jh's own ``z2jh.py`` from its chart 4.4.0."""
    if not Z2JH_CHART.exists():
        pytest.skip(f"zero-to-jupyterhub's chart is not at {Z2JH_CHART} (../shared/z2jh)")
    with tarfile.open(Z2JH_CHART) as tar:
        source = tar.extractfile("jupyterhub/files/hub/z2jh.py").read()
    path = tmp_path / "z2jh.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("z2jh_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(root, values):
    for source, content in zip(VALUES_SOURCES, values, strict=False):
        if content is not None:
            path = root / source
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(content))


def test_the_secrets_values_and_the_existing_secrets_merged_over_them(tmp_path, z2jh_module):
    write(tmp_path, [SECRET, EXISTING])
    values = z2jh_values(str(tmp_path))
    # exactly what z2jh's own merge makes of the two, in its order
    assert values == z2jh_module._merge_dictionaries(SECRET, EXISTING)
    assert values["custom"]["jhubManaged"] == {
        "hub_name": "physics",
        "ceilings": {"cpu_limit": 4, "mem_limit": "8G"},
        "idle_timeout": 60,
    }
    assert options_from_values(values)["ceilings"] == {"cpu_limit": 4, "mem_limit": "8G"}


@pytest.mark.parametrize(
    "a, b",
    [
        ({"x": {"y": 1}}, {"x": {"z": 2}}),
        ({"x": {"y": 1}}, {"x": None}),
        ({"x": [1, 2]}, {"x": [3]}),
        ({"x": 1}, {"x": {"y": 2}}),
        ({}, {"a": {"b": {"c": 1}}}),
    ],
)
def test_the_merge_is_z2jhs(a, b, z2jh_module):
    assert merge_values(a, b) == z2jh_module._merge_dictionaries(a, b)


def test_the_secrets_values_alone(tmp_path):
    write(tmp_path, [SECRET, None])
    assert z2jh_values(str(tmp_path)) == SECRET


def test_no_values_mounted_is_one_clear_error_naming_where_z2jh_mounts_them(tmp_path):
    with pytest.raises(ConfigureError) as error:
        z2jh_values(str(tmp_path))
    assert str(tmp_path / "secret" / "values.yaml") in str(error.value)
    assert str(tmp_path / "existing-secret" / "values.yaml") in str(error.value)
    # never the ConfigMap's folder, which holds only the chart's files and names
    assert "config/values.yaml" not in str(error.value)


def test_values_that_are_not_a_mapping_are_named(tmp_path):
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "values.yaml").write_text("- a list\n")
    with pytest.raises(ConfigureError, match=r"secret/values\.yaml are not a mapping"):
        z2jh_values(str(tmp_path))


def test_an_explicit_values_file_outside_z2jh(tmp_path, monkeypatch):
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(SECRET))
    monkeypatch.setenv("JHUB_MANAGED_VALUES_FILE", str(path))
    assert read_values() == SECRET
