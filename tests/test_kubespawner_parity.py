"""Spawns from an operator's own profile list give the pod exactly what plain KubeSpawner
gives it, for every profile, every choice and every free-text (unlisted) choice.

The lists (``tests/fixtures/profile_lists.py``) have the shapes real fleets use: keys only
spawn-page extensions read and keys no one reads, ``null`` limits, ``{value}`` images, node
selectors, GPUs, tolerations, init containers, ``default`` written as text, slugs derived
from long names. Each is given to the managed spawner the ways an operator gives it (z2jh's
``singleuser.profileList`` as ``c.KubeSpawner.profile_list``, a callable, ``operator_defaults``,
``hub_values``) through ``configure()``, and to plain KubeSpawner as ``profile_list``; both
build the pod for the same ``user_options`` (as the REST API and KubeSpawner's form send
them). The manifests must be the same but for the labels and annotation the suite adds.
"""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest
from kubespawner import KubeSpawner
from traitlets.config import Config

from jhub_managed.spawner import ManagedKubeSpawner

from .fixtures.parity import (
    DICT_LISTS,
    as_list,
    differences,
    managed_config,
    spawn_requests,
    user,
    without_suite_marks,
)
from .fixtures.profile_lists import LISTS, profile_list

pytestmark = pytest.mark.kube

KUBERNETES_VERSION = "1.33.0"
#: how an operator gives the managed spawner its list
WAYS = ("profile_list", "callable", "operator_defaults", "hub_values")


async def manifest_of(spawner) -> dict:
    pod = spawner.api.api_client.sanitize_for_serialization(await spawner.get_pod_manifest())
    pod.setdefault("apiVersion", "v1")
    pod.setdefault("kind", "Pod")
    return pod


async def plain_manifest(kube, value, options: dict) -> dict:
    config = Config({"KubeSpawner": {**kube.spawner_config(), "cmd": ["jupyterhub-singleuser"]}})
    config.KubeSpawner.profile_list = copy.deepcopy(value if DICT_LISTS else as_list(value))
    spawner = KubeSpawner(_mock=True, user=user(), config=config)
    spawner.user_options = dict(options)
    await spawner.load_user_options()
    return await manifest_of(spawner)


async def managed_manifest(c: Config, options: dict) -> dict:
    spawner = ManagedKubeSpawner(_mock=True, user=user(), config=c)
    spawner.user_options = dict(options)
    # what JupyterHub calls before start(), then what KubeSpawner's start() does first
    await spawner.apply_user_options(spawner, dict(options))
    await spawner.load_user_options()
    manifest = await manifest_of(spawner)
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    return manifest


#: (list, way) -> how many spawns were compared, for the figures in the docs
COMPARED: dict[tuple[str, str], int] = {}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("name", LISTS)
async def test_every_spawn_gives_the_pod_plain_kubespawner_gives(
    kube_emulator, tmp_path, name, way
):
    value = profile_list(name)
    if isinstance(value, dict) and way in ("profile_list", "callable") and not DICT_LISTS:
        pytest.skip("KubeSpawner 7.0 takes a profile list, not a dict")
    profiles = KubeSpawner._get_initialized_profile_list(None, as_list(value))
    c = managed_config(kube_emulator, name, way, tmp_path)
    try:
        mismatches = {}
        pods = set()
        requests = spawn_requests(profiles)
        for options in requests:
            plain = await plain_manifest(kube_emulator, value, options)
            managed = await managed_manifest(c, options)
            found = differences(plain, without_suite_marks(managed))
            if found:
                mismatches[json.dumps(options)] = found
            pods.add(json.dumps(plain["spec"], sort_keys=True))
        assert mismatches == {}
        # each request that picks something other than a default gives another pod
        assert len(pods) == sum(
            1
            + sum(
                max(len(o.get("choices") or {}) - 1, 0) + bool(o["unlisted_choice"]["enabled"])
                for o in (p.get("profile_options") or {}).values()
            )
            for p in profiles
        )
        COMPARED[(name, way)] = len(requests)
    finally:
        c.ManagedKubeSpawner.settings_snapshot.close()
    # nothing was sent to Kubernetes
    assert kube_emulator.pods_ever_created() == []
