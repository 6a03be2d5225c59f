"""Per-profile idle timeouts: the real jupyterhub-idle-culler with our arbiter, on a real hub."""

from __future__ import annotations

import copy
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest
from jupyterhub.tests.utils import add_user, api_request
from jupyterhub_idle_culler import cull_idle

from jhub_managed.demo.settings import DEMO_SETTINGS
from jhub_managed.settings.profiles import idle_timeout_for

from .fixtures.spawning import spawn, wait_ready

PROFILES = [
    {"slug": "short", "idle_timeout": 600},
    {"slug": "plain"},
    {"slug": "odd", "idle_timeout": "600"},
]


@pytest.mark.parametrize(
    "user_options, expected",
    [
        ({"profile": "short"}, 600),
        ({"profile": "plain"}, 3600),
        ({"profile": "removed-since"}, 3600),
        ({}, 3600),
        (None, 3600),
        ({"profile": "odd"}, 3600),
    ],
    ids=["profile-timeout", "no-timeout", "removed-profile", "no-profile", "no-options", "bad"],
)
def test_idle_timeout_for(user_options, expected):
    assert idle_timeout_for(PROFILES, user_options, 3600) == expected


async def test_culler_stops_servers_idle_longer_than_their_profile_allows(
    managed_hub, monkeypatch, tmp_path
):
    settings = copy.deepcopy(DEMO_SETTINGS)
    settings["profiles"][0]["idle_timeout"] = 1800  # "python": 30 minutes
    app = await managed_hub(hub_values=settings)
    monkeypatch.setenv(
        "JHUB_MANAGED_CONFIG",
        json.dumps({"db_url": f"sqlite:///{tmp_path}/jhub-managed.sqlite", "hub_values": settings}),
    )
    from jhub_managed.services.culler import make_cull_arbiter, source_from_environment

    source = source_from_environment()
    for name, profile in (("alice", "python"), ("bob", "classic")):
        add_user(app.db, app, name=name)
        r = await spawn(app, name, {"profile": profile})
        assert r.status_code in (201, 202), r.text
        await wait_ready(app, name)
    # an hour passes, as the culler sees it (its clock is the one thing moved: the servers
    # and the hub keep reporting activity as they do)
    import jupyterhub_idle_culler

    an_hour_later = datetime.now(timezone.utc) + timedelta(hours=1)
    monkeypatch.setattr(jupyterhub_idle_culler, "utcnow", lambda: an_hour_later)

    token = app.users["admin"].new_api_token()
    await cull_idle(
        url=app.hub.api_url,
        api_token=token,
        inactive_limit=7200,  # the hub's default: two hours
        logger=logging.getLogger("test-culler"),
        cull_arbiter=make_cull_arbiter(source),
    )

    models = {n: (await api_request(app, "users", n)).json() for n in ("alice", "bob")}
    # alice's profile allows 30 minutes: culled; bob's has the hub's two hours: kept
    assert models["alice"]["server"] is None
    assert models["bob"]["server"] is not None
    source.store.dispose()
