"""A kubespawner override on the profile form: its fields (image, default URL and, for a
profile's own override, resources, GPUs and environment) and the rest as JSON, both ways.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from ..ceilings import GPU_RESOURCE
from .fields import (
    FieldErrors,
    json_text,
    memory_text,
    number_text,
    parse_count,
    parse_memory_field,
    parse_number,
)

#: the spawner settings that have a field of their own on the profile form
RESOURCE_FIELDS = ("cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit")
#: settings hub admins set most, beyond resources: a field each on the profile form
COMMON_FIELDS = ("default_url", "environment")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: the GPU fields, by the override's key they set
_GPU_FIELDS = (
    ("gpu_limit", "extra_resource_limits"),
    ("gpu_guarantee", "extra_resource_guarantees"),
)


def override_view(override: Mapping[str, Any] | None, *, resources: bool) -> dict[str, str]:
    """The fields of a kubespawner override, and the rest of it as JSON text
    (``resources``: the profile's own override, with resources, GPUs and environment)."""
    rest = copy.deepcopy(dict(override or {}))
    view = {"image": str(rest.pop("image", "") or "")}
    view["default_url"] = (
        rest.pop("default_url") if isinstance(rest.get("default_url"), str) else ""
    )
    if resources:
        for key in RESOURCE_FIELDS:
            if key in rest and rest[key] is None:
                # null (no limit, no guarantee) has no field text: it stays in the JSON
                view[key] = ""
                continue
            value = rest.pop(key, None)
            view[key] = memory_text(value) if key.startswith("mem") else number_text(value)
        for field, key in _GPU_FIELDS:
            extra = rest.get(key)
            view[field] = ""
            if isinstance(extra, dict) and GPU_RESOURCE in extra:
                view[field] = str(extra.pop(GPU_RESOURCE))
                if not extra:
                    rest.pop(key)
        view["environment"] = ""
        env = rest.get("environment")
        if isinstance(env, dict) and all(
            isinstance(k, str) and isinstance(v, str) and "\n" not in v for k, v in env.items()
        ):
            view["environment"] = environment_text(rest.pop("environment"))
    view["extra"] = json_text(rest) if rest else ""
    return view


def environment_text(environment: Mapping[str, str]) -> str:
    """``{"A": "1", "B": "x y"}`` -> ``"A=1\nB=x y"``: one variable a line."""
    return "\n".join(f"{name}={value}" for name, value in environment.items())


def parse_environment(text: str) -> tuple[dict[str, str], list[str]]:
    """``NAME=value`` lines (blank lines and ``#`` comments skipped) -> variables, errors."""
    variables: dict[str, str] = {}
    errors: list[str] = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals:
            errors.append(f"line {number}: write NAME=value")
        elif not _ENV_NAME.fullmatch(name):
            errors.append(
                f"line {number}: a name is letters, digits and '_', not starting with a digit"
            )
        elif name in variables:
            errors.append(f"line {number}: {name} is set twice")
        else:
            variables[name] = value
    return variables, errors


class FormBuilder:
    """Collects parse errors by field and the pointer -> field map while building."""

    def __init__(self):
        self.errors: FieldErrors = {}
        self.fields: dict[str, str] = {}

    def error(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def maps(self, pointer: str, field: str) -> None:
        self.fields[pointer] = field

    def override(
        self, view: Mapping[str, Any], prefix: str, pointer: str, *, resources: bool
    ) -> dict[str, Any]:
        """The override made of the fields named ``prefix`` + field name, at ``pointer``
        (``resources``: a profile's own override, with resources, GPUs and environment)."""
        override = self._extra(view, prefix, resources=resources)
        self.maps(pointer, prefix + "extra")
        image = str(view.get("image") or "").strip()
        if image:
            override["image"] = image
        self.maps(pointer + "/image", prefix + "image")
        default_url = str(view.get("default_url") or "").strip()
        self.maps(pointer + "/default_url", prefix + "default_url")
        if default_url:
            override["default_url"] = default_url
        if not resources:
            return override
        self.maps(pointer + "/environment", prefix + "environment")
        variables, env_errors = parse_environment(str(view.get("environment") or ""))
        for message in env_errors:
            self.error(prefix + "environment", message)
        if variables:
            override["environment"] = variables
        self._resources(view, prefix, pointer, override)
        self._gpus(view, prefix, pointer, override)
        return override

    def _extra(self, view: Mapping[str, Any], prefix: str, *, resources: bool) -> dict[str, Any]:
        """The JSON of the other settings, none of them one that has its own field."""
        extra_text = str(view.get("extra") or "").strip()
        if not extra_text:
            return {}
        try:
            extra = json.loads(extra_text)
        except (ValueError, RecursionError) as e:
            self.error(prefix + "extra", f"not valid JSON: {e}")
            extra = {}
        if not isinstance(extra, dict):
            self.error(prefix + "extra", 'must be a JSON object, like {"key": "value"}')
            extra = {}
        own = ["image"] + (list(RESOURCE_FIELDS) if resources else [])
        # kept in JSON when they don't fit their field (e.g. a multi-line value)
        own += [key for key in COMMON_FIELDS if str(view.get(key) or "").strip()]
        for key in own:
            # null for a resource (none) is written in the JSON, its field left empty
            unset = key in RESOURCE_FIELDS and extra.get(key, 0) is None
            if key in extra and not (unset and not str(view.get(key) or "").strip()):
                self.error(prefix + "extra", f"'{key}' has its own field: set it there")
        return dict(extra)

    def _resources(
        self, view: Mapping[str, Any], prefix: str, pointer: str, override: dict[str, Any]
    ) -> None:
        for key in RESOURCE_FIELDS:
            text = str(view.get(key) or "").strip()
            self.maps(f"{pointer}/{key}", prefix + key)
            if not text:
                continue
            try:
                override[key] = (
                    parse_memory_field(text) if key.startswith("mem") else parse_number(text)
                )
            except ValueError as e:
                hint = "e.g. 4G or 512M" if key.startswith("mem") else "a number of CPUs, e.g. 2"
                self.error(prefix + key, f"{e} ({hint})" if "unit" not in str(e) else str(e))

    def _gpus(
        self, view: Mapping[str, Any], prefix: str, pointer: str, override: dict[str, Any]
    ) -> None:
        for field, key in _GPU_FIELDS:
            text = str(view.get(field) or "").strip()
            self.maps(f"{pointer}/{key}", prefix + field)
            if not text:
                continue
            try:
                count = parse_count(text)
            except ValueError as e:
                self.error(prefix + field, str(e))
                continue
            resources_map = override.get(key)
            if not isinstance(resources_map, dict):
                resources_map = {}
            override[key] = {**resources_map, GPU_RESOURCE: count}
