"""The Helm chart's ``values.schema.json``, generated from :class:`ManagedHub`'s traits.

Every option of ``configure()`` is a key under ``jupyterhub.custom.jhubManaged``, spelled as
in Python, and described by its trait's ``help=``: the text of the configuration reference.
The file is made from the traits, never written by hand: ``python -m
jhub_managed.fleet.schema CHART_DIR`` (``make helm-schema``) writes it into the chart, and
every ``jhub-managed fleet`` command writes it afresh into the chart it hands to helm, so a
new option is in the schema at once.

The schema is strict for our keys (``additionalProperties: false``); the rest of the
``jupyterhub:`` values belong to zero-to-jupyterhub, whose own schema checks them.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import sys
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Enum, Float, Integer, List, Set, TraitType, Tuple, Unicode

from ..hub import _HUB_NAME, AUTHENTICATORS, SERVICE_NAMES, SPAWNERS, ManagedHub
from ..settings import Ceilings

#: where our keys live in the chart's values
VALUES_PATH = ("jupyterhub", "custom", "jhubManaged")

_MEMORY = {"type": ["string", "integer"], "description": "bytes, or e.g. ``16G`` / ``512Mi``"}
_CPU = {"type": ["number", "string"], "description": "cores, e.g. ``4`` or ``0.5``"}
_CEILING_TYPES: dict[str, dict[str, Any]] = {
    "cpu_limit": _CPU,
    "cpu_guarantee": _CPU,
    "mem_limit": _MEMORY,
    "mem_guarantee": _MEMORY,
    "gpu_limit": {"type": ["integer", "string"], "description": "a whole number of GPUs"},
    "node_selectors": {
        "type": "array",
        "description": "node selectors a profile may use ([] for none)",
        "items": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "image_patterns": {
        "type": "array",
        "description": "regular expressions an image must match whole",
        "items": {"type": "string"},
    },
}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}

#: what a trait's type cannot say: names, patterns, bounds, the shape of dicts
_REFINEMENTS: dict[str, dict[str, Any]] = {
    "hub_name": {"pattern": _HUB_NAME.pattern, "maxLength": 63},
    "spawner": {"enum": ["", *sorted(SPAWNERS)]},
    "authenticator": {"enum": ["", *sorted(AUTHENTICATORS)]},
    "services": {"items": {"type": "string", "enum": list(SERVICE_NAMES)}, "uniqueItems": True},
    "service_ports": {
        "propertyNames": {"enum": list(SERVICE_NAMES)},
        "additionalProperties": _PORT,
    },
    "idle_timeout": {"minimum": 0},
    "cull_every": {"minimum": 0},
    "ceilings": {
        "additionalProperties": False,
        "properties": {
            f.name: _CEILING_TYPES.get(f.name, {}) for f in dataclasses.fields(Ceilings)
        },
    },
    "operator_defaults": {
        "$comment": "a settings document; fleet validate and the hub check it in full",
    },
    "hub_values": {
        "$comment": "a settings document; fleet validate and the hub check it in full",
    },
}


def _storage(name: str) -> dict[str, Any]:
    keys = ManagedHub._STORAGE_KEYS[name][0]
    return {
        "additionalProperties": False,
        "properties": {key: {"type": "string"} for key in sorted(keys)},
    }


_REFINEMENTS["home_storage"] = _storage("home_storage")
_REFINEMENTS["shared_storage"] = _storage("shared_storage")


def _bounds(trait: TraitType) -> dict[str, Any]:
    bounds = {}
    for attr, key in (("min", "minimum"), ("max", "maximum")):
        value = getattr(trait, attr, None)
        if isinstance(value, int | float) and math.isfinite(value):
            bounds[key] = value
    return bounds


def _type_schema(trait: TraitType) -> dict[str, Any]:
    """The JSON Schema of a trait's type (and of its items or values, where it has them)."""
    if isinstance(trait, Enum):
        return {"enum": list(trait.values)}
    if isinstance(trait, Bool):
        return {"type": "boolean"}
    if isinstance(trait, Integer):
        return {"type": "integer", **_bounds(trait)}
    if isinstance(trait, Float):
        return {"type": "number", **_bounds(trait)}
    if isinstance(trait, Unicode):
        return {"type": "string"}
    if isinstance(trait, List | Set | Tuple):
        schema = {"type": "array"}
        item = getattr(trait, "_trait", None)
        if item is not None:
            schema["items"] = _type_schema(item)
        if isinstance(trait, Set):
            schema["uniqueItems"] = True
        return schema
    if isinstance(trait, Dict):
        schema = {"type": "object"}
        value = getattr(trait, "_value_trait", None)
        if value is not None:
            schema["additionalProperties"] = _type_schema(value)
        return schema
    return {}


def _default(trait: TraitType) -> Any:
    if trait.default_value is None or type(trait.default_value).__name__ == "_Sentinel":
        return None
    try:
        value = trait.default()
    except Exception:
        return None
    if isinstance(value, set | tuple):
        value = sorted(value)
    try:
        json.dumps(value, allow_nan=False)  # JSON has no Infinity: helm refuses it
    except (TypeError, ValueError):
        return None
    return value


def option_schema(name: str, trait: TraitType) -> dict[str, Any]:
    schema = {"description": inspect.cleandoc(trait.help or name), **_type_schema(trait)}
    schema.update(_REFINEMENTS.get(name, {}))
    # a default made at run time (data_dir: the working directory) is not a default to show
    if name not in ManagedHub._trait_default_generators:
        default = _default(trait)
        if default is not None:
            schema["default"] = default
    return schema


def jhub_managed_schema() -> dict[str, Any]:
    """The schema of ``jupyterhub.custom.jhubManaged``: one key per ``configure()`` option."""
    traits = ManagedHub.class_own_traits(config=True)
    return {
        "type": "object",
        "description": "The options of jhub-managed's configure(), spelled as in Python.",
        "additionalProperties": False,
        "properties": {name: option_schema(name, traits[name]) for name in sorted(traits)},
    }


#: NetworkPolicy peers (as in a NetworkPolicy's ``from:``)
_PEERS = {"type": "array", "items": {"type": "object"}}


def chart_schema() -> dict[str, Any]:
    """The whole ``values.schema.json`` of ``helm/jhub-managed``."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "jhub-managed chart values",
        "description": (
            "Values of the jhub-managed chart. Everything under jupyterhub: goes to "
            "zero-to-jupyterhub's chart (checked by its own schema) except "
            "jupyterhub.custom.jhubManaged, the options of configure()."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["jupyterhub"],
        "properties": {
            "global": {"type": "object", "description": "Helm's values shared with subcharts."},
            "jupyterhub": {
                "type": "object",
                "description": "Values of zero-to-jupyterhub's jupyterhub chart 4.4.0.",
                "required": ["custom"],
                "properties": {
                    "custom": {
                        "type": "object",
                        "required": ["jhubManaged"],
                        "properties": {"jhubManaged": jhub_managed_schema()},
                    }
                },
            },
            "metrics": {
                "type": "object",
                "description": (
                    "Prometheus scraping of the usage and health services: one Service per "
                    "metrics endpoint, with prometheus.io scrape annotations, and a "
                    "NetworkPolicy letting the scrapers in."
                ),
                "additionalProperties": False,
                "properties": {
                    "enabled": {
                        "type": "boolean",
                        "description": "Make the metrics Services and their NetworkPolicy.",
                        "default": True,
                    },
                    "annotations": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "Extra annotations on the metrics Services.",
                    },
                    "allowFrom": {
                        **_PEERS,
                        "description": (
                            "Who may scrape the metrics ports: NetworkPolicy peers "
                            "(namespaceSelector/podSelector/ipBlock), e.g. the namespace "
                            "Prometheus runs in."
                        ),
                    },
                },
            },
        },
    }


def render() -> str:
    return json.dumps(chart_schema(), indent=2, sort_keys=False) + "\n"


#: for the docs: the schema of our keys, as the settings-schema directive shows a schema
CHART_VALUES_SCHEMA = chart_schema()


def write(chart_dir: Path) -> Path:
    """Write ``values.schema.json`` into ``chart_dir`` (unless it is already current)."""
    target = Path(chart_dir) / "values.schema.json"
    text = render()
    if not target.is_file() or target.read_text() != text:
        target.write_text(text)
    return target


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m jhub_managed.fleet.schema CHART_DIR", file=sys.stderr)
        return 2
    target = write(Path(argv[0]))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
