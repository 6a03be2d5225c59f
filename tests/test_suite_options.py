"""The suite's options are declared once (``ManagedHub``): ``configure()`` makes them, the
managed spawners read that same object, and the services rebuild it from
``$JHUB_MANAGED_CONFIG`` through the same validation, so a wrong value there stops a service
at start with one line that names the option."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from traitlets.config import Config

from jhub_managed.hub import CONFIG_ENV, HUB_FACTS, ConfigureError, ManagedHub, configure
from jhub_managed.spawner import ManagedLocalSpawner

from .fixtures.processes import free_port

OPTIONS = {
    "hub_name": "physics",
    "spawner": "local",
    "authenticator": "github",
    "staff_users": ["ops-alice"],
    "ceilings": {"cpu_limit": 4, "mem_limit": "8G"},
    "hub_values": {"announcement": {"text": "Welcome"}},
    "hub_admin_override_keys": ["tolerations"],
    "usage_rate_card": {"currency": "EUR", "server_hour": 0.01},
    "usage_budgets": {"physics": {"server_hours": 500}},
    "health_required": ["hub-api"],
    "health_timeouts": {"hub-api": 2.5},
    "idle_timeout": 600,
}


def _environment(c: Config, service: str = "config") -> dict[str, str]:
    return next(s for s in c.JupyterHub.services if s["name"] == service)["environment"]


def test_the_services_rebuild_the_hubs_options_from_their_environment(tmp_path):
    c = Config()
    c.ManagedAuthenticatorMixin.staff_group = "operators"
    hub = configure(c, data_dir=str(tmp_path), **OPTIONS)
    for service in ("config", "usage", "health"):
        rebuilt = ManagedHub.from_environment(_environment(c, service))
        assert rebuilt.option_values() == hub.option_values()
        assert {name: getattr(rebuilt, name) for name in HUB_FACTS} == {
            name: getattr(hub, name) for name in HUB_FACTS
        }
    # what the hub found in its own configuration, which a service cannot see
    assert rebuilt.staff_group == "operators"
    assert rebuilt.identity_provider_url == "https://api.github.com/user"
    assert rebuilt.data_dir == str(tmp_path)


def test_the_spawners_read_the_object_configure_made(tmp_path):
    c = Config()
    hub = configure(c, data_dir=str(tmp_path), **OPTIONS)
    spawner = ManagedLocalSpawner(config=c)
    assert spawner.managed_hub is hub
    assert spawner.operator_ceilings.cpu_limit == 4
    assert spawner.settings_source.base_document()["announcement"] == {"text": "Welcome"}
    # the spawner declares none of the suite's options itself
    assert not {"ceilings", "hub_values", "hub_name", "settings_db_url"} & set(
        ManagedLocalSpawner.class_traits(config=True)
    )


def test_a_spawner_configured_by_hand_reads_c_managed_hub(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    c = Config({"ManagedHub": {"db_url": db_url, "ceilings": {"gpu_limit": 1}}})
    spawner = ManagedLocalSpawner(config=c)
    assert spawner.managed_hub.db_url == db_url
    assert spawner.operator_ceilings.gpu_limit == 1
    assert spawner.usage_events is True
    c.ManagedHub.hub_name = "Not A Name"
    with pytest.raises(ConfigureError, match=r"^c.ManagedHub: hub_name 'Not A Name' must be"):
        ManagedLocalSpawner(config=c)


def test_options_set_on_the_spawner_before_configure_become_the_hubs(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    c = Config()
    c.ManagedKubeSpawner.settings_db_url = db_url
    c.ManagedKubeSpawner.hub_admin_override_keys = ["volumes"]
    hub = configure(c, spawner="local", data_dir=str(tmp_path))
    assert hub.db_url == db_url and hub.hub_admin_override_keys == ["volumes"]
    rebuilt = ManagedHub.from_environment(_environment(c))
    assert rebuilt.db_url == db_url and rebuilt.hub_admin_override_keys == ["volumes"]
    assert ManagedLocalSpawner(config=c).managed_hub is hub


def test_options_set_on_the_spawner_after_configure_are_checked_for_it(tmp_path):
    c = Config()
    hub = configure(c, spawner="local", data_dir=str(tmp_path), ceilings={"cpu_limit": 4})
    c.ManagedLocalSpawner.ceilings = {"cpu_limit": 2}
    spawner = ManagedLocalSpawner(config=c)
    assert spawner.operator_ceilings.cpu_limit == 2
    assert hub.ceilings == {"cpu_limit": 4}  # the hub's own are not changed
    c.ManagedLocalSpawner.ceilings = {"cpu": 2}
    with pytest.raises(ConfigureError, match=r"c.ManagedLocalSpawner.ceilings: unknown ceiling"):
        ManagedLocalSpawner(config=c)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"ceilings": {"cpu": 2}}, "ceilings: unknown ceiling 'cpu'"),
        ({"hub_name": "Physics Dept"}, "hub_name 'Physics Dept' must be"),
        ({"idle_timeout": "soon"}, "'idle_timeout' trait"),
        ({"hub_nmae": "physics"}, "unknown option 'hub_nmae'"),
    ],
)
def test_a_wrong_value_in_the_environment_is_one_clear_error(values, words):
    with pytest.raises(ConfigureError) as info:
        ManagedHub.from_environment({CONFIG_ENV: json.dumps(values)})
    assert str(info.value).startswith(f"${CONFIG_ENV}: ") and words in str(info.value)


def test_the_environment_must_be_a_json_object():
    with pytest.raises(ConfigureError, match="not JSON"):
        ManagedHub.from_environment({CONFIG_ENV: "{ceilings"})
    with pytest.raises(ConfigureError, match="a JSON object"):
        ManagedHub.from_environment({CONFIG_ENV: "[]"})


@pytest.mark.parametrize("service", ["config", "usage", "health"])
def test_a_service_with_a_wrong_value_stops_at_start_naming_it(tmp_path, service):
    env = dict(
        os.environ,
        JUPYTERHUB_API_TOKEN="not-a-real-token",
        JUPYTERHUB_API_URL=f"http://127.0.0.1:{free_port()}/hub/api",
        **{CONFIG_ENV: json.dumps({"data_dir": str(tmp_path), "ceilings": {"cpu": 2}})},
    )
    port = free_port()
    command = [sys.executable, "-m", f"jhub_managed.services.{service}"]
    done = subprocess.run(
        [*command, "--ip=127.0.0.1", f"--port={port}"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        f"jhub-managed {service} service: ${CONFIG_ENV}: ceilings: unknown ceiling 'cpu'"
    )


def test_valid_configured_profile_lists_are_remembered_per_hub_and_bounded():
    """A callable profile_list's lists are checked once each, remembered on the hub's one
    options object (not on a class), and never more than a bounded number of them."""
    from jhub_managed.settings import Ceilings
    from jhub_managed.spawner.mixin import (
        MAX_REMEMBERED_LISTS,
        ConfiguredProfilesError,
        check_configured_profiles,
    )

    hub = ManagedHub()
    remembered = hub.valid_profile_lists
    assert remembered == set() and ManagedHub().valid_profile_lists is not remembered
    ceilings = Ceilings()
    for i in range(MAX_REMEMBERED_LISTS + 5):
        check_configured_profiles(
            [{"slug": f"p{i}", "display_name": f"P {i}"}], ceilings, remembered
        )
        assert 0 < len(remembered) <= MAX_REMEMBERED_LISTS
    with pytest.raises(ConfiguredProfilesError, match="slug"):
        check_configured_profiles([{"display_name": "no slug"}], ceilings, remembered)
    assert len(remembered) <= MAX_REMEMBERED_LISTS
