"""The usage pages as people meet them: in Chromium, on a real demo hub with its proxy and
services, with sessions of known length in the usage store.

Users (from the demo's login, with groups): ``admin`` (hub admin), ``alice`` (researchers),
``bob`` (no group), ``carol`` (a group named like a script), ``reporter`` (in a group that holds
the usage-report scope), and ``u75``, ``u80``, ``u100``, whose groups have used 75 %, 80 %
and 100 % of their monthly budgets.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Browser, Page, expect

from jhub_managed.store import SettingsStore, create_engine_for, upgrade
from jhub_managed.store.attribution import attribute
from jhub_managed.store.usage import SessionFacts, UsageRecorder

from .fixtures.browser import login
from .fixtures.demo import DEMO_PASSWORD, DemoHub
from .fixtures.processes import HUB_CONFIG_PREAMBLE, Process, hub_environment
from .fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

EVIL = "<script>alert(1)</script>"
USERS = {
    # hub admins read the reports with the usage-report scope; here through the group that
    # holds it (usage_report_groups), which works whatever else gives hub admins the scope
    "admin": {"admin": True, "groups": ["usage-readers"]},
    "alice": {"groups": ["researchers"]},
    "bob": {"groups": []},
    "carol": {"groups": [EVIL]},
    "reporter": {"groups": ["usage-readers"]},
    "u75": {"groups": ["g75"]},
    "u80": {"groups": ["g80"]},
    "u100": {"groups": ["g100"]},
}
#: who used what today (UTC): (user, profile, start hour, hours)
SESSIONS = [
    ("alice", "research", 0.0, 3.0),
    ("bob", "python", 1.0, 1.5),
    ("carol", "python", 0.0, 0.5),
    ("u75", "python", 0.0, 3.0),
    ("u80", "python", 0.0, 3.0),
    ("u100", "python", 0.0, 3.0),
]
#: 3 server-hours each: 75 %, 80 %, 100 %; researchers at 30 %
BUDGETS = {
    "g75": {"server_hours": 4},
    "g80": {"server_hours": 3.75},
    "g100": {"server_hours": 3},
    "researchers": {"server_hours": 10},
}
#: the demo hub's configuration, with these users, a group that may read the reports, and
#: more time for each service to come up (on a loaded machine the hub, which starts them
#: one after another, would give up on one)
HUB_CONFIG = f"""
import os
from jhub_managed.demo.settings import DEMO_SETTINGS
from jhub_managed.hub import configure

{HUB_CONFIG_PREAMBLE}c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
configure(
    c,
    hub_name="usagetest",
    spawner="local",
    authenticator="demo",
    data_dir=data_dir,
    hub_values=DEMO_SETTINGS,
    usage_report_groups=["usage-readers"],
)
import jupyterhub
if jupyterhub.version_info >= (6,):  # a service's own start timeout is new in 6.0
    for service in c.JupyterHub.services:
        service["timeout"] = 300
c.ManagedDemoAuthenticator.password = env["JHM_TEST_PASSWORD"]
c.ManagedDemoAuthenticator.demo_users = {USERS!r}
"""


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def start_hub(tmp, timeout: float = 300) -> DemoHub:
    """A hub like the demo's (local servers, the demo login) with the users above."""
    data_dir = tmp / "demo-data"
    (data_dir / "users").mkdir(parents=True)
    config = tmp / "jupyterhub_config.py"
    config.write_text(HUB_CONFIG)
    port, env = hub_environment(data_dir, JHM_TEST_PASSWORD=DEMO_PASSWORD)
    process = Process(
        [sys.executable, "-m", "jupyterhub", "-f", str(config)],
        tmp / "hub.log",
        env=env,
        cwd=data_dir,
    )
    url = f"http://127.0.0.1:{port}/"
    hub = DemoHub(url=url, password=DEMO_PASSWORD, data_dir=data_dir, process=process)

    def up() -> bool:
        assert process.popen.poll() is None, "the hub exited:\n" + process.log()[-5000:]
        return answers(url + "services/health/") and answers(url + "services/usage/")

    try:
        wait_until(up, timeout, "the hub and its services to come up", interval=1)
    except BaseException:
        process.stop()
        raise
    return hub


@pytest.fixture(scope="module")
def today():
    return datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def usage_hub(tmp_path_factory, today):
    tmp = tmp_path_factory.mktemp("usage-pages")
    hub = start_hub(tmp)
    try:
        # the sessions and budgets are in the store before any hub page is seen
        url = "sqlite:///" + str(hub.data_dir / "jhub-managed.sqlite")
        engine = create_engine_for(url)
        upgrade(engine)
        recorder = UsageRecorder(engine)
        for user, profile, start, hours in SESSIONS:
            groups = USERS[user]["groups"]
            started = (today + timedelta(hours=start)).timestamp()
            facts = SessionFacts(
                user_name=user,
                server_name="",
                started_at=started,
                attribution=attribute(user, groups),
                groups=list(groups),
                profile=profile,
                resources={"cpu_limit": 1.0, "mem_limit": float(2 * 1024**3)},
            )
            recorder.record_start(facts)
            recorder.record_stop(facts, started + hours * 3600)
        engine.dispose()
        store = SettingsStore(url)
        store.save(
            {"budgets": BUDGETS},
            author="test",
            comment="budgets",
            expected_version=store.current_version(),
        )
        store.dispose()
        yield hub
    finally:
        hub.process.signal(2)  # Ctrl-C: the hub stops its proxy and services
        try:
            hub.process.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        hub.process.stop(timeout=20)


@pytest.fixture(autouse=True, scope="module")
def patient_expect():
    """A minute for each expectation: pages come slowly on a loaded machine."""
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


def new_page(browser: Browser) -> Page:
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
    return page


def rows_of(page: Page, selector: str) -> dict[str, list[str]]:
    """A table's rows by their first cell."""
    rows = {}
    for row in page.locator(f"{selector} tbody tr").all():
        cells = [c.strip() for c in row.locator("th, td").all_inner_texts()]
        rows[cells[0]] = cells[1:]
    return rows


def session_rows(hub) -> int:
    with sqlite3.connect(hub.data_dir / "jhub-managed.sqlite") as db:
        return db.execute("SELECT count(*) FROM jhm_usage_sessions").fetchone()[0]


def test_admin_reads_charts_and_tables_with_the_hours_of_the_sessions(usage_hub, browser, today):
    page = new_page(browser)
    login(page, usage_hub, "admin")
    page.goto(usage_hub.url + "services/usage/report")
    expect(page.locator("h1")).to_have_text("Usage of this hub")
    day = today.date().isoformat()

    charts = page.locator("section[data-chart]")
    expect(charts).to_have_count(4)
    for key, title in (
        ("server-hours-by-group", "Server-hours per day by group"),
        ("active-users", "Active users per day"),
        ("top-profiles", "Top profiles by server-hours"),
        ("budget-use", "Budget use in"),
    ):
        chart = page.locator(f'section[data-chart="{key}"]')
        expect(chart.locator("svg[role=img] > title")).to_contain_text(title)
        expect(chart.locator("svg > desc")).not_to_be_empty()

    # the table under the daily chart: today's hours by group
    daily = page.locator('section[data-chart="server-hours-by-group"] table')
    headings = [h.strip() for h in daily.locator("thead th").all_inner_texts()]
    cells = rows_of(page, '[data-chart="server-hours-by-group"] table')[day]
    values = dict(zip(headings[1:], cells, strict=True))
    assert values["Total"] == "14.00"
    assert values["researchers"] == "3.00" and values["none"] == "1.50"
    assert values[EVIL] == "0.50"

    active = rows_of(page, '[data-chart="active-users"] table')
    assert active[day] == ["6"]
    profiles = rows_of(page, '[data-chart="top-profiles"] table')
    assert profiles == {"python": ["11.00"], "research": ["3.00"]}
    budgets = rows_of(page, '[data-chart="budget-use"] table')
    assert budgets["g100"] == ["3.00", "3.00", "server-hours", "100 %"]
    assert budgets["g80"] == ["3.00", "3.75", "server-hours", "80 %"]
    assert budgets["g75"] == ["3.00", "4.00", "server-hours", "75 %"]
    assert budgets["researchers"] == ["3.00", "10.00", "server-hours", "30 %"]

    # the report by group: sessions, server-hours, CPU-hours, memory GiB-hours
    by_group = rows_of(page, "table.jhm-report-table:has(caption:text('By group'))")
    assert by_group["researchers"][:4] == ["1", "3.00", "3.00", "6.00"]
    assert by_group["Total (billed)"][:2] == ["6", "14.00"]
    by_user = rows_of(page, "table.jhm-report-table:has(caption:text('By user'))")
    assert by_user["bob"][:2] == ["1", "1.50"]

    # a group named like a script is shown as text, and runs nothing
    expect(page.get_by_role("rowheader", name=EVIL).first).to_be_visible()
    assert page.locator("script", has_text="alert(1)").count() == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content()


def test_the_date_picker_and_the_csv_download(usage_hub, browser, today):
    page = new_page(browser)
    login(page, usage_hub, "admin")
    page.goto(usage_hub.url + "services/usage/report")
    earlier = (today - timedelta(days=40)).date()
    # a range without today: nothing was used then
    page.get_by_label("From", exact=True).fill(earlier.isoformat())
    page.get_by_label("To (inclusive)", exact=True).fill((earlier + timedelta(days=5)).isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(rf".*start={earlier.isoformat()}.*"))
    expect(page.locator(".jhm-range-shown")).to_contain_text(f"From {earlier.isoformat()}")
    expect(page.locator('section[data-chart="server-hours-by-group"] svg')).to_contain_text(
        "No use in this period."
    )
    # a range with today in it
    page.get_by_label("To (inclusive)", exact=True).fill(today.date().isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".jhm-range-shown")).to_contain_text(f"to {today.date().isoformat()}")
    by_group = rows_of(page, "table.jhm-report-table:has(caption:text('By group'))")
    assert by_group["Total (billed)"][:2] == ["6", "14.00"]

    link = page.get_by_role("link", name="by group")
    href = link.get_attribute("href")
    assert "format=csv" in href and f"start={earlier.isoformat()}" in href
    with page.expect_download() as download:
        link.click()
    text = open(download.value.path(), encoding="utf-8").read()
    rows = {row["group"]: row for row in csv.DictReader(io.StringIO(text))}
    assert float(rows["researchers"]["server_hours"]) == pytest.approx(3.0)
    assert float(rows["none"]["server_hours"]) == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("start=yesterday", "The start date “yesterday” is not a date"),
        ("start=2026-11-10&end=2026-11-01", "is before the start date"),
        ("start=2020-01-01&end=2026-01-01", "a report covers at most 400 days"),
        ("end=%3Cscript%3Ealert(1)%3C/script%3E", "The end date “<script>alert(1)</script>”"),
    ],
)
def test_bad_dates_give_a_message_and_read_nothing(usage_hub, browser, query, words):
    before = session_rows(usage_hub)
    page = new_page(browser)
    login(page, usage_hub, "admin")
    response = page.goto(usage_hub.url + "services/usage/report?" + query)
    assert response.status == 400
    expect(page.locator(".jhm-range-errors")).to_contain_text(words)
    expect(page.locator("section[data-chart]")).to_have_count(0)
    expect(page.locator("form.jhm-range")).to_be_visible()  # to try again
    assert session_rows(usage_hub) == before


def test_a_user_sees_their_own_use_and_not_the_hub_reports(usage_hub, browser):
    page = new_page(browser)
    login(page, usage_hub, "alice")
    page.goto(usage_hub.url + "services/usage/")
    expect(page.locator("h1")).to_have_text("My usage")
    this_month = page.locator('tr.jhm-month[data-month="this_month"]')
    expect(this_month.locator('[data-figure="server_hours"]')).to_have_text("3.00")
    expect(this_month.locator('[data-figure="sessions"]')).to_have_text("1")
    expect(page.locator('tr.jhm-month[data-month="last_month"]')).to_be_visible()
    budget = page.locator('tr.jhm-budget[data-group="researchers"]')
    expect(budget).to_contain_text("3.00")
    expect(budget).to_contain_text("10.00")
    expect(budget).to_contain_text("30 %")
    # only alice's own figures, and no way to the reports
    expect(page.get_by_text("bob")).to_have_count(0)
    expect(page.get_by_role("link", name="Hub reports")).to_have_count(0)

    response = page.goto(usage_hub.url + "services/usage/report")
    assert response.status == 403
    expect(page.locator(".jhm-error-message")).to_contain_text("Your own use is on the usage page")
    expect(page.locator("section[data-chart]")).to_have_count(0)

    bob = new_page(browser)
    login(bob, usage_hub, "bob")
    bob.goto(usage_hub.url + "services/usage/")
    expect(
        bob.locator('tr.jhm-month[data-month="this_month"] [data-figure="server_hours"]')
    ).to_have_text("1.50")
    expect(bob.locator(".jhm-no-budget")).to_be_visible()


def test_the_usage_report_scope_opens_the_reports_without_being_admin(usage_hub, browser):
    page = new_page(browser)
    login(page, usage_hub, "reporter")
    page.goto(usage_hub.url + "services/usage/")
    page.get_by_role("link", name="Hub reports").click()
    expect(page.locator('section[data-chart="budget-use"]')).to_be_visible()


def home_notice(page: Page, hub):
    page.goto(hub.hub_url("home"))
    return page.locator(".jhm-budget-notice")


def test_the_budget_notice_at_80_and_100_percent_and_not_below(usage_hub, browser):
    u80, u75, u100 = new_page(browser), new_page(browser), new_page(browser)
    login(u80, usage_hub, "u80")
    # the hub adds the figures up in the background: wait for the first time
    wait_until(lambda: home_notice(u80, usage_hub).count() == 1, 90, "the budget notice of u80")
    notice = u80.locator(".jhm-budget-notice")
    expect(notice).to_have_attribute("data-level", "warning")
    expect(notice).to_contain_text("Your group “g80” has used 80 % of its monthly budget")
    expect(notice).to_contain_text("3.00 of 3.75 server-hours")
    notice.get_by_role("link", name="See your usage").click()
    expect(u80.locator("h1")).to_have_text("My usage")

    login(u100, usage_hub, "u100")
    notice = home_notice(u100, usage_hub)
    expect(notice).to_have_attribute("data-level", "exceeded")
    expect(notice).to_contain_text("Your group “g100” has used its monthly budget")

    login(u75, usage_hub, "u75")
    expect(home_notice(u75, usage_hub)).to_have_count(0)
    alice = new_page(browser)
    login(alice, usage_hub, "alice")
    expect(home_notice(alice, usage_hub)).to_have_count(0)


def settings_version(hub) -> int:
    store = SettingsStore("sqlite:///" + str(hub.data_dir / "jhub-managed.sqlite"))
    try:
        return store.current_version()
    finally:
        store.dispose()


def test_a_hub_admin_sets_a_budget_in_the_budgets_tab(usage_hub, browser):
    page = new_page(browser)
    login(page, usage_hub, "admin")
    page.goto(usage_hub.url + "services/config/budgets")
    rows = page.locator("tr.jhm-budget-row")
    groups = [rows.nth(i).locator("input[name$=-group]").input_value() for i in range(4)]
    assert groups == ["g100", "g75", "g80", "researchers"]
    expect(page.locator('input[name="b3-amount"]')).to_have_value("10")
    start = settings_version(usage_hub)

    # a wrong amount: said next to it, nothing saved, what was typed is kept
    page.locator('input[name="b4-group"]').fill("chemistry")
    page.locator('input[name="b4-amount"]').fill("lots")
    page.locator(".jhm-save").click()
    expect(page.locator(".jhm-errors")).to_contain_text("Nothing was saved.")
    error = page.locator('.jhm-field-error[data-field="b4-amount"]')
    expect(error).to_contain_text("“lots” is not a number")
    expect(page.locator('input[name="b4-group"]')).to_have_value("chemistry")
    assert settings_version(usage_hub) == start

    # a right one: a new settings version, in the history, and on the reports
    page.locator('input[name="b4-amount"]').fill("20")
    page.locator("#f-comment").fill("A budget for chemistry")
    page.locator(".jhm-save").click()
    expect(page.locator(".jhm-flash")).to_contain_text(
        f"Saved as version {start + 1}: A budget for chemistry"
    )
    assert settings_version(usage_hub) == start + 1
    page.goto(usage_hub.url + "services/config/history")
    expect(page.locator(f'.jhm-version[data-version="{start + 1}"]')).to_contain_text(
        "A budget for chemistry"
    )
    page.goto(usage_hub.url + "services/usage/report")
    budgets = rows_of(page, '[data-chart="budget-use"] table')
    assert budgets["chemistry"] == ["0.00", "20.00", "server-hours", "0 %"]
    assert budgets["g80"] == ["3.00", "3.75", "server-hours", "80 %"]
