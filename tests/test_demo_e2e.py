"""The demo as a person uses it: in Chromium, through the real proxy, with real servers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .fixtures.browser import login
from .fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def hub_api(page: Page, hub, path: str, method: str = "GET", data=None, ok: bool = True):
    """Call the hub's REST API as the browser's logged-in user (cookie + XSRF header)."""
    page.goto(hub.hub_url("home"))
    xsrf = page.evaluate("() => window.jhdata.xsrf_token")
    response = page.request.fetch(
        hub.hub_url(f"api/{path}"), method=method, data=data, headers={"X-XSRFToken": xsrf}
    )
    if not ok:
        return response
    assert response.ok, response.text()
    return response.json() if response.text() else None


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
    research.get_by_role("radio", name="Research environment").check()
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
    probe = demo_hub.url + "services/health/api/health"
    response = page.request.get(probe)
    assert response.status == 200, response.text()
    body = response.json()
    assert body["status"] == "ok"
    assert {c["name"] for c in body["checks"]} >= {"hub-api", "settings-store", "hub-database"}
    for check in body["checks"]:
        assert set(check) == {
            "name",
            "state",
            "ok",
            "required",
            "message",
            "duration_ms",
            "checked_at",
        }
    text = response.text()
    assert "sqlite:" not in text and "token" not in text.lower()
    assert str(demo_hub.data_dir) not in text
    assert page.request.head(probe).status == 200
    # the status page, for people
    page.goto(demo_hub.url + "services/health/")
    expect(page.get_by_role("heading", name="Health of this hub")).to_be_visible()
    expect(page.locator('.jhm-check[data-check="hub-api"]')).to_have_attribute("data-ok", "true")
    assert str(demo_hub.data_dir) not in page.content()


def test_bob_launch_link_and_rest_call_for_the_restricted_profile_are_refused(demo_hub, page: Page):
    login(page, demo_hub, "bob")
    response = page.goto(demo_hub.hub_url("spawn?profile=research&opt-interface=lab"))
    assert response.status == 403
    expect(page.locator(".spawn-error-msg")).to_contain_text(
        "The profile 'Research environment' is only for members of the group 'researchers'"
    )
    # the form is still there, with what bob may use
    expect(page.locator(".jhm-profile")).to_have_count(2)
    api = hub_api(
        page, demo_hub, "users/bob/server", method="POST", data={"profile": "research"}, ok=False
    )
    assert api.status == 403
    assert "only for members of the group 'researchers'" in api.json()["message"]
    assert hub_api(page, demo_hub, "users/bob")["server"] is None


def test_copy_launch_link_and_follow_it(demo_hub, page: Page):
    login(page, demo_hub, "alice")
    if hub_api(page, demo_hub, "users/alice")["server"]:
        hub_api(page, demo_hub, "users/alice/server", method="DELETE")

        def stopped() -> bool:
            # not only "no server", but no stop pending either
            return not hub_api(page, demo_hub, "users/alice")["servers"]

        wait_until(stopped, 30, "alice's server to stop")
    page.goto(demo_hub.hub_url("spawn"))
    card = page.locator('.jhm-profile[data-profile="research"]')
    card.get_by_role("radio", name="Research environment").check()
    card.get_by_label("Interface").select_option("classic")
    card.get_by_role("button", name="Copy a launch link for Research environment").click()
    status = card.locator(".jhm-copy-status")
    expect(status).to_contain_text("spawn?opt-profile=research&opt-interface=classic")
    link = card.locator(".jhm-copy-link").get_attribute("data-link")
    assert link.startswith(demo_hub.url)

    # following the link starts that profile with that choice, no form
    page.goto(link)
    page.wait_for_url(re.compile(r".*/user/alice/tree.*"), timeout=90_000)
    options = hub_api(page, demo_hub, "users/alice")["servers"][""]["user_options"]
    assert options == {"profile": "research", "interface": "classic"}


def test_value_of_your_own_is_checked_as_you_type(demo_hub, page: Page):
    login(page, demo_hub, "alice")
    if hub_api(page, demo_hub, "users/alice")["server"]:
        hub_api(page, demo_hub, "users/alice/server", method="DELETE")
    page.goto(demo_hub.hub_url("spawn"))
    card = page.locator('.jhm-profile[data-profile="research"]')
    card.get_by_role("radio", name="Research environment").check()
    field = card.get_by_label("Or open this path")
    expect(card.locator(".jhm-unlisted-help")).to_contain_text("a path starting with /lab")
    field.fill("javascript:alert(1)")
    expect(field).to_have_class(re.compile(r"\bis-invalid\b"))
    # typing picks "a path of my own" in the list
    expect(card.get_by_label("Interface")).to_have_value("unlisted_choice")
    field.fill("/lab/tree/notes")
    expect(field).not_to_have_class(re.compile(r"\bis-invalid\b"))


def test_deep_check_passes_on_the_demo_hub(demo_hub, page: Page):
    import json

    login(page, demo_hub, "admin")
    token = hub_api(page, demo_hub, "users/admin/tokens", method="POST", data={"note": "deep"})
    headers = {"Authorization": f"token {token['token']}"}
    url = demo_hub.url + "services/health/api/deep-check"
    response = page.request.post(url, headers=headers, data="{}")
    assert response.status == 202, response.text()
    run_id = response.json()["run"]["id"]

    def finished() -> dict | None:
        runs = page.request.get(url, headers=headers).json()["runs"]
        return next((r for r in runs if r["id"] == run_id), None)

    run = wait_until(finished, 300, f"deep check {run_id} to finish", interval=1)
    assert run["ok"], json.dumps(run)
    assert [s["name"] for s in run["steps"]] == ["start", "ready", "kernel", "execute", "stop"]
    # its result is the deep-check entry of the probe, and the page lists it
    probe = page.request.get(demo_hub.url + "services/health/api/health").json()
    entry = next(c for c in probe["checks"] if c["name"] == "deep-check")
    assert entry["ok"] and "passed" in entry["message"]
    page.goto(demo_hub.url + "services/health/")
    expect(page.locator(".jhm-deep-run").first).to_contain_text("passed")
