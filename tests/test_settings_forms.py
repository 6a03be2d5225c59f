"""The settings forms as pure functions: form <-> profile, errors next to their fields,
announcement times, branding."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from jhub_managed.demo.settings import DEMO_SETTINGS
from jhub_managed.settings import Ceilings, document_errors
from jhub_managed.settings.forms import announcement as announcement_forms
from jhub_managed.settings.forms import branding as branding_forms
from jhub_managed.settings.forms import fields as form_fields
from jhub_managed.settings.forms import profiles

from .fixtures.forms import UNLISTED_PROFILE, post_fields


def round_trip(profile: dict) -> tuple[dict, dict]:
    fields = post_fields(profiles.profile_to_view(profile))
    view = profiles.view_from_form(lambda name: fields.get(name, ""))
    result, _, errors = profiles.view_to_profile(view)
    return result, errors


@pytest.mark.parametrize(
    "profile",
    [*DEMO_SETTINGS["profiles"], UNLISTED_PROFILE],
    ids=lambda p: p["slug"],
)
def test_a_profile_saved_unchanged_from_its_form_stays_the_same(profile):
    result, errors = round_trip(profile)
    assert errors == {}
    expected = copy.deepcopy(profile)
    # whole byte counts come back with a unit
    if expected["slug"] == "images":
        expected["kubespawner_override"]["mem_limit"] = "2G"
    assert result == expected


def test_blank_rows_are_ignored_and_keys_come_from_names():
    view = profiles.profile_to_view({})
    view["display_name"] = "GPU Work (beta)"
    profiles.add_option(view)
    view["options"][0]["display_name"] = "Image flavour"
    view["options"][0]["choices"] = [
        {**profiles.blank_choice(), "display_name": "R 4.3", "groups": "researchers, , staff"},
        profiles.blank_choice(),
    ]
    profile, fields, errors = profiles.view_to_profile(view)
    assert errors == {}
    assert profile["slug"] == "gpu-work-beta"
    option = profile["profile_options"]["image-flavour"]
    assert option["choices"] == {
        "r-4-3": {"display_name": "R 4.3", "allowed_groups": ["researchers", "staff"]}
    }
    assert fields["/profile_options/image-flavour/choices/r-4-3/allowed_groups"] == "o0-c0-groups"


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("cpu_limit", "two", "a number of CPUs"),
        ("cpu_limit", "nan", "a number of CPUs"),
        ("mem_limit", "4", "say which unit"),
        ("mem_limit", "lots", "not a memory quantity"),
        ("gpu_limit", "1.5", "whole number"),
        ("idle_minutes", "-3", "number of minutes"),
        ("extra", "{not json", "not valid JSON"),
        ("extra", "[1, 2]", "must be a JSON object"),
        ("extra", '{"image": "x"}', "has its own field"),
        ("slug", "Not A Slug", "lowercase letters"),
    ],
)
def test_field_errors_name_the_field(field, text, message):
    view = profiles.profile_to_view(DEMO_SETTINGS["profiles"][0])
    view[field] = text
    _, _, errors = profiles.view_to_profile(view)
    assert field in errors, errors
    assert message in " ".join(errors[field])


def test_memory_units_are_read_as_people_write_them():
    view = profiles.profile_to_view({"display_name": "A", "slug": "a"})
    view["mem_limit"] = "4 gb"
    view["mem_guarantee"] = "512Mi"
    profile, _, errors = profiles.view_to_profile(view)
    assert errors == {}
    assert profile["kubespawner_override"] == {"mem_limit": "4G", "mem_guarantee": "512Mi"}


def test_an_option_with_nothing_to_choose_and_duplicate_choice_keys_are_refused():
    view = profiles.profile_to_view({"display_name": "A", "slug": "a"})
    profiles.add_option(view)
    view["options"][0]["display_name"] = "Image"
    profiles.add_option(view)
    view["options"][1]["display_name"] = "Size"
    view["options"][1]["choices"] = [
        {**profiles.blank_choice(), "display_name": "Small", "key": "s"},
        {**profiles.blank_choice(), "display_name": "Smaller", "key": "s"},
    ]
    _, _, errors = profiles.view_to_profile(view)
    assert "nothing to choose" in " ".join(errors["o0-display_name"])
    assert "another choice is called 's'" in " ".join(errors["o1-c1-key"])


def test_removed_choices_and_options_are_dropped():
    view = profiles.profile_to_view(UNLISTED_PROFILE)
    view["options"][0]["choices"][1]["remove"] = True
    profile, _, _ = profiles.view_to_profile(view)
    assert list(profile["profile_options"]["image"]["choices"]) == ["scipy"]
    view["options"][0]["remove"] = True
    profile, _, _ = profiles.view_to_profile(view)
    assert "profile_options" not in profile


def test_document_errors_land_next_to_their_fields():
    ceilings = Ceilings.from_config(
        {"cpu_limit": 1, "mem_limit": "1G", "gpu_limit": 0, "image_patterns": [r"quay\.io/.*"]}
    )
    view = profiles.profile_to_view(UNLISTED_PROFILE)
    view["options"][0]["choices"][1]["image"] = "docker.io/evil:1"
    view["options"][0]["unlisted"]["validation_regex"] = "([unclosed"
    profile, fields, _ = profiles.view_to_profile(view)
    document = {"profiles": [DEMO_SETTINGS["profiles"][0], profile]}
    by_field, rest = form_fields.place_errors(
        document_errors(document, ceilings), "/profiles/1", fields
    )
    assert "above the operator's ceiling of 1 CPU" in " ".join(by_field["cpu_limit"])
    assert "above the operator's ceiling" in " ".join(by_field["mem_limit"])
    assert "1 GPU is above" in " ".join(by_field["gpu_limit"])
    assert "not allowed by the operator" in " ".join(by_field["o0-c1-image"])
    assert "not a valid regular expression" in " ".join(by_field["o0-u-validation_regex"])
    assert rest == []


def test_duplicate_gets_a_free_slug_and_is_not_default():
    taken = {"python", "python-copy"}
    copy_ = profiles.copy_for_duplicate(DEMO_SETTINGS["profiles"][0], taken)
    assert copy_["slug"] == "python-copy-2"
    assert copy_["display_name"] == "Copy of Python"
    assert "default" not in copy_


def test_announcement_times_from_the_browser_and_without_script():
    posted = {
        "text": "Maintenance **tonight**",
        "level": "warning",
        "starts_at": "2026-03-01T10:00",
        # the page's script sends the browser's own conversion to UTC
        "expires_at": "2026-03-01T12:00:30",
        "expires_at_utc": "2026-03-01T11:00:30.000Z",
    }
    announcement, view, errors = announcement_forms.announcement_from_form(
        lambda n: posted.get(n, ""), lambda n: ["login", "spawn", "bogus"]
    )
    assert errors == {}
    assert announcement == {
        "text": "Maintenance **tonight**",
        "level": "warning",
        "show_on": ["login", "spawn"],
        "starts_at": "2026-03-01T10:00:00Z",
        "expires_at": "2026-03-01T11:00:30Z",
    }
    assert view["expires_at"] == "2026-03-01T11:00:30"


def test_announcement_expiry_before_start_and_nonsense_times_are_refused():
    posted = {"starts_at": "2026-03-02T10:00", "expires_at": "2026-03-01T10:00"}
    _, _, errors = announcement_forms.announcement_from_form(
        lambda n: posted.get(n, ""), lambda n: []
    )
    assert "after the start" in errors["expires_at"][0]
    _, _, errors = announcement_forms.announcement_from_form(
        lambda n: {"starts_at": "soon"}.get(n, ""), lambda n: []
    )
    assert "not a date" in errors["starts_at"][0]


def test_announcement_state_in_words():
    now = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    state = announcement_forms.announcement_state
    assert state({}, now) == "There is no announcement."
    assert "Showing now on the login, home and spawn pages" in state({"text": "x"}, now)
    assert "Scheduled" in state({"text": "x", "starts_at": "2026-03-02T00:00:00Z"}, now)
    assert "Expired" in state({"text": "x", "expires_at": "2026-03-01T00:00:00Z"}, now)
    assert "no page" in state({"text": "x", "show_on": []}, now)


def test_branding_keeps_every_key_so_clearing_one_sticks():
    posted = {"organization_name": " Physics ", "logo_url": ""}
    assert branding_forms.branding_from_form(lambda n: posted.get(n, "")) == {
        "organization_name": "Physics",
        "organization_url": "",
        "logo_url": "",
        "funded_by": "",
        "contact": "",
    }


def test_schema_messages_next_to_fields_are_in_plain_words():
    from jhub_managed.settings import SettingsError

    errors = document_errors({"branding": {"logo_url": "example.org/logo.png"}})
    by_field, rest = form_fields.place_errors(
        errors, "/branding", branding_forms.BRANDING_FIELD_MAP
    )
    assert by_field == {"logo_url": ["use a full address that starts with https://"]}
    assert rest == []
    by_field, _ = form_fields.place_errors(
        [SettingsError("/profiles/0/idle_timeout", "30 is less than the minimum of 60")],
        "/profiles/0",
        {"/idle_timeout": "idle_minutes"},
    )
    assert by_field == {"idle_minutes": ["at least 1 minute"]}


def test_environment_and_default_url_have_fields_of_their_own():
    profile = {
        "display_name": "Env",
        "slug": "env",
        "kubespawner_override": {
            "environment": {"A": "1", "GREETING": "hello world"},
            "default_url": "/lab/tree/notes",
            "node_selector": {"pool": "big"},
        },
    }
    view = profiles.profile_to_view(profile)
    assert view["environment"] == "A=1\nGREETING=hello world"
    assert view["default_url"] == "/lab/tree/notes"
    # only what has no field of its own stays JSON
    assert json.loads(view["extra"]) == {"node_selector": {"pool": "big"}}
    result, errors = round_trip(profile)
    assert errors == {} and result == profile

    view["environment"] = "A=1\n\n# a comment\nB=x=y\n"
    built, _, errors = profiles.view_to_profile(view)
    assert errors == {}
    assert built["kubespawner_override"]["environment"] == {"A": "1", "B": "x=y"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NOEQUALS", "line 1: write NAME=value"),
        ("A=1\n9LIVES=x", "line 2: a name is letters, digits and '_'"),
        ("A=1\nA=2", "line 2: A is set twice"),
    ],
)
def test_environment_lines_that_are_not_variables_are_refused(text, message):
    view = profiles.profile_to_view(DEMO_SETTINGS["profiles"][0])
    view["environment"] = text
    _, _, errors = profiles.view_to_profile(view)
    assert message in " ".join(errors["environment"])


def test_environment_in_the_json_box_is_sent_to_its_field():
    view = profiles.profile_to_view(DEMO_SETTINGS["profiles"][0])
    view["environment"] = "B=2"
    view["extra"] = '{"environment": {"A": "1"}}'
    _, _, errors = profiles.view_to_profile(view)
    assert "'environment' has its own field" in " ".join(errors["extra"])


def test_an_environment_that_is_not_plain_text_stays_json():
    profile = {
        "display_name": "E",
        "slug": "e",
        "kubespawner_override": {"environment": {"MULTI": "a\nb"}},
    }
    view = profiles.profile_to_view(profile)
    assert view["environment"] == ""
    assert json.loads(view["extra"]) == {"environment": {"MULTI": "a\nb"}}
    assert round_trip(profile) == (profile, {})
