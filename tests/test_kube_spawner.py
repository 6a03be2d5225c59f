"""ManagedKubeSpawner end to end: an in-process JupyterHub (MockHub, with the real proxy),
the real KubeSpawner against the Kubernetes API emulator, and real single-user servers
started by the test kubelet (see ``tests/fixtures/kube.py``).

Profiles come from a SQLite settings store, as a hub admin would have saved them.
"""

from __future__ import annotations

import asyncio

import pytest
from jupyterhub.tests.utils import add_user, api_request, async_requests, auth_header, public_url
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio import watch as k8s_watch

from jhub_managed.settings import document_errors
from jhub_managed.spawner import ManagedKubeSpawner
from jhub_managed.store import SettingsStore
from tests.fixtures.waiting import wait_until_async

pytestmark = pytest.mark.kube

HUB_NAME = "physics-hub"
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
            "display_name": "Physics lab",
            "slug": "physics-lab",
            "allowed_groups": ["physics"],
            "kubespawner_override": {
                "image": "quay.io/jupyter/scipy-notebook:2025-01-06",
                "cpu_guarantee": 1,
                "cpu_limit": 2,
                "mem_guarantee": "2G",
                "mem_limit": "4G",
            },
        },
    ]
}
#: what each profile must put in the pod
EXPECTED = {
    "small": {
        "image": "quay.io/jupyter/minimal-notebook:2025-01-06",
        "resources": {
            "requests": {"cpu": 0.5, "memory": 512 * MIB},
            "limits": {"cpu": 1, "memory": 1 * GIB},
        },
    },
    "physics-lab": {
        "image": "quay.io/jupyter/scipy-notebook:2025-01-06",
        "resources": {
            "requests": {"cpu": 1, "memory": 2 * GIB},
            "limits": {"cpu": 2, "memory": 4 * GIB},
        },
    },
}


@pytest.fixture
def settings_db_url(tmp_path):
    assert document_errors(SETTINGS) == []
    url = f"sqlite:///{tmp_path / 'jhub-managed.sqlite'}"
    store = SettingsStore(url)
    store.save(SETTINGS, author="admin", expected_version=0)
    store.dispose()
    yield url


@pytest.fixture
async def kube_hub(kube_emulator, test_kubelet, hub_app, settings_db_url, tmp_path):
    """A hub spawning ManagedKubeSpawner pods; ``admin`` and ``alice`` (in ``physics``)
    and ``bob`` (in no group) exist.

    The emulator and kubelet are set up before ``hub_app``, so the hub stops first.
    """
    config = {
        "JupyterHub": {
            "spawner_class": ManagedKubeSpawner,
            "cookie_secret_file": str(tmp_path / "jupyterhub_cookie_secret"),
        },
        # The proxy's pid file defaults to the working directory, and a hub starting
        # there stops the proxy it names: another test session's.
        "ConfigurableHTTPProxy": {"pid_file": str(tmp_path / "jupyterhub-proxy.pid")},
        # a spawner configured by hand, without configure(): the suite's options here
        "ManagedHub": {"db_url": settings_db_url, "hub_name": HUB_NAME},
        "ManagedKubeSpawner": {
            **kube_emulator.spawner_config(),
            **test_kubelet.spawner_config(),
            # bounds for a loaded machine; a spawn takes 5-15 s here
            "start_timeout": 60,
            "http_timeout": 60,
        },
    }
    app = await hub_app(config)
    add_user(app.db, app, name="admin", admin=True)
    for name in ("alice", "bob"):
        add_user(app.db, app, name=name)
    r = await api_request(app, "groups", "physics", method="post", json={"users": ["alice"]})
    assert r.status_code == 201, r.text
    return app


async def _server(app, name) -> dict | None:
    r = await api_request(app, "users", name)
    r.raise_for_status()
    return r.json()["servers"].get("")


async def _start(app, name, user_options):
    return await api_request(app, "users", name, "server", method="post", json=user_options)


async def test_profile_pod_runs_and_is_reachable_through_the_proxy(
    kube_emulator, test_kubelet, kube_hub, monkeypatch
):
    app = kube_hub
    # answer 202 at once, so both servers start at the same time: their pods run side by
    # side on the one pod IP
    monkeypatch.setitem(app.tornado_settings, "slow_spawn_timeout", 0)
    choices = {"alice": "physics-lab", "bob": "small"}
    for name, slug in choices.items():
        r = await _start(app, name, {"profile": slug})
        assert r.status_code in (201, 202), r.text

    for name, slug in choices.items():
        pod_name = app.users[name].spawner.pod_name

        async def ready(name=name):
            server = await _server(app, name)
            return server is not None and server["ready"]

        try:
            await wait_until_async(ready, timeout=75, what=f"{name}'s server ready")
        except AssertionError as e:
            raise AssertionError(f"{e}; the pod's output:\n{test_kubelet.log(pod_name)}") from e

        pod = kube_emulator.get_pod(pod_name)
        assert pod is not None, kube_emulator.pods_ever_created()
        labels = pod["metadata"]["labels"]
        assert labels["hub.jupyter.org/managed-hub"] == HUB_NAME
        assert labels["hub.jupyter.org/managed-profile"] == slug
        assert labels["hub.jupyter.org/username"] == name
        (container,) = pod["spec"]["containers"]
        assert container["image"] == EXPECTED[slug]["image"]
        assert container["resources"] == EXPECTED[slug]["resources"]
        assert pod["status"]["phase"] == "Running"
        assert test_kubelet.running(pod_name) is not None

        # through the proxy's public URL to the user's own server, with the user's token
        url = public_url(app, app.users[name], "api/status")
        r = await async_requests.get(url, headers=auth_header(app.db, name))
        assert r.status_code == 200, r.text
        assert {"started", "last_activity"} <= set(r.json())
        # and not without a token
        r = await async_requests.get(url, allow_redirects=False)
        assert r.status_code in (401, 403), r.status_code

    # both ran at once, each on a port of its own
    pods = [kube_emulator.get_pod(app.users[name].spawner.pod_name) for name in choices]
    assert all(test_kubelet.running(pod["metadata"]["name"]) for pod in pods)
    ports = {pod["spec"]["containers"][0]["ports"][0]["containerPort"] for pod in pods}
    assert len(ports) == 2

    for name in choices:
        pod_name = app.users[name].spawner.pod_name
        process = test_kubelet.running(pod_name)
        r = await api_request(app, "users", name, "server", method="delete")
        assert r.status_code in (202, 204), r.text

        async def stopped(name=name):
            return await _server(app, name) is None

        await wait_until_async(stopped, timeout=30, what=f"{name}'s server stopped")
        assert kube_emulator.get_pod(pod_name) is None
        assert process.process.returncode is not None
    assert kube_emulator.pods() == []


@pytest.mark.parametrize(
    ("profile", "status", "named"),
    [
        ("physics-lab", 403, "Physics lab"),
        ("no-such-profile", 400, "no-such-profile"),
    ],
    ids=["not-in-allowed-groups", "unknown"],
)
async def test_refused_profile_creates_no_pod(kube_emulator, kube_hub, profile, status, named):
    app = kube_hub
    r = await _start(app, "bob", {"profile": profile})

    assert r.status_code == status, r.text
    assert named in r.json()["message"]
    assert await _server(app, "bob") is None
    assert kube_emulator.pods_ever_created() == []


async def test_emulator_answers_like_an_api_server(kube_emulator):
    """The gaps of kmock 0.8 that ``KubeEmulator`` fills, through kubernetes_asyncio as
    KubeSpawner uses it: create fills in metadata, selectors filter, ``watch=True``
    watches (existing pods, then changes, with new resource versions), and a watch ends
    after ``timeoutSeconds``."""
    configuration = k8s_client.Configuration()
    await k8s_config.load_kube_config(
        config_file=str(kube_emulator.kubeconfig), client_configuration=configuration
    )
    async with k8s_client.ApiClient(configuration) as api_client:
        api = k8s_client.CoreV1Api(api_client)
        for name, component in (("p1", "singleuser-server"), ("p2", "other")):
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "labels": {"component": component}},
                "spec": {"containers": [{"name": "notebook", "image": "example/image:1"}]},
            }
            created = await api.create_namespaced_pod("ns", pod)
            assert created.metadata.namespace == "ns"
            assert created.metadata.uid and created.metadata.creation_timestamp
            assert created.status.phase == "Pending"
        first_version = int(created.metadata.resource_version)

        listed = await api.list_namespaced_pod("ns", label_selector="component=singleuser-server")
        assert [p.metadata.name for p in listed.items] == ["p1"]
        listed = await api.list_namespaced_pod("ns", field_selector="metadata.name=p2")
        assert [p.metadata.name for p in listed.items] == ["p2"]

        events = []
        w = k8s_watch.Watch()
        async with w.stream(
            api.list_namespaced_pod, "ns", label_selector="component=singleuser-server"
        ) as stream:
            async for event in stream:
                events.append((event["type"], event["object"].metadata.name))
                if event["type"] == "ADDED":
                    await api.patch_namespaced_pod_status(
                        "p1", "ns", {"status": {"phase": "Running"}}
                    )
                else:
                    modified = event["object"]
                    break
        assert events == [("ADDED", "p1"), ("MODIFIED", "p1")]
        assert modified.status.phase == "Running"
        assert int(modified.metadata.resource_version) > first_version

        async def watch_until_it_ends():
            w = k8s_watch.Watch()
            async with w.stream(api.list_namespaced_pod, "ns", timeout_seconds=1) as stream:
                return [event["object"].metadata.name async for event in stream]

        assert sorted(await asyncio.wait_for(watch_until_it_ends(), 10)) == ["p1", "p2"]
