"""The compiled settings validator says what the API has always said: the same paths and
the same messages as the Python ``jsonschema`` package, checked side by side on many broken
documents."""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys

import jsonschema
import pytest

from jhub_managed.demo.settings import DEMO_SETTINGS
from jhub_managed.settings import document_errors
from jhub_managed.settings.schema import ADMIN_SETTINGS_SCHEMA, OPERATOR_SETTINGS_SCHEMA
from jhub_managed.settings.validate import is_date_time, schema_errors

REFERENCES = {
    name: jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.FormatChecker(formats=("date-time",))
    )
    for name, schema in (("operator", OPERATOR_SETTINGS_SCHEMA), ("admin", ADMIN_SETTINGS_SCHEMA))
}
SCHEMAS = {"operator": OPERATOR_SETTINGS_SCHEMA, "admin": ADMIN_SETTINGS_SCHEMA}
REFERENCE = REFERENCES["operator"]


def limit_message(error: jsonschema.ValidationError) -> str:
    """A size limit said as the limit, as the settings API says it."""
    limit, value = error.validator_value, error.instance
    if error.validator == "maxLength" and isinstance(value, str):
        return f"is {len(value):,} characters long; at most {limit:,} are allowed"
    if error.validator in ("maxItems", "maxProperties") and isinstance(value, list | dict):
        return f"has {len(value):,} entries; at most {limit:,} are allowed"
    return ""


def reference_errors(document, schema: str = "operator") -> list[tuple[str, str]]:
    """What the settings API answered before the compiled validator (paths and messages)."""
    found = sorted(REFERENCES[schema].iter_errors(document), key=lambda e: list(e.absolute_path))
    result = []
    for error in found:
        message = limit_message(error) or error.message
        if len(message) > 300:
            value = repr(error.instance)
            if len(value) > 100 and value in message:
                message = message.replace(value, value[:80] + "...", 1)
        if len(message) > 300:
            message = message[:300] + "..."
        path = "".join(
            "/" + str(p).replace("~", "~0").replace("/", "~1") for p in error.absolute_path
        )
        result.append((path, message))
    return result


WRONG_VALUES = [
    None,
    True,
    1,
    -1,
    1.5,
    "",
    "A B",
    "2026-13-01T00:00:00Z",
    "2026-02-29T10:00:00Z",
    "2024-02-29t10:00:00z",
    "2026-01-01T10:00:00",
    "2026-01-01T23:59:60Z",
    [],
    [1, 1],
    {},
    {"a": 1},
    {"0": "digits as a key"},
    {"1x": "y"},
    "x" * 600,
    ["a", "a"],
    59,
    10**20,
    "4 G",
]


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def broken(document: dict, rng: random.Random) -> dict:
    """``document`` with one to three values replaced by wrong ones, or keys added."""
    result = copy.deepcopy(document)
    paths = [p for p in _paths(result) if p]
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths)
        node = result
        try:
            for part in path[:-1]:
                node = node[part]
            if isinstance(node, dict) and rng.random() < 0.2:
                node[f"unknown_{rng.randint(0, 3)}"] = 1
            else:
                node[path[-1]] = copy.deepcopy(rng.choice(WRONG_VALUES))
        except (KeyError, IndexError, TypeError):
            continue
    return json.loads(json.dumps(result))


def full_document() -> dict:
    document = copy.deepcopy(DEMO_SETTINGS)
    document["announcement"] = {
        "text": "Maintenance",
        "level": "info",
        "starts_at": "2026-01-01T10:00:00Z",
        "show_on": ["home"],
    }
    document["profiles"][0]["kubespawner_override"]["environment"] = {"A": "b"}
    return document


@pytest.mark.parametrize("schema", SCHEMAS)
def test_messages_and_paths_are_those_the_api_always_gave(schema):
    rng = random.Random(20260101)
    base = full_document()
    assert schema_errors(base, SCHEMAS[schema]) == [] and reference_errors(base, schema) == []
    differences = []
    compared = 0
    for _ in range(1500):
        document = broken(base, rng)
        expected = reference_errors(document, schema)
        got = [(e.path, e.message) for e in schema_errors(document, SCHEMAS[schema])]
        compared += bool(expected)
        if got != expected:
            differences.append((document, expected, got))
    assert compared > 1000  # the broken documents really are broken
    assert differences[:3] == []


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        (
            {"profiles": [{"display_name": "A", "slug": "a", "extra": 1}]},
            "/profiles/0",
            "Additional properties are not allowed ('extra' was unexpected)",
        ),
        ({"profiles": [{"slug": "a"}]}, "/profiles/0", "'display_name' is a required property"),
        (
            {"announcement": {"level": "nope"}},
            "/announcement/level",
            "'nope' is not one of ['info', 'warning', 'danger']",
        ),
        (
            {"announcement": {"starts_at": "yesterday"}},
            "/announcement/starts_at",
            "'yesterday' is not a 'date-time'",
        ),
        (
            {
                "profiles": [
                    {
                        "display_name": "A",
                        "slug": "a",
                        "kubespawner_override": {"environment": {"1X": "y"}},
                    }
                ]
            },
            "/profiles/0/kubespawner_override/environment",
            "'1X' does not match '^[A-Za-z_][A-Za-z0-9_]*$'",
        ),
        (
            {
                "profiles": [
                    {
                        "display_name": "A",
                        "slug": "a",
                        "profile_options": {"o": {"display_name": "O", "choices": {"0": []}}},
                    }
                ]
            },
            "/profiles/0/profile_options/o/choices/0",
            "[] is not of type 'object'",
        ),
    ],
)
def test_each_kind_of_problem_in_the_words_of_the_api(document, path, message):
    """In a hub admin's document; the operator's layers take some of these as KubeSpawner
    does (any key, any environment name)."""
    admin = SCHEMAS["admin"]
    assert [(e.path, e.message) for e in schema_errors(document, admin)] == [(path, message)]
    assert reference_errors(document, "admin") == [(path, message)]
    operator = [(e.path, e.message) for e in schema_errors(document)]
    assert operator == reference_errors(document) and operator in ([], [(path, message)])


def _environment(value) -> dict:
    return {
        "profiles": [
            {"display_name": "A", "slug": "a", "kubespawner_override": {"environment": value}}
        ]
    }


def test_the_operators_environment_values_may_be_removed_or_come_from_elsewhere():
    """The operator's layers may set an environment value to None (removed) or an EnvVar's
    fields; anything else is refused in the words the API has always used."""
    allowed = _environment({"GONE": None, "SECRET": {"valueFrom": {"secretKeyRef": {}}}})
    assert schema_errors(allowed) == [] and reference_errors(allowed) == []
    wrong = _environment({"COUNT": 1})
    expected = [
        (
            "/profiles/0/kubespawner_override/environment/COUNT",
            "1 is not valid under any of the given schemas",
        )
    ]
    assert [(e.path, e.message) for e in schema_errors(wrong)] == expected
    assert reference_errors(wrong) == expected


def test_size_limits_are_said_as_limits():
    document = {"announcement": {"text": "x" * 5001}}
    expected = [("/announcement/text", "is 5,001 characters long; at most 5,000 are allowed")]
    assert [(e.path, e.message) for e in schema_errors(document)] == expected
    assert reference_errors(document) == expected


def test_a_python_configuration_with_a_number_as_key_is_checked_as_the_json_it_stores():
    document = {"branding": {"organization_name": 5}, "hub": {1: "x"}}
    assert [(e.path, e.message) for e in document_errors(document)] == [
        ("", "Additional properties are not allowed ('hub' was unexpected)"),
        ("/branding/organization_name", "5 is not of type 'string'"),
    ]


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2026-01-31T09:00:00Z", True),
        ("2026-01-31t09:00:00.5+02:00", True),
        ("2024-02-29T00:00:00Z", True),
        ("2026-02-29T00:00:00Z", False),
        ("2026-01-31T09:00:00", False),
        ("2026-01-31 09:00:00Z", False),
        ("0000-01-01T00:00:00Z", False),
        ("2026-01-31T23:59:60Z", False),
        ("2026-01-31T24:00:00Z", False),
    ],
)
def test_date_times_are_rfc_3339(text, valid):
    assert is_date_time(text) is valid
    assert REFERENCE.is_valid({"announcement": {"starts_at": text}}) is valid


def test_reading_settings_imports_no_optional_format_package():
    code = (
        "import sys, jhub_managed.settings, jhub_managed.services.config.app;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jsonschema', 'rfc3987_syntax', 'rfc3339_validator', 'kubespawner', "
        "'kubernetes_asyncio')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
