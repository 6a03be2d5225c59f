"""Logins as a person makes them: Chromium, a real in-process hub behind the real proxy, and
the fake identity provider over HTTP. Groups follow the provider, staff are marked, people
who may not come in see why, and a provider that is down leaves the hub healthy."""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import pytest
from jupyterhub.tests.utils import api_request, public_host
from jupyterhub.utils import url_path_join
from playwright.async_api import Page, expect
from traitlets.config import Config

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    # oauthenticator guesses the callback URL through an attribute JupyterHub deprecates
    pytest.mark.filterwarnings("ignore:Hub.server is deprecated:DeprecationWarning"),
]

CONTACT = "Hub team <help@example.org>"
CLASSES = {
    "github": "ManagedGitHubOAuthenticator",
    "generic": "ManagedGenericOAuthenticator",
}
SERVICE = {"github": "GitHub", "generic": "Example SSO"}


@pytest.fixture
def page(async_page):
    """A Chromium page on the test's own event loop, next to the in-process hub."""
    return async_page


async def oauth_hub(managed_hub, idp, dialect: str, settings: dict, **options):
    """An in-process hub with a managed OAuth authenticator pointed at the fake provider."""
    c = Config()
    c.Authenticator.allow_all = False  # MockHub would otherwise let everyone in
    c.JupyterHub.redirect_to_server = False  # after login: the home page, no server started
    section = c[CLASSES[dialect]]
    for name, value in {**idp.settings(dialect), **settings}.items():
        section[name] = value
    options.setdefault("hub_values", {"branding": {"contact": CONTACT}})
    return await managed_hub(config=c, authenticator=dialect, **options)


def hub_url(app, path: str = "") -> str:
    return public_host(app) + url_path_join(app.hub.base_url, path)


async def start_sign_in(page: Page, app, dialect: str = "github"):
    """Open the login page and press the provider's button; the provider approves at once."""
    await page.goto(hub_url(app, "login"))
    async with page.expect_response(re.compile(r".*/oauth_callback\?.*")) as callback:
        await page.get_by_role("button", name=f"Sign in with {SERVICE[dialect]}").click()
    return await callback.value


async def sign_in(page: Page, app, dialect: str = "github") -> None:
    await start_sign_in(page, app, dialect)
    await page.wait_for_url(re.compile(r".*/home$"))


async def sign_out(page: Page, app) -> None:
    await page.goto(hub_url(app, "logout"))


async def user_model(app, name: str) -> dict | None:
    r = await api_request(app, "users", quote(name, safe=""))
    return r.json() if r.status_code == 200 else None


async def test_github_teams_become_groups_and_follow_the_provider(managed_hub, idp, page):
    app = await oauth_hub(
        managed_hub,
        idp,
        "github",
        {
            "allowed_organizations": {"physics"},
            "group_prefix": "gh:",
            "group_filter": ["physics:.*"],
            "admin_groups": {"gh:physics:tas"},
        },
    )
    alice = idp.login_as(idp.add("Alice", teams=["physics:students", "physics:tas", "chem:x"]))
    await sign_in(page, app)
    await expect(page.locator("#login_widget")).to_contain_text("alice")
    alice_model = await user_model(app, "alice")
    assert sorted(alice_model["groups"]) == ["gh:physics:students", "gh:physics:tas"]
    assert alice_model["admin"] is True

    # alice leaves the TA team at GitHub; her next login follows
    alice.teams.remove("physics:tas")
    await sign_out(page, app)
    await sign_in(page, app)
    alice_model = await user_model(app, "alice")
    assert alice_model["groups"] == ["gh:physics:students"]
    assert alice_model["admin"] is False


async def test_staff_are_admins_and_shown_as_staff(managed_hub, idp, page):
    app = await oauth_hub(
        managed_hub,
        idp,
        "github",
        {"allowed_organizations": {"physics"}},
        staff_provider_groups=["fleet-ops:operators"],
    )
    idp.login_as(idp.add("sam", teams=["fleet-ops:operators"]))
    await sign_in(page, app)
    sam = await user_model(app, "sam")
    assert sam["admin"] is True
    assert sorted(sam["groups"]) == ["fleet-ops:operators", "staff"]

    # the admin panel lists the staff group with sam in it
    await page.goto(hub_url(app, "admin") + "#/groups")
    staff = page.get_by_role("link", name="staff")
    await expect(staff).to_be_visible()
    await staff.click()
    await expect(page.get_by_test_id("container").get_by_text("sam", exact=True)).to_be_visible()


async def test_people_who_may_not_come_in_see_why_and_whom_to_ask(managed_hub, idp, page, caplog):
    app = await oauth_hub(
        managed_hub,
        idp,
        "github",
        {"allowed_organizations": {"physics"}, "blocked_users": {"mallory"}},
        staff_users=["mallory"],
    )
    problem = page.locator(".jhm-login-problem")
    cases = [
        (
            idp.add("eve", teams=["chemistry:students"]),
            "not-allowed",
            "not in the GitHub organisations or teams",
        ),
        (
            idp.add("Mallory", teams=["physics:students"]),
            "blocked",
            "mallory is blocked from this hub",
        ),
        (
            idp.add("jhub-managed-health-check", teams=["physics:x"]),
            "health-check",
            "reserved for the hub's automatic health checks",
        ),
    ]
    for identity, reason, text in cases:
        idp.login_as(identity)
        callback = await start_sign_in(page, app)
        assert callback.status == 403
        await expect(problem).to_have_attribute("data-reason", reason)
        await expect(page.locator(".jhm-login-problem-message")).to_contain_text(text)
        # whom to ask: the hub's branding contact, shown as text, never as markup
        await expect(page.locator(".jhm-login-problem-contact")).to_contain_text(CONTACT)
        await expect(page.get_by_role("button", name="Back to the sign-in page")).to_be_visible()
        assert await user_model(app, identity.login) is None  # no account was made
    assert await page.locator(".jhm-login-problem-contact a").count() == 0

    # the provider's own error, e.g. a refused consent, is a "start again" page; what it
    # says is shown as text
    said = '<img src=x id="injected">'
    response = await page.goto(
        hub_url(app, "oauth_callback")
        + f"?error=access_denied&error_description={quote(said)}&state=x"
    )
    assert response.status == 400
    await expect(problem).to_have_attribute("data-kind", "failed")
    await expect(page.locator(".jhm-login-problem-detail")).to_contain_text(said)
    assert await page.locator("#injected").count() == 0


async def test_demo_password_login_refusals_get_the_same_page(managed_hub, page):
    c = Config()
    c.ManagedDemoAuthenticator.password = "demo-pass"
    c.ManagedDemoAuthenticator.blocked_users = {"bob"}
    app = await managed_hub(
        config=c, authenticator="demo", hub_values={"branding": {"contact": CONTACT}}
    )
    await page.goto(hub_url(app, "login"))
    await page.get_by_label("Username:").fill("Bob")
    await page.get_by_label("Password:", exact=True).fill("demo-pass")
    async with page.expect_response(re.compile(r".*/login(\?.*)?$")) as posted:
        await page.get_by_role("button", name="Sign in").click()
    assert (await posted.value).status == 403
    await expect(page.locator(".jhm-login-problem")).to_have_attribute("data-reason", "blocked")
    await expect(page.locator(".jhm-login-problem-contact")).to_contain_text(CONTACT)

    # a wrong password is still the login form's own message
    await page.goto(hub_url(app, "login"))
    await page.get_by_label("Username:").fill("alice")
    await page.get_by_label("Password:", exact=True).fill("not-it")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".login_error")).to_be_visible()


async def test_generic_oidc_login_with_an_odd_username(managed_hub, idp, page):
    app = await oauth_hub(
        managed_hub,
        idp,
        "generic",
        {"allowed_groups": {"researchers"}, "admin_groups": {"hub-admins"}},
    )
    idp.login_as(idp.add("Zoë.O'Brien", groups=["researchers", "hub-admins", "staff"]))
    await sign_in(page, app, "generic")
    name = "zoë.o'brien"
    await expect(page.locator("#login_widget")).to_contain_text(name)
    zoe = await user_model(app, name)
    # a provider group called "staff" is not the operator's staff group
    assert sorted(zoe["groups"]) == ["hub-admins", "researchers"]
    assert zoe["admin"] is True

    # without the group she is turned away, with the reason
    idp.add("Noah", groups=["students"])
    idp.login_as("Noah")
    await sign_out(page, app)
    callback = await start_sign_in(page, app, "generic")
    assert callback.status == 403
    await expect(page.locator(".jhm-login-problem")).to_have_attribute("data-reason", "not-allowed")


async def test_provider_down_gives_a_try_again_page_and_the_hub_stays_healthy(
    managed_hub, idp, page, caplog
):
    app = await oauth_hub(managed_hub, idp, "github", {"allowed_organizations": {"physics"}})
    idp.login_as(idp.add("alice", teams=["physics:students"]))
    idp.down = "error"
    with caplog.at_level(logging.ERROR):
        callback = await start_sign_in(page, app)
    assert callback.status == 503
    assert callback.headers["retry-after"] == "60"
    await expect(page.locator(".jhm-login-problem")).to_have_attribute("data-kind", "unavailable")
    await expect(page.locator("h1")).to_have_text("The sign-in service is not answering")
    await expect(page.locator(".jhm-login-problem-message")).to_contain_text(
        "GitHub did not answer"
    )
    assert any("did not answer" in record.getMessage() for record in caplog.records)

    # the hub itself is fine: its API and health endpoint answer
    r = await api_request(app, "")
    assert r.status_code == 200 and "version" in r.json()
    health = await page.request.get(hub_url(app, "health"))
    assert health.status == 200

    # the provider comes back: "Try again" leads to a working login
    idp.down = False
    await page.get_by_role("button", name="Try again").click()
    await page.get_by_role("button", name="Sign in with GitHub").click()
    await page.wait_for_url(re.compile(r".*/home$"))
    assert (await user_model(app, "alice"))["groups"] == ["physics:students"]
