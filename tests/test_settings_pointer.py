"""JSON Pointers and the schema walk: the two small tools the settings and fleet code share."""

import pytest

from jhub_managed.settings.pointer import escape, parts, pointer, unescape
from jhub_managed.settings.schema import ADMIN_SETTINGS_SCHEMA, SETTINGS_SCHEMA
from jhub_managed.settings.schemawalk import along, at, subschemas, walk


@pytest.mark.parametrize(
    "key, escaped",
    [("a/b", "a~1b"), ("a~b", "a~0b"), ("~1", "~01"), ("/~", "~1~0"), ("", ""), (0, "0")],
)
def test_a_key_is_escaped_and_read_back(key, escaped):
    assert escape(key) == escaped
    assert unescape(escaped) == str(key)


def test_a_path_is_a_pointer_and_back():
    path = ["profiles", 0, "profile_options", "example.com/fpga~x"]
    assert pointer(path) == "/profiles/0/profile_options/example.com~1fpga~0x"
    assert parts(pointer(path)) == ["profiles", "0", "profile_options", "example.com/fpga~x"]
    assert pointer([]) == "" and parts("") == []
    assert parts("/") == [""]  # the key "" at the top


def test_the_walk_visits_every_schema_once_in_order():
    shared = {"type": "string"}
    schema = {
        "properties": {"a": shared, "b": {"items": shared}, "c": True},
        "anyOf": [{"type": "null"}],
        "additionalProperties": False,
    }
    assert [k for _, k, _ in subschemas(schema)] == ["a", "b", 0]
    assert list(walk(schema)) == [schema, shared, schema["properties"]["b"], {"type": "null"}]


def test_the_walk_finds_every_override_of_the_settings_schema():
    overrides = {
        id(node["properties"]["kubespawner_override"])
        for node in walk(SETTINGS_SCHEMA)
        if "kubespawner_override" in node.get("properties", {})
    }
    assert overrides
    # the admins' view opens every one of them
    opened = [
        node["properties"]["kubespawner_override"]
        for node in walk(ADMIN_SETTINGS_SCHEMA)
        if "kubespawner_override" in node.get("properties", {})
    ]
    assert opened and all(o["additionalProperties"] is True for o in opened)


def test_a_path_through_a_schema_stops_where_it_leaves_it():
    path = ["properties", "profiles", "items", "properties", "slug", "pattern"]
    assert [part for _, part, _ in along(SETTINGS_SCHEMA, path)] == path
    assert at(SETTINGS_SCHEMA, path).startswith("^")
    assert at(SETTINGS_SCHEMA, []) is SETTINGS_SCHEMA
    assert at(SETTINGS_SCHEMA, ["properties", "nothing", "type"]) is None
    assert len(list(along(SETTINGS_SCHEMA, ["properties", "nothing", "type"]))) == 1
