"""The hub's pages as a first-time user meets them, in Chromium on the demo hub: the spawn
page (by mouse and by keyboard alone), refusals in plain words, the Services menu, branding,
the hub's log, and axe-core on every page.

The demo's users: ``admin`` (hub admin), ``alice`` (group ``researchers``), ``bob`` (no
group). Its profiles: ``python`` (default), ``classic``, ``research`` (only researchers, with
an "Interface" option that takes a path of your own).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .fixtures.axe import assert_accessible
from .fixtures.browser import login
from .fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HUB_TITLE = "jhub-managed demo"  # the demo's branding: organization_name
CONTACT = "the person who started this demo"  # the demo's branding: contact


def hub_api(page: Page, hub, path: str, method: str = "GET", data=None):
    """The hub's REST API as the page's logged-in user (cookie and XSRF header)."""
    page.goto(hub.hub_url("home"))
    xsrf = page.evaluate("() => window.jhdata.xsrf_token")
    return page.request.fetch(
        hub.hub_url(f"api/{path}"), method=method, data=data, headers={"X-XSRFToken": xsrf}
    )


def server_of(page: Page, hub, user: str):
    response = hub_api(page, hub, f"users/{user}")
    assert response.ok, response.text()
    return response.json()["servers"].get("")


def stop_server(page: Page, hub, user: str) -> None:
    if server_of(page, hub, user) is not None:
        hub_api(page, hub, f"users/{user}/server", method="DELETE")
        wait_until(lambda: server_of(page, hub, user) is None, 60, f"{user}'s server to stop")


def hub_log(hub) -> str:
    return (hub.data_dir / "hub.log").read_text(errors="replace")


def log_since(hub, mark: int) -> str:
    return hub_log(hub)[mark:]


def focused(page: Page) -> dict:
    return page.evaluate(
        """() => { const e = document.activeElement;
        return {tag: e.tagName.toLowerCase(), name: e.name || "", id: e.id || "",
                type: e.type || "", text: (e.textContent || "").trim()}; }"""
    )


def tab_until(page: Page, matches, what: str, limit: int = 40) -> dict:
    for _ in range(limit):
        page.keyboard.press("Tab")
        element = focused(page)
        if matches(element):
            return element
    raise AssertionError(f"{limit} presses of Tab never reached {what}")


def test_login_and_home_pages_show_the_hub_and_its_branding(demo_hub, page: Page):
    page.goto(demo_hub.hub_url("login"))
    expect(page).to_have_title(f"Sign in · {HUB_TITLE}")
    expect(page.locator(".jhm-organization")).to_have_text(HUB_TITLE)
    assert_accessible(page, "the login page")

    login(page, demo_hub, "bob")
    page.goto(demo_hub.hub_url("home"))
    expect(page).to_have_title(f"Home · {HUB_TITLE}")
    expect(page.locator(".jhm-organization")).to_have_text(HUB_TITLE)
    expect(page.locator(".jhm-contact")).to_have_text(f"Need help? Contact {CONTACT}")
    expect(page.locator(".jhm-funded-by")).to_contain_text("Funded by nobody")
    expect(page.locator(".jhm-announcement")).to_contain_text("Welcome to the jhub-managed demo")
    assert_accessible(page, "the home page")


def test_services_menu_says_what_each_service_is_and_for_whom(demo_hub, browser):
    def menu_of(username: str) -> dict[str, str]:
        context = browser.new_context()
        page = context.new_page()
        try:
            login(page, demo_hub, username)
            page.goto(demo_hub.hub_url("home"))
            page.get_by_role("button", name="Services").click()
            items = page.locator(".dropdown-menu .jhm-service")
            expect(items.first).to_be_visible()
            assert_accessible(page, f"the home page with the Services menu open, as {username}")
            return {
                item.locator(".jhm-service-label").inner_text(): item.locator(
                    ".jhm-service-description"
                ).inner_text()
                for item in items.all()
            }
        finally:
            context.close()

    bob = menu_of("bob")
    assert list(bob) == ["My usage", "Hub status"]
    assert bob["My usage"] == "Your servers and the hours they ran"
    admin = menu_of("admin")
    assert list(admin) == ["Hub settings", "My usage", "Hub status"]
    assert "Profiles, announcement and branding" in admin["Hub settings"]
    # no raw service names anywhere in the menu
    for name in ("config", "usage", "health"):
        assert name not in bob and name not in admin


def test_spawn_page_shows_only_the_chosen_profiles_options_and_no_image_words(demo_hub, page: Page):
    login(page, demo_hub, "alice")
    stop_server(page, demo_hub, "alice")
    page.goto(demo_hub.hub_url("spawn"))
    expect(page).to_have_title(f"Start a server · {HUB_TITLE}")
    expect(page.locator(".jhm-profile")).to_have_count(3)
    # the local spawner runs no images: the cards say nothing about them
    expect(page.get_by_text("image", exact=False)).to_have_count(0)
    expect(page.get_by_text("not applicable")).to_have_count(0)

    research = page.locator('.jhm-profile[data-profile="research"]')
    interface = research.get_by_label("Interface")
    own_path = research.get_by_label("Or open this path")
    # Python is preselected: the research card's options neither show nor take focus
    expect(interface).to_be_hidden()
    expect(own_path).to_be_hidden()
    expect(interface).to_be_disabled()
    assert_accessible(page, "the spawn page")

    research.get_by_role("radio", name="Research environment").check()
    expect(interface).to_be_visible()
    expect(own_path).to_be_visible()
    python = page.locator('.jhm-profile[data-profile="python"]')
    expect(python.get_by_role("button", name=re.compile("Copy a launch link"))).to_be_hidden()
    assert_accessible(page, "the spawn page with the research profile chosen")

    # every form control has a label
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('#spawn_form input, #spawn_form select')]
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length)
                && !e.getAttribute('aria-label')).map(e => e.name)"""
    )
    assert unlabelled == []


def test_a_path_of_my_own_left_empty_is_explained(demo_hub, page: Page):
    login(page, demo_hub, "alice")
    stop_server(page, demo_hub, "alice")
    page.goto(demo_hub.hub_url("spawn"))
    research = page.locator('.jhm-profile[data-profile="research"]')
    research.get_by_role("radio", name="Research environment").check()
    research.get_by_label("Interface").select_option(label="A path of my own...")
    own_path = research.get_by_label("Or open this path")
    # the browser asks for the path at once
    expect(own_path).to_have_attribute("required", "")
    page.get_by_role("button", name="Start").click()
    assert page.evaluate(
        "() => document.querySelector('[name$=\"--interface--unlisted-choice\"]').validationMessage"
    )
    assert "/spawn" in page.url and server_of(page, demo_hub, "alice") is None

    # and the hub says the same to a browser that does not check (no script)
    page.goto(demo_hub.hub_url("spawn"))
    research.get_by_role("radio", name="Research environment").check()
    research.get_by_label("Interface").select_option(label="A path of my own...")
    page.evaluate("() => document.querySelectorAll('input').forEach(i => i.required = false)")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Start").click()
    assert answer.value.status == 400
    message = page.locator(".spawn-error-msg")
    expect(message).to_have_text(
        "You chose 'A path of my own...' for 'Interface' but typed nothing: type it in "
        "'Or open this path' (a path starting with /lab or /tree, e.g. /lab/tree/notes), "
        "or pick one from the list."
    )
    expect(message).not_to_contain_text("HTTP")
    expect(message).not_to_contain_text("unlisted_choice")
    assert_accessible(page, "the spawn page refusing an empty path")
    assert server_of(page, demo_hub, "alice") is None


def test_refused_launch_link_says_why_and_whom_to_ask_and_logs_one_info_line(demo_hub, page: Page):
    login(page, demo_hub, "bob")
    mark = len(hub_log(demo_hub))
    response = page.goto(demo_hub.hub_url("spawn?opt-profile=research&opt-interface=lab"))
    assert response.status == 403
    message = page.locator(".spawn-error-msg")
    expect(message).to_have_text(
        "The profile 'Research environment' is only for members of the group "
        f"'researchers'. Ask {CONTACT} for access."
    )
    expect(message).not_to_contain_text("HTTP 403")
    expect(message).not_to_contain_text("Error")
    expect(page.locator(".jhm-profile")).to_have_count(2)
    assert_accessible(page, "the spawn page refusing a launch link")

    # the REST API refuses the same, with the same words
    api = hub_api(page, demo_hub, "users/bob/server", method="POST", data={"profile": "research"})
    assert api.status == 403
    assert "only for members of the group 'researchers'" in api.json()["message"]
    assert server_of(page, demo_hub, "bob") is None

    def logged() -> bool:
        return log_since(demo_hub, mark).count("Refused spawn request of 'bob'") >= 2

    wait_until(logged, 30, "the hub to log both refusals")
    log = log_since(demo_hub, mark)
    refusals = [line for line in log.splitlines() if "Refused spawn request of 'bob'" in line]
    assert len(refusals) == 2
    for line in refusals:
        assert line.startswith("[I ")
        assert "for profile 'research' (403): The profile 'Research environment'" in line
    # no traceback, no ERROR line about it, no warning about the link's arguments
    assert "Traceback" not in log
    assert not [line for line in log.splitlines() if line.startswith("[E ")]
    assert "should be prefixed with `opt-`" not in log
    assert "Found a mix of new style" not in log


def test_copied_launch_link_is_new_style_and_starts_without_a_warning(demo_hub, page: Page):
    login(page, demo_hub, "alice")
    stop_server(page, demo_hub, "alice")
    page.goto(demo_hub.hub_url("spawn"))
    card = page.locator('.jhm-profile[data-profile="classic"]')
    card.get_by_role("radio", name="Classic notebook").check()
    card.get_by_role("button", name="Copy a launch link for Classic notebook").click()
    expect(card.locator(".jhm-copy-status")).to_contain_text("spawn?opt-profile=classic")
    link = card.locator(".jhm-copy-link").get_attribute("data-link")
    mark = len(hub_log(demo_hub))
    page.goto(link)
    page.wait_for_url(re.compile(r".*/user/alice/.*"), timeout=120_000)
    assert server_of(page, demo_hub, "alice")["user_options"] == {"profile": "classic"}
    log = log_since(demo_hub, mark)
    assert "should be prefixed with `opt-`" not in log and "Found a mix" not in log
    stop_server(page, demo_hub, "alice")


def test_spawn_page_by_keyboard_alone_with_a_typed_path(demo_hub, page: Page):
    login(page, demo_hub, "alice")
    stop_server(page, demo_hub, "alice")
    page.goto(demo_hub.hub_url("spawn"))
    page.locator("body").focus()

    # into the profiles: the selected profile's radio button (the last one alice started, or
    # the default) takes the focus
    checked = page.locator('input[name="profile"]:checked').get_attribute("id")
    radio = tab_until(page, lambda e: e["name"] == "profile", "the profile radio buttons")
    assert radio["id"] == checked
    # arrows move the choice; the research card's options appear and come next in order
    for _ in range(3):
        if focused(page)["id"] == "profile-item-research":
            break
        page.keyboard.press("ArrowDown")
    assert focused(page)["id"] == "profile-item-research"
    expect(page.locator("#profile-item-research")).to_be_checked()
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "profile-option-research--interface"
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "profile-option-research--interface--unlisted-choice"
    page.keyboard.type("/lab/tree")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Copy launch link"
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Start"
    mark = len(hub_log(demo_hub))
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r".*/user/alice/lab.*"), timeout=120_000)
    options = server_of(page, demo_hub, "alice")["user_options"]
    assert options == {
        "profile": "research",
        "interface": "unlisted_choice",
        "interface--unlisted-choice": "/lab/tree",
    }
    # the hub's log says what was typed
    wait_until(
        lambda: "with profile research: interface (typed)='/lab/tree'" in log_since(demo_hub, mark),
        30,
        "the start to be logged with the typed value",
    )
    # the demo's JupyterLab does not ask about Jupyter news
    lab = page.request.get(demo_hub.url + "user/alice/lab")
    assert re.search(r'"news":\s*\{\s*"disabled":\s*true', lab.text()), lab.text()[:2000]
    stop_server(page, demo_hub, "alice")


# -- the settings pages, as a hub admin meets them -------------------------------------------

SETTINGS_TABS = [
    ("", "Profiles"),
    ("profiles/new", "Add a profile"),
    ("profiles/edit/research", "Edit profile"),
    ("announcement", "Announcement"),
    ("branding", "Branding of the login page"),
    ("preview", "Preview of the spawn page"),
    ("history", "History"),
    ("history/diff?from=0", "Changes from version 0"),
]


def settings_of(page: Page, hub) -> dict:
    page.goto(hub.url + "services/config/")
    response = page.request.get(hub.url + "services/config/api/settings")
    assert response.ok, response.text()
    return response.json()


def accept_dialogs(page: Page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_every_settings_tab_passes_axe_and_names_the_hub(demo_hub, page: Page):
    login(page, demo_hub, "admin")
    for path, heading in SETTINGS_TABS:
        page.goto(demo_hub.url + "services/config/" + path)
        expect(
            page.get_by_role("heading", name=re.compile(re.escape(heading))).first
        ).to_be_visible()
        expect(page).to_have_title(re.compile(rf"Hub settings · {re.escape(HUB_TITLE)}$"))
        assert_accessible(page, f"the settings page {path or 'profiles'}")


def test_profile_editor_has_fields_for_what_admins_set_and_no_image_on_this_spawner(
    demo_hub, page: Page
):
    login(page, demo_hub, "admin")
    before = settings_of(page, demo_hub)
    research = next(p for p in before["settings"]["profiles"] if p["slug"] == "research")
    page.goto(demo_hub.url + "services/config/profiles/edit/research")
    # the demo runs local processes: no images to ask for (the profile keeps its own)
    expect(page.get_by_label("Image", exact=True)).to_have_count(0)
    env = page.get_by_label("Environment variables")
    expect(env).to_have_value("RESEARCH_ENVIRONMENT=1")
    opens_at = page.locator("#f-default_url")  # the profile's; choices have their own
    expect(opens_at).to_have_value("")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 2600, f"the profile editor is {height} px long"

    # the JSON box says at once whether what is typed is JSON
    page.get_by_text("Other spawner settings (JSON)").click()
    box = page.get_by_label("Other kubespawner_override settings")
    box.fill('{"node_selector": ')
    check = page.locator("#f-extra-check")
    expect(check).to_contain_text("Not valid JSON")
    expect(box).to_have_class(re.compile(r"\bis-invalid\b"))
    box.fill("[1, 2]")
    expect(check).to_have_text('Must be a JSON object, like {"key": "value"}.')
    box.fill("")
    expect(check).to_have_text("")
    assert_accessible(page, "the profile editor with a JSON box open")

    env.fill("RESEARCH_ENVIRONMENT=1\nPROJECT=climate models")
    opens_at.fill("/lab/tree")
    page.locator(".jhm-save").click()
    expect(page.locator(".jhm-flash")).to_be_visible()
    after = settings_of(page, demo_hub)
    saved = next(p for p in after["settings"]["profiles"] if p["slug"] == "research")
    override = saved["kubespawner_override"]
    assert override["environment"] == {"RESEARCH_ENVIRONMENT": "1", "PROJECT": "climate models"}
    assert override["default_url"] == "/lab/tree"
    assert override["image"] == research["kubespawner_override"]["image"]

    # a line that is no variable is refused, and nothing is saved
    page.goto(demo_hub.url + "services/config/profiles/edit/research")
    page.get_by_label("Environment variables").fill("NO EQUALS SIGN")
    page.locator(".jhm-save").click()
    expect(page.locator('.jhm-field-error[data-field="environment"]')).to_have_text(
        "line 1: write NAME=value"
    )
    assert settings_of(page, demo_hub)["version"] == after["version"]


def test_history_dates_version_0_and_the_diff_has_no_empty_rows(demo_hub, page: Page):
    accept_dialogs(page)
    login(page, demo_hub, "admin")
    start = settings_of(page, demo_hub)["version"]
    page.goto(demo_hub.url + "services/config/announcement")
    page.get_by_label("Text").fill("Maintenance on **Friday**.")
    page.locator(".jhm-save").click()
    expect(page.locator(".jhm-flash")).to_contain_text(f"Saved as version {start + 1}")

    page.goto(demo_hub.url + f"services/config/history/diff?from={start}&to={start + 1}")
    labels = page.locator(".jhm-change td:first-child").all_inner_texts()
    assert any("Text" in label for label in labels), labels
    assert not [label for label in labels if "Starts" in label or "Expires" in label], labels
    for row in page.locator(".jhm-change").all():
        cells = row.locator("pre").all_inner_texts()
        assert cells != ["—", "—"] and "—" not in cells[1:], cells

    page.goto(demo_hub.url + "services/config/history")
    deployed = page.locator('.jhm-version[data-version="0"] .jhm-deployed')
    expect(deployed).to_have_text(
        re.compile(r"^from the deployment, 20\d\d-\d\d-\d\d \d\d:\d\d UTC$")
    )
    page.goto(demo_hub.url + "services/config/history/diff?from=0&to=0")
    versions = page.locator("p", has_text="Version 0: from the deployment")
    expect(versions).to_contain_text(re.compile(r"Version 0:\s+from the deployment, 20\d\d-"))


def test_branding_says_organization_and_a_too_long_announcement_is_told_the_limit(
    demo_hub, page: Page
):
    login(page, demo_hub, "admin")
    page.goto(demo_hub.url + "services/config/branding")
    expect(page.get_by_label("Organization name")).to_have_value(HUB_TITLE)
    expect(page.get_by_label("Organization URL")).to_be_visible()
    assert "rganisation" not in page.content()

    before = settings_of(page, demo_hub)
    page.goto(demo_hub.url + "services/config/announcement")
    # past the box's own limit, as a pasted text or a hand-made post would be
    page.evaluate(
        "() => { const t = document.querySelector('#f-text'); t.removeAttribute('maxlength');"
        " t.value = 'x'.repeat(5001); }"
    )
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator(".jhm-save").click()
    assert answer.value.status == 400
    error = page.locator('.jhm-field-error[data-field="text"]')
    expect(error).to_have_text("is 5,001 characters long; at most 5,000 are allowed")
    assert "xxxxxxxxxx" not in page.locator(".jhm-errors").inner_text()
    assert settings_of(page, demo_hub) == before


def test_an_xsrf_refusal_shows_who_is_logged_in_not_a_login_button(demo_hub, page: Page):
    login(page, demo_hub, "admin")
    before = settings_of(page, demo_hub)
    page.goto(demo_hub.url + "services/config/branding")
    page.evaluate("() => { document.querySelector('input[name=_xsrf]').value = 'stale-token'; }")
    page.get_by_label("Funded by").fill("Forged")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator(".jhm-save").click()
    assert answer.value.status == 403
    expect(page.locator(".jhm-error-message")).to_contain_text("did not come from the settings")
    expect(page.locator("#login")).to_have_count(0)
    expect(page.locator("#logout")).to_be_visible()
    expect(page.locator("#login_widget")).to_contain_text("admin")
    assert_accessible(page, "the settings service's XSRF refusal")
    assert settings_of(page, demo_hub) == before


def test_usage_and_health_pages_pass_axe(demo_hub, browser):
    """The usage pages (own use, the reports) and the health status page, as a hub admin and
    as a user without a group: no serious or critical axe-core finding."""
    pages = {
        "admin": [
            ("services/usage/", "My usage"),
            ("services/usage/report", "Usage report"),
            ("services/health/", "Hub status"),
        ],
        "bob": [("services/usage/", "My usage"), ("services/health/", "Hub status")],
    }
    for username, paths in pages.items():
        context = browser.new_context()
        page = context.new_page()
        try:
            login(page, demo_hub, username)
            for path, what in paths:
                response = page.goto(demo_hub.url + path)
                assert response is not None and response.status == 200, (path, username)
                expect(page.locator("main, #jhm-main, .container").first).to_be_visible()
                assert_accessible(page, f"{what} ({path}) as {username}")
        finally:
            context.close()
