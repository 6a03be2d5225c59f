"""The pod a ManagedKubeSpawner asks Kubernetes for, validated against Kubernetes' schemas.

``get_pod_manifest()`` needs a running loop and a kubeconfig (the ``kube_emulator`` fixture
gives both; no request reaches it). The manifest is checked with ``kubernetes-validate``'s
bundled schemas, offline, in strict mode (no unknown fields).
"""

from __future__ import annotations

import json
import re

import kubernetes_validate
import pytest
from tornado import web
from traitlets.config import Config

from jhub_managed.hub import ManagedHub
from jhub_managed.settings import document_errors
from jhub_managed.spawner import ManagedKubeSpawner
from jhub_managed.store import SettingsStore
from jhub_managed.store.source import SettingsSnapshot, SettingsSource

from .fixtures.db import queries_on_this_thread
from .fixtures.pod_manifests import KUBERNETES_VERSION, manifest_for, spawner_user
from .fixtures.waiting import wait_until_async

HUB_NAME = "physics-hub"

# https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

GIB = 1024**3
MIB = 1024**2

SETTINGS = {
    "profiles": [
        {
            "display_name": "Small",
            "slug": "small",
            "default": True,
            "kubespawner_override": {
                "image": "quay.io/jupyter/minimal-notebook:2025-01-06",
                "cpu_guarantee": 0.5,
                "cpu_limit": 1,
                "mem_guarantee": "512M",
                "mem_limit": "1G",
            },
        },
        {
            # memory as the settings schema allows it: binary suffixes and plain numbers
            "display_name": "Binary units",
            "slug": "binary-units",
            "kubespawner_override": {
                "image": "quay.io/jupyter/minimal-notebook:2025-01-06",
                "mem_guarantee": "1536Mi",
                "mem_limit": "2Gi",
            },
            "profile_options": {
                "memory": {
                    "display_name": "Memory",
                    "choices": {
                        "default": {"display_name": "2 GiB", "default": True},
                        "bytes": {
                            "display_name": "1 GiB, in bytes",
                            "kubespawner_override": {
                                "mem_guarantee": "1073741824",
                                "mem_limit": 1073741824,
                            },
                        },
                    },
                }
            },
        },
        {
            "display_name": "Physics lab",
            "slug": "physics_lab-2",
            "allowed_groups": ["physics"],
            "kubespawner_override": {
                "image": "quay.io/jupyter/scipy-notebook:2025-01-06",
                "cpu_guarantee": 1,
                "cpu_limit": 2,
                "mem_guarantee": "2G",
                "mem_limit": "4G",
                "volumes": [
                    {
                        "name": "home",
                        "persistentVolumeClaim": {"claimName": "claim-{user_server}"},
                    },
                    {"name": "datasets", "configMap": {"name": "physics-datasets"}},
                ],
                "volume_mounts": [
                    {"name": "home", "mountPath": "/home/jovyan"},
                    {"name": "datasets", "mountPath": "/srv/data", "readOnly": True},
                ],
            },
            "profile_options": {
                "size": {
                    "display_name": "Size",
                    "choices": {
                        "normal": {"display_name": "Normal", "default": True},
                        "large": {
                            "display_name": "Large",
                            "kubespawner_override": {"cpu_limit": 4, "mem_limit": "8G"},
                        },
                    },
                }
            },
        },
    ]
}


@pytest.fixture
def settings_db_url(tmp_path):
    assert document_errors(SETTINGS) == []
    url = f"sqlite:///{tmp_path / 'jhub-managed.sqlite'}"
    store = SettingsStore(url)
    store.save(SETTINGS, author="admin", expected_version=0)
    store.dispose()
    yield url


async def _spawner(kube_emulator, settings_db_url, name, groups, admin=False, **extra):
    # the operator's layer: the physics profile's volumes are the operator's, which the
    # stored copy of the same profile keeps as they are (a profile_list from the config is
    # the operator's starting profiles instead)
    operator = {} if "profile_list" in extra else {"hub_values": SETTINGS}
    # a spawner configured by hand: the suite's options in c.ManagedHub, kubespawner's here
    suite = {k: extra.pop(k) for k in list(extra) if k in ManagedHub.class_own_traits(config=True)}
    config = Config(
        {
            "ManagedHub": {
                "db_url": settings_db_url,
                **operator,
                "hub_name": HUB_NAME,
                **suite,
            },
            "ManagedKubeSpawner": {
                **kube_emulator.spawner_config(),
                "cmd": ["jupyterhub-singleuser"],
                **extra,
            },
        }
    )
    return ManagedKubeSpawner(_mock=True, user=spawner_user(name, groups, admin), config=config)


def _assert_names_valid(manifest):
    meta = manifest["metadata"]
    assert DNS_LABEL.match(meta["name"]), meta["name"]
    for key, value in meta["labels"].items():
        assert LABEL_NAME.match(key), key
        assert isinstance(value, str) and len(value) <= 63 and LABEL_VALUE.match(value), (
            key,
            value,
        )
    for volume in manifest["spec"].get("volumes", []):
        assert DNS_LABEL.match(volume["name"]), volume
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim is not None:
            assert len(claim) <= 253 and DNS_SUBDOMAIN.match(claim), claim


@pytest.mark.kube
@pytest.mark.parametrize(
    "username",
    ["alice", "Ünïcode.user@example.org", "UPPER_case-" + "x" * 70],
    ids=["plain", "unicode", "long"],
)
async def test_profile_pod_manifest_is_valid(kube_emulator, settings_db_url, username):
    spawner = await _spawner(kube_emulator, settings_db_url, username, ["Physics"])
    manifest = await manifest_for(spawner, {"profile": "physics_lab-2"})

    _assert_names_valid(manifest)
    labels = manifest["metadata"]["labels"]
    assert labels["hub.jupyter.org/managed-hub"] == HUB_NAME
    assert labels["hub.jupyter.org/managed-profile"] == "physics_lab-2"
    assert labels["component"] == "singleuser-server"
    # the user's real name is kept where any text is fine
    assert manifest["metadata"]["annotations"]["hub.jupyter.org/username"] == username

    (container,) = manifest["spec"]["containers"]
    assert container["image"] == "quay.io/jupyter/scipy-notebook:2025-01-06"
    assert container["resources"] == {
        "requests": {"cpu": 1, "memory": 2 * GIB},
        "limits": {"cpu": 2, "memory": 4 * GIB},
    }
    volumes = {v["name"]: v for v in manifest["spec"]["volumes"]}
    assert volumes["datasets"] == {"name": "datasets", "configMap": {"name": "physics-datasets"}}
    claim = volumes["home"]["persistentVolumeClaim"]["claimName"]
    assert claim.startswith("claim-") and "{" not in claim
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["home"]["mountPath"] == "/home/jovyan"
    assert mounts["datasets"] == {"name": "datasets", "mountPath": "/srv/data", "readOnly": True}
    # nothing was sent to Kubernetes
    assert kube_emulator.pods_ever_created() == []


@pytest.mark.kube
async def test_choice_overrides_profile_in_manifest(kube_emulator, settings_db_url):
    spawner = await _spawner(
        kube_emulator, settings_db_url, "Ünïcode.user@example.org", ["physics"]
    )
    manifest = await manifest_for(spawner, {"profile": "physics_lab-2", "size": "large"})

    (container,) = manifest["spec"]["containers"]
    assert container["resources"] == {
        "requests": {"cpu": 1, "memory": 2 * GIB},
        "limits": {"cpu": 4, "memory": 8 * GIB},
    }
    _assert_names_valid(manifest)


@pytest.mark.kube
async def test_default_profile_manifest(kube_emulator, settings_db_url):
    spawner = await _spawner(kube_emulator, settings_db_url, "bob", [])
    manifest = await manifest_for(spawner, {})

    labels = manifest["metadata"]["labels"]
    assert labels["hub.jupyter.org/managed-profile"] == "small"
    (container,) = manifest["spec"]["containers"]
    assert container["image"] == "quay.io/jupyter/minimal-notebook:2025-01-06"
    assert container["resources"] == {
        "requests": {"cpu": 0.5, "memory": 512 * MIB},
        "limits": {"cpu": 1, "memory": 1 * GIB},
    }
    assert "volumes" not in manifest["spec"] or manifest["spec"]["volumes"] == []
    _assert_names_valid(manifest)


@pytest.mark.kube
async def test_refused_profile_changes_nothing(kube_emulator, settings_db_url):
    spawner = await _spawner(kube_emulator, settings_db_url, "bob", ["chemistry"])
    image_before = spawner.image
    with pytest.raises(web.HTTPError) as refused:
        await spawner.apply_user_options(spawner, {"profile": "physics_lab-2"})
    assert refused.value.status_code == 403
    assert "Physics lab" in refused.value.log_message
    assert spawner.image == image_before
    assert "hub.jupyter.org/managed-profile" not in spawner.extra_labels


@pytest.mark.kube
@pytest.mark.parametrize(
    ("choice", "requests", "limits"),
    [("default", 1536 * MIB, 2 * GIB), ("bytes", GIB, GIB)],
)
async def test_memory_in_any_unit_the_settings_accept(
    kube_emulator, settings_db_url, choice, requests, limits
):
    """A profile the settings store accepts is one the spawner can start: memory with
    ``Ki``..``Ti`` suffixes or as a number in a string (JupyterHub's own memory traits
    take only K, M, G, T)."""
    spawner = await _spawner(kube_emulator, settings_db_url, "bob", [])
    manifest = await manifest_for(spawner, {"profile": "binary-units", "memory": choice})

    (container,) = manifest["spec"]["containers"]
    assert container["resources"] == {
        "requests": {"memory": requests},
        "limits": {"memory": limits},
    }


@pytest.mark.kube
@pytest.mark.parametrize(
    "groups",
    [["Physics", "Staff Room", "ünï/cøde & <b>"], []],
    ids=["odd-group-names", "no-groups"],
)
async def test_groups_at_spawn_time_are_annotated(kube_emulator, settings_db_url, groups):
    spawner = await _spawner(kube_emulator, settings_db_url, "alice", groups)
    manifest = await manifest_for(spawner, {"profile": "small"})
    annotations = manifest["metadata"]["annotations"]
    assert json.loads(annotations["hub.jupyter.org/managed-groups"]) == sorted(groups)
    _assert_names_valid(manifest)


@pytest.mark.kube
@pytest.mark.parametrize("admin, read_only", [(False, True), (True, False)], ids=["user", "admin"])
async def test_shared_directory_read_only_for_users_writable_for_admins(
    kube_emulator, settings_db_url, admin, read_only
):
    spawner = await _spawner(
        kube_emulator,
        settings_db_url,
        "carol",
        [],
        admin=admin,
        shared_storage={"pvc": "hub-shared", "mount_path": "/home/jovyan/shared"},
    )
    manifest = await manifest_for(spawner, {"profile": "small"})
    volumes = {v["name"]: v for v in manifest["spec"]["volumes"]}
    assert volumes["jhm-shared"]["persistentVolumeClaim"] == {"claimName": "hub-shared"}
    (container,) = manifest["spec"]["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["jhm-shared"] == {
        "name": "jhm-shared",
        "mountPath": "/home/jovyan/shared",
        "readOnly": read_only,
    }


@pytest.mark.kube
async def test_operator_storage_from_configure(kube_emulator, settings_db_url, tmp_path):
    from jhub_managed.hub import configure

    c = Config()
    configure(
        c,
        spawner="kube",
        hub_name=HUB_NAME,
        data_dir=str(tmp_path),
        db_url=settings_db_url,
        home_storage={"capacity": "10Gi", "storage_class": "fast", "mount_path": "/home/jovyan"},
        shared_storage={"pvc": "hub-shared", "mount_path": "/srv/shared"},
    )
    c.ManagedKubeSpawner.update(kube_emulator.spawner_config())
    c.ManagedKubeSpawner.cmd = ["jupyterhub-singleuser"]
    spawner = ManagedKubeSpawner(_mock=True, user=spawner_user("Dana Ünï", []), config=c)
    assert spawner.storage_pvc_ensure and spawner.storage_capacity == "10Gi"
    assert spawner.storage_class == "fast"
    manifest = await manifest_for(spawner, {"profile": "small"})
    volumes = {v["name"]: v for v in manifest["spec"]["volumes"]}
    claim = volumes["jhm-home"]["persistentVolumeClaim"]["claimName"]
    assert claim == spawner.pvc_name and "{" not in claim
    assert volumes["jhm-shared"]["persistentVolumeClaim"]["claimName"] == "hub-shared"
    (container,) = manifest["spec"]["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["jhm-home"]["mountPath"] == "/home/jovyan"
    assert mounts["jhm-shared"]["readOnly"] is True
    _assert_names_valid(manifest)
    pvc = spawner.get_pvc_manifest()
    pvc = spawner.api.api_client.sanitize_for_serialization(pvc)
    pvc.setdefault("apiVersion", "v1")
    pvc.setdefault("kind", "PersistentVolumeClaim")
    kubernetes_validate.validate(pvc, KUBERNETES_VERSION, strict=True)
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"


# -- a profile_list from the config (z2jh's singleuser.profileList) --------------------------

Z2JH_PROFILES = [
    {
        "display_name": "Default",
        "kubespawner_override": {"image": "quay.io/jupyter/minimal-notebook:2025-01-06"},
    },
    {
        "display_name": "Big",
        "kubespawner_override": {
            "image": "quay.io/jupyter/scipy-notebook:2025-01-06",
            "mem_limit": "2G",
            "environment": {"FROM_PROFILE": "yes", "DROPPED": None},
        },
    },
]


@pytest.fixture
def empty_store(tmp_path):
    yield f"sqlite:///{tmp_path / 'empty.sqlite'}"


@pytest.mark.parametrize("form", ["list", "callable", "async callable"])
async def test_config_profile_list_is_the_hubs_starting_profiles(kube_emulator, empty_store, form):
    async def async_profiles(spawner):
        return Z2JH_PROFILES

    value = {
        "list": Z2JH_PROFILES,
        "callable": lambda spawner: Z2JH_PROFILES,
        "async callable": async_profiles,
    }[form]
    spawner = await _spawner(kube_emulator, empty_store, "ann", [], profile_list=value)
    form_html = await spawner.get_options_form()
    assert "Default" in form_html and "Big" in form_html
    manifest = await manifest_for(spawner, {"profile": "big"})  # slug from the name
    container = manifest["spec"]["containers"][0]
    assert container["image"] == "quay.io/jupyter/scipy-notebook:2025-01-06"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FROM_PROFILE"] == "yes" and "DROPPED" not in env
    assert manifest["metadata"]["labels"]["hub.jupyter.org/managed-profile"] == "big"
    assert spawner.starting_hub_values()["profiles"][1]["slug"] == "big"


async def test_a_callable_profile_list_is_read_over_the_hubs_snapshot(kube_emulator, empty_store):
    """A hub whose profile_list is a callable: each spawn starts from the list it gives, the
    hub admins' edits in force apply over it, and no read waits for the store."""
    snapshot = SettingsSnapshot(SettingsSource(empty_store), interval=0.2)
    snapshot.start()  # as the hub does when it starts: the store made and migrated
    try:
        spawner = await _spawner(
            kube_emulator,
            empty_store,
            "ann",
            [],
            profile_list=lambda spawner: Z2JH_PROFILES,
            settings_snapshot=snapshot,
        )
        store = SettingsStore(empty_store, migrate=False)
        store.save(
            {"branding": {"contact": "help@example.org"}}, author="admin", expected_version=0
        )
        store.dispose()
        await wait_until_async(
            lambda: snapshot.current().version == 1, timeout=60, what="version 1 in force"
        )
        on_loop = queries_on_this_thread(snapshot.source.store.engine)
        form_html = await spawner.get_options_form()
        assert "Default" in form_html and "Big" in form_html
        assert spawner.settings_source.snapshot is snapshot
        assert spawner.settings_source.current().version == 1
        assert spawner.hub_contact() == "help@example.org"
        manifest = await manifest_for(spawner, {"profile": "big"})
        assert manifest["metadata"]["labels"]["hub.jupyter.org/managed-profile"] == "big"
        assert on_loop == []
    finally:
        snapshot.close()


async def test_hub_values_profiles_win_over_the_config_profile_list(kube_emulator, empty_store):
    hub_values = {"profiles": [SETTINGS["profiles"][0]]}
    spawner = await _spawner(
        kube_emulator, empty_store, "ann", [], profile_list=Z2JH_PROFILES, hub_values=hub_values
    )
    await spawner.get_options_form()
    assert [p["slug"] for p in spawner.managed_profiles()] == ["small"]
    with pytest.raises(web.HTTPError) as info:
        await manifest_for(spawner, {"profile": "big"})
    assert info.value.status_code == 400


async def test_an_invalid_config_profile_list_is_a_clear_error(kube_emulator, empty_store):
    broken = [{"slug": "nameless", "kubespawner_override": {}}]  # KubeSpawner needs a name
    spawner = await _spawner(kube_emulator, empty_store, "ann", [], profile_list=broken)
    with pytest.raises(web.HTTPError) as info:
        await spawner.get_options_form()
    assert info.value.status_code == 500
    assert "profile_list is not a valid settings layer" in info.value.log_message
    assert "/profiles/0: 'display_name' is a required property" in info.value.log_message


async def test_a_user_without_groups_spawns(kube_emulator, settings_db_url):
    spawner = await _spawner(kube_emulator, settings_db_url, "ann", [])
    del spawner.user.groups  # a user object without groups, as kubespawner's own tests make
    manifest = await manifest_for(spawner, {"profile": "small"})
    assert json.loads(manifest["metadata"]["annotations"]["hub.jupyter.org/managed-groups"]) == []


async def test_a_refused_request_is_a_value_error_too(kube_emulator, settings_db_url):
    # kubespawner raises ValueError for options it refuses; code that catches it still does
    spawner = await _spawner(kube_emulator, settings_db_url, "ann", [])
    with pytest.raises(ValueError, match="no-such-profile"):
        await manifest_for(spawner, {"profile": "no-such-profile"})
