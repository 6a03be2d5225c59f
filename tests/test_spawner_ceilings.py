"""Ceilings set on a managed spawner class directly are checked at hub start (by
``configure()``), and the hub's services use them too; a spawner made with a wrong value
says which."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jhub_managed.hub import ConfigureError, ManagedHub, configure
from jhub_managed.spawner import ManagedLocalSpawner


@pytest.mark.parametrize("section", ["ManagedKubeSpawner", "ManagedLocalSpawner"])
@pytest.mark.parametrize(
    ("ceilings", "words"),
    [({"cpu": 2}, "unknown ceiling 'cpu'"), ({"mem_limit": "lots"}, "not a memory quantity")],
)
def test_a_wrong_value_stops_the_hub_at_start(tmp_path, section, ceilings, words):
    c = Config()
    c[section].ceilings = ceilings
    with pytest.raises(ConfigureError) as info:
        configure(c, data_dir=str(tmp_path))
    assert f"c.{section}.ceilings" in str(info.value) and words in str(info.value)
    assert "services" not in c.JupyterHub


def test_a_right_value_is_the_hubs_ceilings_for_spawners_and_services(tmp_path):
    c = Config()
    c.ManagedKubeSpawner.ceilings = {"cpu_limit": 2}
    hub = configure(c, data_dir=str(tmp_path))
    assert hub.ceilings == {"cpu_limit": 2}
    assert ManagedLocalSpawner(config=c).operator_ceilings.cpu_limit == 2
    config = next(s for s in c.JupyterHub.services if s["name"] == "config")
    assert ManagedHub.from_environment(config["environment"]).ceilings == {"cpu_limit": 2}


def test_two_different_ceilings_are_refused(tmp_path):
    c = Config()
    c.ManagedKubeSpawner.ceilings = {"cpu_limit": 2}
    with pytest.raises(ConfigureError, match="set the ceilings once"):
        configure(c, data_dir=str(tmp_path), ceilings={"cpu_limit": 4})


def test_a_spawner_made_with_a_wrong_value_names_it():
    config = Config({"ManagedLocalSpawner": {"ceilings": {"gpu_limit": "many"}}})
    with pytest.raises(ValueError, match=r"ManagedLocalSpawner.ceilings: ceiling 'gpu_limit'"):
        ManagedLocalSpawner(config=config)
