"""The settings service's pure parts: safe redirects, If-Match, version numbers, readable
diffs, the OpenAPI document."""

from __future__ import annotations

import copy

import pytest

from jhub_managed.demo.settings import DEMO_SETTINGS
from jhub_managed.services import redirects
from jhub_managed.services.config.api import parse_if_match
from jhub_managed.services.config.openapi import openapi_document
from jhub_managed.settings.diff import describe_value, diff_documents
from jhub_managed.settings.versions import MAX_VERSION, parse_version

PREFIX = "/services/config/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/services/config/preview?group=a", "/services/config/preview?group=a"),
        ("/services/config/", "/services/config/"),
        (None, "DEFAULT"),
        ("", "DEFAULT"),
        ("https://evil.example/", "DEFAULT"),
        ("//evil.example/services/config/", "DEFAULT"),
        ("/\\evil.example", "DEFAULT"),
        ("\\\\evil.example", "DEFAULT"),
        ("/services/config/\\..\\evil", "DEFAULT"),
        ("\t//evil.example", "DEFAULT"),
        ("/services/config/\n//evil", "DEFAULT"),
        ("/%2F/evil.example", "DEFAULT"),
        ("/services/config/../../hub/logout", "DEFAULT"),
        ("/services/config/%2e%2e/%2e%2e/hub/logout", "DEFAULT"),
        ("/services/configuration", "DEFAULT"),
        ("javascript:alert(1)", "DEFAULT"),
        ("/hub/home", "DEFAULT"),
    ],
)
def test_safe_next_stays_inside_the_service(value, expected):
    result = redirects.safe_next(value, PREFIX, "DEFAULT")
    assert result == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"3"', {3}),
        ('W/"3"', {3}),
        ("3", {3}),
        ('"3", "4"', {3, 4}),
        ("*", "*"),
    ],
)
def test_if_match_is_read_as_versions(header, expected):
    assert parse_if_match(header) == expected


@pytest.mark.parametrize("header", ["", "abc", '"-1"', '"3', "99999999999", '"3" "4"', "1.5"])
def test_a_malformed_if_match_is_refused(header):
    with pytest.raises(ValueError):
        parse_if_match(header)


def test_diff_in_words_matches_profiles_by_slug():
    old = copy.deepcopy(DEMO_SETTINGS)
    new = copy.deepcopy(DEMO_SETTINGS)
    python, _, research = new["profiles"]
    python["display_name"] = "Python 3"
    research["profile_options"]["interface"]["choices"]["rstudio"] = {"display_name": "RStudio"}
    research["allowed_groups"] = ["researchers", "staff"]
    new["profiles"] = [research, python]  # classic removed, order changed
    new["branding"]["organization_name"] = "Physics"
    changes = {c.labels: c for c in diff_documents(old, new)}
    assert changes[("Profiles", "Profile 'Python 3'", "Name")].old == "Python"
    assert changes[("Profiles", "Profile 'Classic notebook'")].kind == "removed"
    added = changes[
        (
            "Profiles",
            "Profile 'Research environment'",
            "Options",
            "Option 'Interface'",
            "Choices",
            "Choice 'RStudio'",
        )
    ]
    assert added.kind == "added" and added.new == {"display_name": "RStudio"}
    assert added.label.startswith("Profiles \u203a Profile 'Research environment' \u203a")
    groups = changes[("Profiles", "Profile 'Research environment'", "Allowed groups")]
    assert describe_value(groups.old) == "researchers"
    assert describe_value(groups.new) == "researchers, staff"
    order = changes[("Profiles", "Order")]
    assert order.kind == "reordered" and order.new == ["Research environment", "Python 3"]
    assert changes[("Branding", "Organization name")].new == "Physics"
    assert diff_documents(old, copy.deepcopy(old)) == []


def test_diff_of_documents_with_duplicate_slugs_compares_the_list_whole():
    old = {"profiles": [{"slug": "a", "display_name": "A"}, {"slug": "a", "display_name": "B"}]}
    changes = diff_documents(old, {"profiles": []})
    assert [(c.path, c.kind) for c in changes] == [(("profiles",), "changed")]


def test_openapi_document_is_valid_openapi_3_1_with_the_settings_schema():
    from schemathesis.openapi import from_dict

    document = openapi_document(PREFIX)
    schema = from_dict(document)
    schema.validate()  # raises for a document that is not OpenAPI 3.1
    operations = {
        f"{result.ok().method.upper()} {result.ok().path}" for result in schema.get_all_operations()
    }
    assert operations == {
        "GET /api/settings",
        "PUT /api/settings",
        "GET /api/history",
        "GET /api/history/{version}",
        "POST /api/history/{version}/restore",
        "GET /api/diff",
        "GET /api/openapi.json",
    }
    settings = document["components"]["schemas"]["Settings"]
    assert settings["properties"]["profiles"]["items"]["required"] == ["display_name", "slug"]
    assert document["servers"] == [{"url": "/services/config"}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("42", 42),
        (" 7 ", 7),
        (str(MAX_VERSION), MAX_VERSION),
        (str(MAX_VERSION + 1), None),
        ("99999999999", None),
        ("", None),
        (None, None),
        ("-1", None),
        ("+1", None),
        ("1.0", None),
        ("1 2", None),
        ("\u0663", None),  # an Arabic-Indic three: a digit to str.isdigit(), not here
        ("\u00b2", None),  # superscript two: str.isdigit() says yes, int() raises
    ],
)
def test_version_numbers_from_requests(text, expected):
    assert parse_version(text) == expected
