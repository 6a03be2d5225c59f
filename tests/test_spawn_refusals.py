"""Refused spawn requests in words: the message users read, and the hub's log."""

from __future__ import annotations

import logging

import pytest
from tornado.log import app_log

from jhub_managed.hub_pages import SERVICE_MENU, hub_title
from jhub_managed.settings import ProfileRequestError, select_profile
from jhub_managed.spawner.refusal import (
    RefusalLogFilter,
    SpawnRefused,
    bounded,
    contact_html,
    describe_selection,
    log_refusal,
)

PROFILES = [
    {
        "display_name": "Research",
        "slug": "research",
        "default": True,
        "profile_options": {
            "interface": {
                "display_name": "Interface",
                "choices": {"lab": {"display_name": "JupyterLab", "default": True}},
                "unlisted_choice": {
                    "enabled": True,
                    "display_name": "Or open this path",
                    "display_name_in_choices": "A path of my own...",
                    "validation_message": "a path starting with /lab",
                },
            }
        },
    }
]


def test_other_chosen_with_nothing_typed_says_what_to_do():
    with pytest.raises(ProfileRequestError) as refused:
        select_profile(PROFILES, [], {"profile": "research", "interface": "unlisted_choice"})
    assert refused.value.status == 400
    assert refused.value.message == (
        "You chose 'A path of my own...' for 'Interface' but typed nothing: type it in "
        "'Or open this path' (a path starting with /lab), or pick one from the list."
    )
    # typed, it goes through
    selection = select_profile(
        PROFILES,
        [],
        {
            "profile": "research",
            "interface": "unlisted_choice",
            "interface--unlisted-choice": "/lab",
        },
    )
    assert selection.unlisted == {"interface": "/lab"}


@pytest.mark.parametrize(
    ("contact", "text", "html"),
    [
        ("help@example.org", " Ask help@example.org for access.", 'href="mailto:help@example.org"'),
        ("https://example.org/help", " Ask https://example.org/help for access.", 'href="https://'),
        ("<b>Jo</b>", " Ask <b>Jo</b> for access.", "Ask &lt;b&gt;Jo&lt;/b&gt; for access."),
        ("", " Ask this hub's admins for access.", "Ask this hub&#39;s admins"),
    ],
)
def test_a_403_says_whom_to_ask_in_text_and_safe_html(contact, text, html):
    refusal = SpawnRefused(403, "The profile 'R' is only for 'x'.", contact)
    assert refusal.jupyterhub_message == "The profile 'R' is only for 'x'." + text
    assert html in str(refusal.jupyterhub_html_message)
    assert "<b>" not in str(refusal.jupyterhub_html_message)
    # what JupyterHub would show when it prints the exception: no "HTTP 403: error (...)"
    assert str(refusal) == refusal.jupyterhub_message
    assert refusal.status_code == 403


def test_a_400_asks_no_one_and_escapes_what_was_typed():
    refusal = SpawnRefused(400, "Unknown profile '<script>'.", "help@example.org")
    assert refusal.jupyterhub_message == "Unknown profile '<script>'."
    assert "<script>" not in str(refusal.jupyterhub_html_message)


def test_contact_html_links_only_urls_and_addresses():
    assert str(contact_html("javascript:alert(1)")) == "javascript:alert(1)"
    assert "<a" not in str(contact_html("mailto:x@y with space"))


def test_refusal_is_one_info_line_and_the_hubs_error_records_of_it_are_dropped():
    log = logging.getLogger("test-refusals")
    log.setLevel(logging.DEBUG)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    log.addHandler(Keep())
    app_log.addHandler(Keep())
    refusal = SpawnRefused(403, "The profile 'R' is only for members of 'x'.", "")
    log_refusal(log, "bob" + "b" * 500, "research", refusal)
    try:
        raise refusal
    except SpawnRefused:
        log.error("Failed to spawn single-user server with form", exc_info=True)
    # JupyterHub's User.spawn logs to tornado's application logger
    app_log.error(f"Error starting bob's server: {refusal}")
    log.error("Something else broke")
    assert [(r.levelname, r.getMessage()[:40]) for r in records] == [
        ("INFO", "Refused spawn request of 'bobbbbbbbbbbbb"),
        ("ERROR", "Something else broke"),
    ]
    info = records[0].getMessage()
    assert "for profile 'research' (403): The profile 'R' is only" in info
    assert len(info) < 400  # the user name was bounded
    assert sum(isinstance(f, RefusalLogFilter) for f in log.filters) == 1
    log_refusal(log, "bob", "research", refusal)
    assert sum(isinstance(f, RefusalLogFilter) for f in log.filters) == 1
    assert sum(isinstance(f, RefusalLogFilter) for f in app_log.filters) == 1


def test_typed_values_are_logged_bounded():
    line = describe_selection({"interface": "lab"}, {"path": "/lab/" + "x" * 1000})
    assert line.startswith("interface='lab', path (typed)='/lab/xxx")
    assert len(line) < 260
    assert bounded("a\nb") == "'a\\nb'"  # no line breaks into the log
    assert describe_selection({}, {}) == "no options"


def test_tab_title_and_services_menu():
    assert hub_title({"branding": {"organization_name": "Physics dept"}}, "physics") == (
        "Physics dept"
    )
    assert hub_title({}, "physics") == "physics"
    assert [SERVICE_MENU[name]["label"] for name in ("config", "usage", "health")] == [
        "Hub settings",
        "My usage",
        "Hub status",
    ]
    assert [name for name, entry in SERVICE_MENU.items() if entry["for_editors"]] == ["config"]
