"""A settings version that reached the store without the settings service (written to the
database directly) can't give a pod what a hub admin may not: the profile is not offered,
a request for it is refused, and its keys never reach ``get_pod_manifest()``. The same keys
from the operator's layer do.
"""

from __future__ import annotations

import copy

import pytest
from tornado import web
from traitlets.config import Config

from jhub_managed.settings.allowlist import HUB_ADMIN_KEYS
from jhub_managed.spawner import ManagedKubeSpawner
from jhub_managed.store import SettingsStore

from .fixtures.pod_manifests import manifest_for, spawner_user
from .fixtures.refusals import REFUSED, REFUSED_IDS, profile_with

pytestmark = [pytest.mark.kube]

SMALL = {
    "display_name": "Small",
    "slug": "small",
    "default": True,
    "kubespawner_override": {"image": "quay.io/jupyter/minimal-notebook:2025-01-06"},
}


@pytest.fixture
def db_url(tmp_path):
    yield f"sqlite:///{tmp_path / 'jhub-managed.sqlite'}"


def store_directly(db_url: str, document: dict) -> None:
    store = SettingsStore(db_url)
    store.save(document, author="someone with the database password", expected_version=0)
    store.dispose()


def spawner_for(kube_emulator, db_url: str, **suite) -> ManagedKubeSpawner:
    """A spawner configured by hand: the suite's options in ``c.ManagedHub``."""
    config = Config(
        {
            "ManagedHub": {"db_url": db_url, "hub_name": "spawn-test", **suite},
            "ManagedKubeSpawner": {
                **kube_emulator.spawner_config(),
                "cmd": ["jupyterhub-singleuser"],
            },
        }
    )
    return ManagedKubeSpawner(_mock=True, user=spawner_user("mallory", []), config=config)


def applied(spawner: ManagedKubeSpawner, key: str, value):
    """What the spawner holds for ``key`` after a start, in ``value``'s terms."""
    if key == "environment":
        return {name: spawner.environment.get(name) for name in value}
    if key in ("extra_resource_limits", "extra_resource_guarantees"):
        return {name: getattr(spawner, key).get(name) for name in value}
    return getattr(spawner, key)


def carries(held, value) -> bool:
    """Whether what the spawner holds includes ``value`` (every item of a mapping)."""
    if isinstance(value, dict) and isinstance(held, dict):
        return all(held.get(k) == v for k, v in value.items())
    return held == value


@pytest.mark.parametrize(("key", "value", "pointer"), [r[1:] for r in REFUSED], ids=REFUSED_IDS)
async def test_a_refused_key_written_into_the_store_never_reaches_the_pod(
    kube_emulator, db_url, key, value, pointer
):
    store_directly(db_url, {"profiles": [SMALL, profile_with(key, value, slug="root")]})
    spawner = spawner_for(kube_emulator, db_url)
    before = copy.deepcopy(applied(spawner, key, value))

    assert [p["slug"] for p in spawner.allowed_profiles()] == ["small"]
    assert 'value="root"' not in await spawner.managed_options_form()
    with pytest.raises(web.HTTPError) as refused:
        await manifest_for(spawner, {"profile": "root"})
    assert refused.value.status_code == 400
    assert applied(spawner, key, value) == before
    assert not carries(before, value)

    manifest = await manifest_for(spawner, {"profile": "small"})
    assert manifest["metadata"]["labels"]["hub.jupyter.org/managed-profile"] == "small"
    assert not carries(applied(spawner, key, value), value)
    assert kube_emulator.pods_ever_created() == []


@pytest.mark.parametrize(("key", "value", "pointer"), [r[1:] for r in REFUSED], ids=REFUSED_IDS)
async def test_the_same_key_from_the_operators_layer_reaches_the_spawner(
    kube_emulator, db_url, key, value, pointer
):
    operator = {"profiles": [profile_with(key, value, slug="root")]}
    ceilings = {}
    if key in ("extra_resource_limits", "extra_resource_guarantees"):
        ceilings = {"extra_resources": {name: None for name in value}}
    spawner = spawner_for(kube_emulator, db_url, hub_values=operator, ceilings=ceilings)
    assert [p["slug"] for p in spawner.allowed_profiles()] == ["root"]
    spawner.user_options = {"profile": "root"}
    await spawner.apply_user_options(spawner, {"profile": "root"})
    assert applied(spawner, key, value) == value


async def test_a_key_the_operator_allowed_reaches_the_spawner_from_a_stored_version(
    kube_emulator, db_url
):
    tolerations = [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    store_directly(db_url, {"profiles": [profile_with("tolerations", tolerations)]})
    spawner = spawner_for(kube_emulator, db_url, hub_admin_override_keys=["tolerations"])
    manifest = await manifest_for(spawner, {"profile": "lab"})
    assert manifest["spec"]["tolerations"][-1] == tolerations[0]
    assert "tolerations" not in HUB_ADMIN_KEYS
