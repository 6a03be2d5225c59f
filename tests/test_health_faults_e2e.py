"""Faults injected under a running hub (subprocess, real proxy and services): the identity
provider down, PostgreSQL gone from under the store, the hub process frozen. Each turns the
probe to 503 naming its check and back to 200 when removed, the health service answering
throughout; while a required check fails, the hub's home and spawn pages say so (Chromium)."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest
from playwright.sync_api import Page, expect

from .fixtures.db import DATABASE_URL_ENV, POSTGRES_SKIP_REASON
from .fixtures.health_hub import (
    DEADLINE,
    HubProcess,
    assert_no_secrets,
    fails_with,
    healthy,
    start_hub,
    wait_health_sync,
)
from .fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e]

PROFILES = [
    {"display_name": "Python", "slug": "python", "default": True, "kubespawner_override": {}}
]


@pytest.fixture
def hubs():
    started: list[HubProcess] = []
    yield started
    for hub in started:
        hub.stop()


CONTACT = "help@physics.example.org"


def login(page: Page, hub: HubProcess, username: str) -> None:
    page.goto(hub.url + "hub/login")
    page.get_by_label("Username:").fill(username)
    page.get_by_label("Password:", exact=True).fill("anything")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/(hub/spawn|hub/home|user/).*"), wait_until="commit")


def notice_shown(page: Page, path: str, shown: bool) -> None:
    """Reload ``path`` until the health notice is (or is not) there: it follows the checks
    at their interval, refreshed in the background."""

    def notices() -> bool:
        page.goto(path)
        return (page.locator(".jhm-health-notice").count() > 0) == shown

    wait_until(notices, DEADLINE, f"the notice to {'appear' if shown else 'go'}", interval=1)
    if shown:
        notice = page.locator(".jhm-health-notice")
        expect(notice).to_contain_text("know")
        expect(notice).to_contain_text(CONTACT)


@pytest.mark.browser
@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get(DATABASE_URL_ENV), reason=POSTGRES_SKIP_REASON)
@pytest.mark.parametrize("throwaway_db", ["postgresql"], indirect=True)
def test_faults_under_a_running_hub_and_back(tmp_path, hubs, throwaway_db, idp, page: Page):
    hub = start_hub(
        tmp_path,
        {
            "db_url": throwaway_db.url,
            "health_idp_url": f"{idp.url}/userinfo",
            "hub_values": {"branding": {"contact": CONTACT}, "profiles": PROFILES},
        },
    )
    hubs.append(hub)
    # no service's root answers 5xx at start
    for name in ("config", "usage", "health"):
        status = hub.get(f"services/{name}/")[0]
        assert status < 500, f"{name} answered {status} at its root"
    wait_health_sync(hub, healthy, "the hub to be healthy")
    assert hub.check("identity-provider")["message"].startswith("the identity provider (127.0.0.1)")
    login(page, hub, "alice")
    notice_shown(page, hub.url + "hub/home", False)

    # the identity provider goes down: 503, and people are told on the home and spawn pages
    idp.down = "error"
    wait_health_sync(hub, fails_with("identity-provider"), "the provider check to fail")
    assert "HTTP 503" in hub.check("identity-provider")["message"]
    notice_shown(page, hub.url + "hub/home", True)
    notice_shown(page, hub.url + "hub/spawn", True)
    idp.down = False
    wait_health_sync(hub, healthy, "the hub to be healthy after the provider is back")
    notice_shown(page, hub.url + "hub/home", False)

    # PostgreSQL goes away under the store
    with throwaway_db.unreachable():
        _, body = wait_health_sync(hub, fails_with("settings-store"), "the store check to fail")
        assert_no_secrets(hub, json.dumps(body))
        assert hub.get("services/health/")[0] == 200
    wait_health_sync(hub, healthy, "the hub to be healthy after the store is back")

    # the hub process is frozen: its API stops answering, the health service does not
    os.kill(hub.process.pid, signal.SIGSTOP)
    try:
        wait_health_sync(hub, fails_with("hub-api"), "the hub API check to fail")
    finally:
        os.kill(hub.process.pid, signal.SIGCONT)
    wait_health_sync(hub, healthy, "the hub to be healthy after it thaws")
