"""The demo as a person uses it: in Chromium, through the real proxy, with real servers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def login(page: Page, hub, username: str) -> None:
    page.goto(hub.hub_url("login"))
    page.get_by_label("Username:").fill(username)
    page.get_by_label("Password:", exact=True).fill(hub.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/hub/(spawn|home).*"))


def hub_api(page: Page, hub, path: str) -> dict:
    """GET the hub's REST API as the browser's logged-in user (cookie + XSRF header)."""
    page.goto(hub.hub_url("home"))
    xsrf = page.evaluate("() => window.jhdata.xsrf_token")
    response = page.request.get(hub.hub_url(f"api/{path}"), headers={"X-XSRFToken": xsrf})
    assert response.ok, response.text()
    return response.json()


def test_login_page_shows_branding_and_announcement(demo_hub, page: Page):
    page.goto(demo_hub.hub_url("login"))
    expect(page.locator(".jhm-announcement")).to_contain_text(
        "Welcome to the jhub-managed demo hub"
    )
    # the announcement is Markdown, rendered
    expect(page.locator(".jhm-announcement strong")).to_have_text("jhub-managed")
    expect(page.locator(".jhm-organization")).to_have_text("jhub-managed demo")


def test_wrong_password_is_refused(demo_hub, page: Page):
    page.goto(demo_hub.hub_url("login"))
    page.get_by_label("Username:").fill("alice")
    page.get_by_label("Password:", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".login_error")).to_be_visible()


def test_alice_starts_the_restricted_profile_and_jupyterlab_loads(demo_hub, page: Page):
    login(page, demo_hub, "alice")
    page.goto(demo_hub.hub_url("spawn"))
    cards = page.locator(".jhm-profile")
    expect(cards).to_have_count(3)
    research = page.locator('.jhm-profile[data-profile="research"]')
    expect(research).to_contain_text("Research environment")
    expect(research).to_contain_text("up to 2 CPUs")
    research.get_by_label("Research environment").check()
    research.get_by_label("Interface").select_option("lab")
    page.get_by_role("button", name="Start").click()
    # JupyterLab itself, served by alice's server through the proxy
    page.wait_for_url(re.compile(r".*/user/alice/lab.*"), timeout=90_000)
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=90_000)

    # the server runs the profile alice chose, as the hub recorded it
    model = hub_api(page, demo_hub, "users/alice")
    assert model["servers"][""]["ready"] is True
    assert model["servers"][""]["user_options"] == {"profile": "research", "interface": "lab"}


def test_bob_does_not_see_the_restricted_profile(demo_hub, page: Page):
    login(page, demo_hub, "bob")
    page.goto(demo_hub.hub_url("spawn"))
    expect(page.locator(".jhm-profile")).to_have_count(2)
    expect(page.locator('.jhm-profile[data-profile="research"]')).to_have_count(0)
    expect(page.get_by_text("Research environment")).to_have_count(0)


def test_bob_cannot_start_the_restricted_profile_by_hand(demo_hub, page: Page):
    login(page, demo_hub, "bob")
    page.goto(demo_hub.hub_url("spawn"))
    # a hand-made form post naming the restricted profile
    xsrf = page.evaluate("() => window.jhdata.xsrf_token")
    response = page.request.post(
        demo_hub.hub_url("spawn/bob"),
        multipart={"_xsrf": xsrf, "profile": "research"},
    )
    body = response.text()
    assert "only for members of the group" in body and "Research environment" in body
    assert response.status == 403
    # bob's server was not started
    assert hub_api(page, demo_hub, "users/bob")["server"] is None


def test_services_look_like_the_hub_and_check_who_may_use_them(demo_hub, page: Page):
    login(page, demo_hub, "admin")
    page.goto(demo_hub.url + "services/config/")
    expect(page.get_by_role("heading", name="Hub settings")).to_be_visible()
    # the hub's own page.html: its navigation bar and logo
    expect(page.locator("#jupyterhub-logo")).to_be_visible()
    expect(page.locator(".jhm-profile-list li")).to_have_count(3)
    api = page.request.get(demo_hub.url + "services/config/api/settings")
    assert api.ok and api.headers["etag"] == '"0"'
    assert [p["slug"] for p in api.json()["settings"]["profiles"]] == [
        "python",
        "classic",
        "research",
    ]

    page.goto(demo_hub.url + "services/usage/")
    expect(page.get_by_role("heading", name="Usage")).to_be_visible()


def test_settings_service_refuses_other_users(demo_hub, page: Page):
    login(page, demo_hub, "bob")
    response = page.goto(demo_hub.url + "services/config/")
    assert response.status == 403
    expect(page.locator(".jhm-error-message")).to_contain_text("Only hub admins")
    api = page.request.get(demo_hub.url + "services/config/api/settings")
    assert api.status == 403
    assert api.headers["content-type"].startswith("application/json")
    assert "Only hub admins" in api.json()["message"]


def test_health_answers_without_login_and_shows_no_secrets(demo_hub, page: Page):
    response = page.request.get(demo_hub.url + "services/health/")
    assert response.status == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {c["name"] for c in body["checks"]} >= {"hub-api", "settings-store"}
    for check in body["checks"]:
        assert set(check) == {"name", "ok", "message", "duration_ms", "checked_at"}
    text = response.text()
    assert "sqlite:" not in text and "token" not in text.lower()
    assert page.request.head(demo_hub.url + "services/health/").status == 200
