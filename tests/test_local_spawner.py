"""The local managed spawner through a real in-process hub and the real proxy."""

from __future__ import annotations

import pytest
from jupyterhub.tests.utils import api_request, public_url
from tornado.httpclient import AsyncHTTPClient

from jhub_managed.demo.settings import DEMO_SETTINGS

from .fixtures.hub import add_group
from .fixtures.spawning import spawn, wait_ready


@pytest.fixture
async def demo_settings_hub(managed_hub):
    app = await managed_hub(hub_values=DEMO_SETTINGS)
    await add_group(app, "researchers", ["alice"])
    from jupyterhub.tests.utils import add_user

    add_user(app.db, app, name="bob")
    return app


async def test_allowed_profile_starts_with_its_settings(demo_settings_hub):
    app = demo_settings_hub
    r = await spawn(app, "alice", {"profile": "research", "interface": "classic"})
    assert r.status_code in (201, 202), r.text
    model = await wait_ready(app, "alice")
    assert model["servers"][""]["user_options"] == {"profile": "research", "interface": "classic"}

    spawner = app.users["alice"].spawner
    assert spawner.default_url == "/tree"  # the choice's override beats the profile's
    assert spawner.environment["RESEARCH_ENVIRONMENT"] == "1"
    assert spawner.mem_limit == 4 * 1024**3
    assert spawner.cpu_limit == 2

    # the server answers through the real proxy
    token = app.users["alice"].new_api_token()
    url = public_url(app, app.users["alice"]) + "api/status"
    response = await AsyncHTTPClient().fetch(url, headers={"Authorization": f"token {token}"})
    assert response.code == 200

    r = await api_request(app, "users", "alice", "server", method="delete")
    assert r.status_code in (202, 204)


@pytest.mark.parametrize(
    "user, options, status, message",
    [
        ("bob", {"profile": "research"}, 403, "only for members of the group 'researchers'"),
        ("bob", {"profile": "no-such-profile"}, 400, "Unknown profile 'no-such-profile'"),
        ("alice", {"profile": "research", "interface": "vim"}, 400, "Unknown choice 'vim'"),
        ("alice", {"profile": "python", "image": "evil/miner"}, 400, "Unknown option 'image'"),
        ("alice", {"profile": "research", "interface": "x" * 10_000}, 400, "too long"),
        ("alice", {"profile": ["python"]}, 400, "must be text"),
    ],
    ids=[
        "not-in-group",
        "unknown-profile",
        "unknown-choice",
        "unknown-option",
        "10kb-value",
        "not-text",
    ],
)
async def test_bad_requests_are_refused_and_start_nothing(
    demo_settings_hub, user, options, status, message
):
    app = demo_settings_hub
    spawner = app.users[user].spawner
    before = dict(spawner.orm_spawner.user_options or {})
    r = await spawn(app, user, options)
    assert r.status_code == status, r.text
    assert message in r.json()["message"]
    model = (await api_request(app, "users", user)).json()
    assert model["server"] is None
    assert not spawner.active
    # the refused options were not kept as the next spawn's defaults
    assert (spawner.orm_spawner.user_options or {}) == before


async def test_hub_without_profiles_starts_plain_servers(managed_hub):
    from jupyterhub.tests.utils import add_user

    app = await managed_hub()
    add_user(app.db, app, name="carol")
    r = await spawn(app, "carol", {"profile": "python"})
    assert r.status_code == 400
    assert "offers no profiles" in r.json()["message"]
    r = await spawn(app, "carol", {})
    assert r.status_code in (201, 202), r.text
    await wait_ready(app, "carol")
    r = await api_request(app, "users", "carol", "server", method="delete")
    assert r.status_code in (202, 204)


CEILINGS = {
    "cpu_limit": 2,
    "mem_limit": "4G",
    "image_patterns": [r"quay\.io/jupyter/[a-z-]+:[0-9-]+"],
}
OPEN_IMAGE_SETTINGS = {
    "profiles": [
        {
            "display_name": "Bring your own image",
            "slug": "byoi",
            "kubespawner_override": {"cpu_limit": 1, "mem_limit": "1G"},
            "profile_options": {
                "image": {
                    "display_name": "Image",
                    "unlisted_choice": {
                        "enabled": True,
                        # the hub admin's pattern is looser than the operator's
                        "validation_regex": r"[a-z0-9./:-]+",
                        "validation_message": "an image name",
                        "kubespawner_override": {"image": "{value}"},
                    },
                },
            },
        }
    ]
}


@pytest.mark.parametrize(
    "image, status, message",
    [
        ("quay.io/jupyter/scipy-notebook:2025-01-06", None, None),
        ("docker.io/evil/miner:latest", 403, "is not allowed by the operator"),
        # matches the operator's pattern at its start only: refused (fullmatch, not match)
        ("quay.io/jupyter/scipy-notebook:2025-01-06/../evil", 403, "not allowed by the operator"),
        ("quay.io/jupyter/scipy-notebook:2025-01-06\n", 400, "an image name"),
    ],
    ids=["allowed", "not-operator-allowed", "prefix-only", "trailing-newline"],
)
async def test_unlisted_image_must_match_hub_and_operator_patterns_whole(
    managed_hub, image, status, message
):
    from jupyterhub.tests.utils import add_user

    app = await managed_hub(hub_values=OPEN_IMAGE_SETTINGS, ceilings=CEILINGS)
    add_user(app.db, app, name="erin")
    r = await spawn(app, "erin", {"profile": "byoi", "image--unlisted-choice": image})
    if status is None:
        assert r.status_code in (201, 202), r.text
        await wait_ready(app, "erin")
        assert app.users["erin"].spawner.managed_selection.override["image"] == image
        await api_request(app, "users", "erin", "server", method="delete")
        return
    assert r.status_code == status, r.text
    assert message in r.json()["message"]
    assert (await api_request(app, "users", "erin")).json()["server"] is None
