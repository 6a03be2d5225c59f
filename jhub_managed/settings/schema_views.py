"""The views of the settings schema (:mod:`.schema`) that are derived from it, not written:
``kubespawner_override`` open to any KubeSpawner key (what hub admins' edits are judged
with, the allow-list judging the keys), and the document as the operator's layers may write
it (a ``profile_list`` as KubeSpawner takes it).

Pure functions of the schema they are given; :mod:`.schema` applies them to its own.
"""

from __future__ import annotations

import copy

from .schemawalk import walk


def _overrides(schema: dict) -> list[dict]:
    """Every ``kubespawner_override`` schema in ``schema``, each once."""
    found: dict[int, dict] = {}
    for node in walk(schema):
        override = (node.get("properties") or {}).get("kubespawner_override")
        if isinstance(override, dict):
            found.setdefault(id(override), override)
    return list(found.values())


def open_overrides(schema: dict) -> dict:
    """A copy of ``schema`` with every ``kubespawner_override`` open to any KubeSpawner key."""
    opened = copy.deepcopy(schema)
    wrapped: set[int] = set()
    for override in _overrides(opened):
        override["additionalProperties"] = True
        # KubeSpawner's environment values: text, None (the variable removed) or an EnvVar's
        # fields (valueFrom); hub admins' own values stay text (the allow-list says so)
        environment = override["properties"]["environment"]
        if id(environment) not in wrapped:
            wrapped.add(id(environment))
            environment["additionalProperties"] = {
                "anyOf": [environment["additionalProperties"], {"type": "null"}, {"type": "object"}]
            }
    return opened


#: The keys of a profile list that only spawn-page extensions read (jupyterhub-fancy-profiles
#: writes them), by the entry they belong to: text and flags that change no pod. KubeSpawner
#: does not read them; hub admins may set them, as any key of the settings schema.
DESCRIPTIVE_KEYS = {
    "profile": frozenset(),
    "profile option": frozenset({"dynamic_image_building"}),
    "choice": frozenset({"slug"}),
    "unlisted choice": frozenset({"description", "description_in_choices"}),
}


def profile_list_entries(schema: dict) -> dict[str, dict]:
    """The schemas of a profile list's entries in ``schema``, by the names of
    :data:`DESCRIPTIVE_KEYS`."""
    profile = schema["properties"]["profiles"]["items"]
    option = profile["properties"]["profile_options"]["additionalProperties"]
    return {
        "profile": profile,
        "profile option": option,
        "choice": option["properties"]["choices"]["additionalProperties"],
        "unlisted choice": option["properties"]["unlisted_choice"],
    }


def operator_schema(schema: dict) -> dict:
    """``schema`` as the operator's layers may write it: what KubeSpawner takes in a
    ``profile_list``.

    KubeSpawner ignores keys it does not read, at any level, and reads ``default`` and
    ``enabled`` as Python does (any value, true or false as Python would take it); it
    leaves text unbounded and names (slugs, option and choice keys) free. So does this,
    keeping the keys it does not know for spawn-page extensions. What KubeSpawner needs
    stays required and typed: a profile's display name and slug (derived from the display
    name when missing, as KubeSpawner derives it), objects where it reads objects, and the
    settings of ``kubespawner_override`` in the types KubeSpawner's traits take.
    """
    loose = open_overrides(schema)
    profiles = loose["properties"]["profiles"]
    profiles.pop("maxItems")
    entries = profile_list_entries(loose)
    for name, entry in entries.items():
        entry["additionalProperties"] = True
        if name != "profile":
            entry.pop("required", None)
        for key, prop in entry["properties"].items():
            if key in DESCRIPTIVE_KEYS[name]:
                entry["properties"][key] = {"description": prop["description"]}
            elif key in ("default", "enabled"):
                entry["properties"][key] = {
                    "description": prop["description"] + " Any value, true or false as "
                    "Python takes it (KubeSpawner's reading)."
                }
            elif prop.get("type") == "string":
                for bound in ("minLength", "maxLength", "pattern"):
                    prop.pop(bound, None)
    entries["profile"]["properties"]["slug"]["minLength"] = 1
    for mapping in (
        entries["profile"]["properties"]["profile_options"],
        entries["profile option"]["properties"]["choices"],
    ):
        mapping.pop("maxProperties")
        mapping["propertyNames"] = {"minLength": 1}
    for override in _overrides(loose):
        properties = override["properties"]
        # JupyterHub's memory traits take any number of bytes
        properties["mem_limit"]["anyOf"][0]["type"] = "number"
        environment = properties["environment"]
        environment["propertyNames"] = {"minLength": 1}
        environment["additionalProperties"]["anyOf"][0].pop("maxLength", None)
    return loose
