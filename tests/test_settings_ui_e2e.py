"""The settings pages as hub admins and users meet them: in Chromium, on the demo hub, through
the real proxy, with real servers.

The demo's profiles are ``python``, ``classic`` and ``research`` (only group
``researchers``); its users are ``admin``, ``alice`` (in ``researchers``) and ``bob``.
Every test reads the version it starts from, so they don't depend on each other's order.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from .fixtures.browser import login
from .fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def new_page(browser: Browser, **context_options) -> Page:
    context = browser.new_context(**context_options)
    context.set_default_timeout(30_000)
    return context.new_page()


def hub_api(page: Page, hub, path: str, method: str = "GET"):
    """The hub's REST API as the page's logged-in user (cookie and XSRF header)."""
    page.goto(hub.hub_url("home"))
    xsrf = page.evaluate("() => window.jhdata.xsrf_token")
    response = page.request.fetch(
        hub.hub_url(f"api/{path}"), method=method, headers={"X-XSRFToken": xsrf}
    )
    assert response.ok, response.text()
    return response.json() if response.text() else None


def settings_of(page: Page, hub) -> dict:
    """The settings API as the page's user (a page of the service first: OAuth)."""
    page.goto(hub.url + "services/config/")
    response = page.request.get(hub.url + "services/config/api/settings")
    assert response.ok, response.text()
    return response.json()


def shows(page: Page, url: str, condition, timeout: float = 60) -> None:
    """Load ``url`` until ``condition()`` holds: the hub reads a save within its settings
    refresh interval."""

    def loaded() -> bool:
        page.goto(url)
        return bool(condition())

    wait_until(loaded, timeout, f"{url} to show the saved settings", interval=0.5)


def spawn_select_options(page: Page, slug: str) -> list[str]:
    card = page.locator(f'.jhm-profile[data-profile="{slug}"]')
    expect(card).to_be_visible()
    return card.locator("select option").all_inner_texts()


def accept_dialogs(page: Page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_admin_adds_a_restricted_choice_alice_starts_it_bob_never_sees_it_restore_undoes_it(
    demo_hub, browser
):
    service = demo_hub.url + "services/config/"
    admin = new_page(browser)
    accept_dialogs(admin)
    login(admin, demo_hub, "admin")
    start = settings_of(admin, demo_hub)["version"]

    # the admin gives the Python profile a choice of image, one of them only for researchers
    admin.goto(service)
    admin.get_by_role("link", name="Edit Python").click()
    admin.get_by_role("button", name=re.compile("Add an option")).click()
    admin.locator('[name="o0-display_name"]').fill("Image")
    admin.locator('[name="o0-c0-display_name"]').fill("Python (SciPy)")
    admin.locator("#f-o0-c0-default").check()
    admin.get_by_role("button", name="Add another choice").click()
    admin.locator('[name="o0-c1-display_name"]').fill("R for researchers")
    admin.locator('[name="o0-c1-groups"]').fill("researchers")
    admin.locator("#f-comment").fill("An R image for the researchers")
    admin.locator(".jhm-save").click()
    expect(admin.locator(".jhm-flash")).to_contain_text(
        f"Saved as version {start + 1}: An R image for the researchers"
    )
    card = admin.locator('.jhm-profile-card[data-profile="python"]')
    expect(card).to_contain_text("R for researchers (only researchers)")

    # bob: the Python profile offers him the one image he may use
    bob = new_page(browser)
    login(bob, demo_hub, "bob")
    # the hub uses a save within its settings refresh interval
    shows(bob, demo_hub.hub_url("spawn"), lambda: spawn_select_options(bob, "python") != [])
    assert spawn_select_options(bob, "python") == ["Python (SciPy)"]
    expect(bob.get_by_text("R for researchers")).to_have_count(0)

    # alice sees the new choice and starts it: spawns use it, no restart
    alice = new_page(browser)
    login(alice, demo_hub, "alice")
    alice.goto(demo_hub.hub_url("spawn"))
    assert spawn_select_options(alice, "python") == ["Python (SciPy)", "R for researchers"]
    python = alice.locator('.jhm-profile[data-profile="python"]')
    python.get_by_role("radio", name="Python").check()
    python.get_by_label("Image").select_option(label="R for researchers")
    alice.get_by_role("button", name="Start").click()
    alice.wait_for_url(re.compile(r".*/user/alice/.*"), timeout=120_000, wait_until="commit")
    server = hub_api(alice, demo_hub, "users/alice")["servers"][""]
    assert server["user_options"] == {"profile": "python", "image": "r-for-researchers"}
    hub_api(alice, demo_hub, "users/alice/server", method="DELETE")
    wait_until(
        lambda: not hub_api(alice, demo_hub, "users/alice")["servers"],
        60,
        "alice's server to stop",
    )

    # the history shows the change, with who made it and why
    admin.goto(service + "history")
    row = admin.locator(f'.jhm-version[data-version="{start + 1}"]')
    expect(row).to_contain_text("admin")
    expect(row).to_contain_text("An R image for the researchers")
    row.get_by_role("link", name=f"Changes in version {start + 1}").click()
    added = admin.locator('.jhm-change[data-kind="added"]', has_text="Choice 'R for researchers'")
    expect(added).to_contain_text(
        " \u203a ".join(["Profile 'Python'", "Options", "Option 'Image'", "Choices"])
    )
    expect(added).to_contain_text('"researchers"')

    # restoring the version before makes a new version with the old list
    admin.goto(service + "history")
    admin.get_by_role("button", name=f"Restore version {start}").click()
    expect(admin.locator(".jhm-flash")).to_contain_text(f"Saved as version {start + 2}")
    newest = admin.locator(f'.jhm-version[data-version="{start + 2}"]')
    expect(newest).to_contain_text(f"restored from version {start}")
    expect(admin.locator(f'.jhm-version[data-version="{start + 1}"]')).to_be_visible()
    admin.goto(service)
    expect(admin.locator('.jhm-profile-card[data-profile="python"]')).not_to_contain_text("Image")
    shows(alice, demo_hub.hub_url("spawn"), lambda: spawn_select_options(alice, "python") == [])
    assert [p["slug"] for p in settings_of(admin, demo_hub)["settings"]["profiles"]] == [
        "python",
        "classic",
        "research",
    ]


def test_an_announcement_shows_on_home_and_login_pages_until_it_expires(demo_hub, browser):
    # the admin's browser is in another time zone than the hub: the page converts
    admin = new_page(browser, timezone_id="America/New_York")
    login(admin, demo_hub, "admin")
    marker = uuid.uuid4().hex[:8]
    admin.goto(demo_hub.url + "services/config/announcement")
    admin.get_by_label("Text", exact=True).fill(f"Maintenance at **noon** ({marker})")
    admin.get_by_label("Level").select_option("warning")
    for page in ("login", "home"):
        admin.get_by_label(f"the {page} page").check()
    admin.get_by_label("the spawn page").uncheck()
    expires = admin.evaluate(
        """() => {
            const d = new Date(Date.now() + 8000);
            const p = (n) => String(n).padStart(2, "0");
            return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" +
                p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
        }"""
    )
    admin.get_by_label("Shows until").fill(expires)
    admin.locator(".jhm-save").click()
    expect(admin.locator(".jhm-flash")).to_contain_text("Saved as version")
    expect(admin.locator(".jhm-announcement-state")).to_contain_text("Showing now")

    visitor = new_page(browser)
    shows(visitor, demo_hub.hub_url("login"), lambda: visitor.get_by_text(marker).count() > 0)
    banner = visitor.locator(".jhm-announcement")
    expect(banner).to_contain_text(marker)
    expect(banner.locator("strong")).to_have_text("noon")
    expect(banner).to_have_class(re.compile("alert-warning"))
    admin.goto(demo_hub.hub_url("home"))
    expect(admin.locator(".jhm-announcement")).to_contain_text(marker)

    def gone(page: Page, url: str) -> bool:
        page.goto(url)
        return page.get_by_text(marker).count() == 0

    wait_until(lambda: gone(visitor, demo_hub.hub_url("login")), 60, "the announcement to expire")
    assert gone(admin, demo_hub.hub_url("home"))
    admin.goto(demo_hub.url + "services/config/announcement")
    expect(admin.locator(".jhm-announcement-state")).to_contain_text("Expired")


def test_two_admins_editing_the_same_version_lose_nothing(demo_hub, browser):
    first, second = new_page(browser), new_page(browser)
    for page in (first, second):
        login(page, demo_hub, "admin")
        page.goto(demo_hub.url + "services/config/branding")
    first.get_by_label("Funded by").fill("The first admin's funder")
    first.locator(".jhm-save").click()
    expect(first.locator(".jhm-flash")).to_be_visible()

    second.get_by_label("Contact").fill("second@example.org")
    second.locator(".jhm-save").click()
    expect(second.locator(".jhm-conflict")).to_contain_text("Not saved")
    # what the second admin typed is still there, what they left alone shows the first
    # admin's value: saving again loses neither
    expect(second.get_by_label("Contact")).to_have_value("second@example.org")
    expect(second.get_by_label("Funded by")).to_have_value("The first admin's funder")
    second.locator(".jhm-save").click()
    expect(second.locator(".jhm-flash")).to_be_visible()
    branding = settings_of(second, demo_hub)["settings"]["branding"]
    assert branding["contact"] == "second@example.org"
    assert branding["funded_by"] == "The first admin's funder"
    visitor = new_page(browser)
    funded_by = visitor.locator(".jhm-funded-by")
    shows(visitor, demo_hub.hub_url("login"), lambda: "first admin" in funded_by.inner_text())
    expect(funded_by).to_have_text("Funded by The first admin's funder")


def test_a_user_who_is_no_admin_gets_403_and_a_forged_post_stores_nothing(demo_hub, browser):
    bob = new_page(browser)
    login(bob, demo_hub, "bob")
    for path in ("", "profiles/edit/python", "announcement", "branding", "preview", "history"):
        response = bob.goto(demo_hub.url + "services/config/" + path)
        assert response.status == 403, path
        expect(bob.locator(".jhm-error-message")).to_contain_text("Only hub admins")

    admin = new_page(browser)
    login(admin, demo_hub, "admin")
    admin.goto(demo_hub.url + "services/config/branding")
    before = settings_of(admin, demo_hub)
    # a post as another site would make it: the admin's cookies, no XSRF token
    forged = admin.request.post(
        demo_hub.url + "services/config/branding",
        form={"version": str(before["version"]), "organization_name": "Forged", "do": "save"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert settings_of(admin, demo_hub) == before


def test_names_with_html_are_shown_as_text_and_never_run(demo_hub, browser):
    admin = new_page(browser)
    accept_dialogs(admin)
    login(admin, demo_hub, "admin")
    dialogs: list[str] = []
    admin.on(
        "dialog", lambda dialog: dialogs.append(dialog.message) if dialog.type == "alert" else None
    )
    start = settings_of(admin, demo_hub)["version"]
    admin.goto(demo_hub.url + "services/config/profiles/edit/classic")
    name = "Classic <img src=x onerror=alert(1)>"
    admin.get_by_label("Name", exact=True).fill(name)
    admin.get_by_label("Description").fill("<script>alert(2)</script>")
    admin.locator(".jhm-save").click()
    expect(admin.locator(".jhm-flash")).to_be_visible()
    for url in (
        demo_hub.url + "services/config/",
        demo_hub.url + "services/config/preview",
        demo_hub.url + f"services/config/history/diff?from={start}&to={start + 1}",
        demo_hub.hub_url("spawn"),
    ):
        admin.goto(url)
        expect(admin.get_by_text(name).first).to_be_visible()
    assert dialogs == []
    # put the demo's profile back, from the history
    admin.goto(demo_hub.url + "services/config/history")
    admin.get_by_role("button", name=f"Restore version {start}").click()
    expect(admin.locator(".jhm-flash")).to_contain_text(f"Saved as version {start + 2}")
    assert dialogs == []
