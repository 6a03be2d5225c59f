"""The profile form: a profile to the text of its fields and back.

``view_to_profile`` turns a view into a profile and a map from each JSON pointer (relative
to the profile) to the form field it came from, so that every validation error of the saved
document can be shown next to its field.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from ..pointer import escape
from ..schema import OPTION_KEY_PATTERN, SLUG_PATTERN
from ..validate import GPU_RESOURCE
from .fields import (
    FieldErrors,
    Get,
    groups_text,
    json_text,
    memory_text,
    minutes_text,
    number_text,
    parse_count,
    parse_groups,
    parse_memory_field,
    parse_number,
    slugify,
)

#: the spawner settings that have a field of their own on the profile form
RESOURCE_FIELDS = ("cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit")
#: settings hub admins set most, beyond resources: a field each on the profile form
COMMON_FIELDS = ("default_url", "environment")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: the placeholder an unlisted choice's override is filled with
VALUE_PLACEHOLDER = "{value}"


def _override_view(override: Mapping[str, Any] | None, *, resources: bool) -> dict[str, str]:
    """The fields of a kubespawner override, and the rest of it as JSON text."""
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
        for field, key in (
            ("gpu_limit", "extra_resource_limits"),
            ("gpu_guarantee", "extra_resource_guarantees"),
        ):
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


def _blank_unlisted() -> dict[str, Any]:
    return {
        "enabled": False,
        "display_name": "",
        "display_name_in_choices": "",
        "validation_regex": "",
        "validation_message": "",
        "image": VALUE_PLACEHOLDER,
        "default_url": "",
        "groups": "",
        "extra": "",
    }


def blank_choice() -> dict[str, Any]:
    return {
        "key": "",
        "display_name": "",
        "description": "",
        "groups": "",
        "image": "",
        "default_url": "",
        "extra": "",
        "remove": False,
    }


def blank_option() -> dict[str, Any]:
    return {
        "key": "",
        "display_name": "",
        "default": "",
        "remove": False,
        "choices": [],
        "blank": 1,
        "unlisted": _blank_unlisted(),
    }


def profile_to_view(profile: Mapping[str, Any]) -> dict[str, Any]:
    """A profile as the text of the profile form's fields."""
    view: dict[str, Any] = {
        "display_name": str(profile.get("display_name") or ""),
        "slug": str(profile.get("slug") or ""),
        "description": str(profile.get("description") or ""),
        "default": bool(profile.get("default")),
        "groups": groups_text(profile.get("allowed_groups")),
        "idle_minutes": minutes_text(profile.get("idle_timeout")),
        **_override_view(profile.get("kubespawner_override"), resources=True),
        "options": [],
    }
    for key, option in (profile.get("profile_options") or {}).items():
        option_view = blank_option()
        option_view.update(key=key, display_name=str(option.get("display_name") or ""))
        for index, (choice_key, choice) in enumerate((option.get("choices") or {}).items()):
            choice_view = blank_choice()
            choice_view.update(
                key=choice_key,
                display_name=str(choice.get("display_name") or ""),
                description=str(choice.get("description") or ""),
                groups=groups_text(choice.get("allowed_groups")),
                **_override_view(choice.get("kubespawner_override"), resources=False),
            )
            if choice.get("default"):
                option_view["default"] = str(index)
            option_view["choices"].append(choice_view)
        if option_view["choices"]:
            option_view["blank"] = 0  # "Add another choice" adds an empty row
        unlisted = option.get("unlisted_choice")
        if unlisted:
            option_view["unlisted"] = {
                "enabled": bool(unlisted.get("enabled")),
                "display_name": str(unlisted.get("display_name") or ""),
                "display_name_in_choices": str(unlisted.get("display_name_in_choices") or ""),
                "validation_regex": str(unlisted.get("validation_regex") or ""),
                "validation_message": str(unlisted.get("validation_message") or ""),
                "groups": groups_text(unlisted.get("allowed_groups")),
                **_override_view(unlisted.get("kubespawner_override"), resources=False),
            }
        view["options"].append(option_view)
    return view


def _count(get: Get, name: str, limit: int) -> int:
    try:
        return max(0, min(int(get(name) or 0), limit))
    except ValueError:
        return 0


def _is_blank_choice(choice: Mapping[str, Any]) -> bool:
    return not any(
        str(choice.get(k) or "").strip()
        for k in ("key", "display_name", "description", "groups", "image", "default_url", "extra")
    )


MAX_OPTIONS = 20
MAX_CHOICES = 200


def view_from_form(get: Get) -> dict[str, Any]:
    """The profile form's view from posted fields (``get(name)`` -> text, ``""`` if absent).

    Fully blank choice rows are dropped, and counted in the option's ``blank``, so the form
    shows as many empty rows again (and always at least one).
    """
    view: dict[str, Any] = {
        key: get(key)
        for key in (
            "display_name",
            "slug",
            "description",
            "groups",
            "idle_minutes",
            "image",
            *RESOURCE_FIELDS,
            "gpu_limit",
            "gpu_guarantee",
            *COMMON_FIELDS,
            "extra",
        )
    }
    view["default"] = bool(get("default"))
    view["options"] = []
    for i in range(_count(get, "o-count", MAX_OPTIONS)):
        p = f"o{i}-"
        option = blank_option()
        option.update(
            key=get(p + "key"),
            display_name=get(p + "display_name"),
            remove=bool(get(p + "remove")),
            blank=0,
        )
        default = get(p + "default")
        for j in range(_count(get, p + "c-count", MAX_CHOICES + 1)):
            q = f"{p}c{j}-"
            choice = {
                "key": get(q + "key"),
                "display_name": get(q + "display_name"),
                "description": get(q + "description"),
                "groups": get(q + "groups"),
                "image": get(q + "image"),
                "default_url": get(q + "default_url"),
                "extra": get(q + "extra"),
                "remove": bool(get(q + "remove")),
            }
            if _is_blank_choice(choice):
                option["blank"] += 1
                continue
            if default == str(j):
                option["default"] = str(len(option["choices"]))
            option["choices"].append(choice)
        u = p + "u-"
        option["unlisted"] = {
            "enabled": bool(get(u + "enabled")),
            **{
                key: get(u + key)
                for key in (
                    "display_name",
                    "display_name_in_choices",
                    "validation_regex",
                    "validation_message",
                    "image",
                    "default_url",
                    "groups",
                    "extra",
                )
            },
        }
        view["options"].append(option)
    return view


class _Builder:
    """Collects parse errors by field and the pointer -> field map while building."""

    def __init__(self):
        self.errors: FieldErrors = {}
        self.fields: dict[str, str] = {}

    def error(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def maps(self, pointer: str, field: str) -> None:
        self.fields[pointer] = field

    def override(self, view: Mapping[str, Any], prefix: str, pointer: str, *, resources: bool):
        override: dict[str, Any] = {}
        extra_text = str(view.get("extra") or "").strip()
        self.maps(pointer, prefix + "extra")
        if extra_text:
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
            override.update(extra)
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
        for field, key in (
            ("gpu_limit", "extra_resource_limits"),
            ("gpu_guarantee", "extra_resource_guarantees"),
        ):
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
        return override


def _key_for(text: str, fallback: str) -> str:
    return slugify(text) or fallback


def view_to_profile(
    view: Mapping[str, Any], original: Mapping[str, Any] | None = None
) -> tuple[dict, dict[str, str], FieldErrors]:
    """A profile from the form's view, the pointer -> field map, and errors by field.

    ``original`` is the profile the form edits: its slug and its options' and choices' keys
    are kept as they are, whatever their shape (the operator's may be any), and what it has
    that the form does not show (keys of spawn-page extensions, ...) is kept too.
    """
    original = original if isinstance(original, Mapping) else {}
    original_options = _mapping(original.get("profile_options"))
    b = _Builder()
    profile: dict[str, Any] = {}
    name = str(view.get("display_name") or "").strip()
    profile["display_name"] = name
    b.maps("/display_name", "display_name")
    b.maps("", "display_name")
    if not name:
        b.error("display_name", "give the profile a name")
    slug = str(view.get("slug") or "").strip() or slugify(name)
    profile["slug"] = slug
    b.maps("/slug", "slug")
    if not slug:
        if name:
            b.error("slug", "give the profile a slug (lowercase letters, digits and dashes)")
    elif slug != original.get("slug") and not re.fullmatch(SLUG_PATTERN, slug):
        b.error(
            "slug",
            "use 1-63 lowercase letters, digits, '-' or '_', starting and ending with a "
            "letter or digit",
        )
    description = str(view.get("description") or "").strip()
    b.maps("/description", "description")
    if description:
        profile["description"] = description
    b.maps("/default", "default")
    if view.get("default"):
        profile["default"] = True
    groups = parse_groups(str(view.get("groups") or ""))
    b.maps("/allowed_groups", "groups")
    if groups:
        profile["allowed_groups"] = groups
    b.maps("/idle_timeout", "idle_minutes")
    idle = str(view.get("idle_minutes") or "").strip()
    if idle:
        try:
            minutes = float(idle)
            if not math.isfinite(minutes) or minutes <= 0:
                raise ValueError
            profile["idle_timeout"] = round(minutes * 60)
        except (ValueError, OverflowError):
            b.error("idle_minutes", "a number of minutes is needed, e.g. 60")
    override = b.override(view, "", "/kubespawner_override", resources=True)
    if override:
        profile["kubespawner_override"] = override

    options: dict[str, Any] = {}
    b.maps("/profile_options", "options")
    for i, option_view in enumerate(view.get("options") or []):
        p = f"o{i}-"
        choices_views = [c for c in option_view.get("choices") or [] if not _is_blank_choice(c)]
        unlisted_view = option_view.get("unlisted") or {}
        option_name = str(option_view.get("display_name") or "").strip()
        key_text = str(option_view.get("key") or "").strip()
        unlisted_used = bool(unlisted_view.get("enabled")) or any(
            str(unlisted_view.get(k) or "").strip()
            for k in ("display_name", "display_name_in_choices", "validation_regex", "groups")
        )
        if option_view.get("remove") or (
            not option_name and not key_text and not choices_views and not unlisted_used
        ):
            continue
        key = key_text or _key_for(option_name, f"option-{i + 1}")
        original_choices = _mapping(_mapping(original_options.get(key)).get("choices"))
        if key not in original_options and not re.fullmatch(OPTION_KEY_PATTERN, key):
            b.error(p + "key", "use letters, digits, '-' or '_' (at most 63), e.g. image")
        if key in options:
            b.error(p + "key", f"another option of this profile is called '{key}' already")
        base = f"/profile_options/{escape(key)}"
        b.maps(base, p + "display_name")
        b.maps(base + "/display_name", p + "display_name")
        option: dict[str, Any] = {"display_name": option_name}
        if not option_name:
            b.error(p + "display_name", "give the option a name, e.g. Image")
        choices: dict[str, Any] = {}
        b.maps(base + "/choices", p + "display_name")
        for j, choice_view in enumerate(option_view.get("choices") or []):
            if _is_blank_choice(choice_view) or choice_view.get("remove"):
                continue
            q = f"{p}c{j}-"
            choice_name = str(choice_view.get("display_name") or "").strip()
            choice_key = str(choice_view.get("key") or "").strip() or _key_for(
                choice_name, f"choice-{j + 1}"
            )
            if choice_key not in original_choices and not re.fullmatch(
                OPTION_KEY_PATTERN, choice_key
            ):
                b.error(q + "key", "use letters, digits, '-' or '_' (at most 63)")
            if choice_key in choices:
                b.error(q + "key", f"another choice is called '{choice_key}' already")
            cbase = f"{base}/choices/{escape(choice_key)}"
            b.maps(cbase, q + "display_name")
            b.maps(cbase + "/display_name", q + "display_name")
            b.maps(cbase + "/description", q + "description")
            b.maps(cbase + "/allowed_groups", q + "groups")
            b.maps(cbase + "/default", q + "display_name")
            choice: dict[str, Any] = {"display_name": choice_name}
            if not choice_name:
                b.error(q + "display_name", "give the choice a name")
            description = str(choice_view.get("description") or "").strip()
            if description:
                choice["description"] = description
            if option_view.get("default") == str(j):
                choice["default"] = True
            choice_override = b.override(
                choice_view, q, cbase + "/kubespawner_override", resources=False
            )
            if choice_override:
                choice["kubespawner_override"] = choice_override
            choice_groups = parse_groups(str(choice_view.get("groups") or ""))
            if choice_groups:
                choice["allowed_groups"] = choice_groups
            choices[choice_key] = choice
        if choices:
            option["choices"] = choices
        if unlisted_used:
            u = p + "u-"
            ubase = base + "/unlisted_choice"
            b.maps(ubase, u + "enabled")
            unlisted: dict[str, Any] = {"enabled": bool(unlisted_view.get("enabled"))}
            b.maps(ubase + "/enabled", u + "enabled")
            for key_name in (
                "display_name",
                "display_name_in_choices",
                "validation_regex",
                "validation_message",
            ):
                b.maps(f"{ubase}/{key_name}", u + key_name)
                text = str(unlisted_view.get(key_name) or "")
                text = text if key_name == "validation_regex" else text.strip()
                if text:
                    unlisted[key_name] = text
            unlisted_override = b.override(
                unlisted_view, u, ubase + "/kubespawner_override", resources=False
            )
            if unlisted_override:
                unlisted["kubespawner_override"] = unlisted_override
            unlisted_groups = parse_groups(str(unlisted_view.get("groups") or ""))
            b.maps(ubase + "/allowed_groups", u + "groups")
            if unlisted_groups:
                unlisted["allowed_groups"] = unlisted_groups
            option["unlisted_choice"] = unlisted
        if not choices and not unlisted_view.get("enabled"):
            b.error(
                p + "display_name",
                "this option has nothing to choose: add a choice, allow users to type their "
                "own value, or tick 'Remove this option'",
            )
        options[key] = option
    if options:
        profile["profile_options"] = options
    keep_unshown(profile, original)
    return profile, b.fields, b.errors


#: the keys the profile form shows, by entry; the form keeps the others as they were
FORM_KEYS = {
    "profile": frozenset(
        {
            "display_name",
            "slug",
            "description",
            "default",
            "allowed_groups",
            "idle_timeout",
            "kubespawner_override",
            "profile_options",
        }
    ),
    "profile option": frozenset({"display_name", "choices", "unlisted_choice"}),
    "choice": frozenset(
        {"display_name", "description", "default", "kubespawner_override", "allowed_groups"}
    ),
    "unlisted choice": frozenset(
        {
            "enabled",
            "display_name",
            "display_name_in_choices",
            "validation_regex",
            "validation_message",
            "kubespawner_override",
            "allowed_groups",
        }
    ),
}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _unshown(entry: Mapping[str, Any], kind: str) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in entry.items() if k not in FORM_KEYS[kind]}


def keep_unshown(profile: dict, original: Mapping[str, Any]) -> None:
    """Put back into ``profile`` (made from the form) what ``original`` has that the form
    does not show, at the profile, at each option and choice the form kept (by key), and at
    their unlisted choices."""
    profile.update({k: v for k, v in _unshown(original, "profile").items() if k not in profile})
    originals = _mapping(original.get("profile_options"))
    for key, option in (profile.get("profile_options") or {}).items():
        before = _mapping(originals.get(key))
        option.update(_unshown(before, "profile option"))
        for name, choice in (option.get("choices") or {}).items():
            choice.update(_unshown(_mapping(_mapping(before.get("choices")).get(name)), "choice"))
        unlisted = _unshown(_mapping(before.get("unlisted_choice")), "unlisted choice")
        if unlisted:
            option.setdefault("unlisted_choice", {"enabled": False}).update(unlisted)


def add_choice_row(view: dict[str, Any], option_index: int) -> None:
    options = view.get("options") or []
    if 0 <= option_index < len(options):
        options[option_index]["blank"] = options[option_index].get("blank", 0) + 1


def add_option(view: dict[str, Any]) -> None:
    if len(view.get("options") or []) < MAX_OPTIONS:
        view.setdefault("options", []).append(blank_option())


def unique_slug(base: str, taken: set[str]) -> str:
    base = base[:55].strip("-_") or "profile"
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def copy_for_duplicate(profile: Mapping[str, Any], taken: set[str]) -> dict[str, Any]:
    duplicate = copy.deepcopy(dict(profile))
    duplicate["display_name"] = f"Copy of {profile.get('display_name') or profile.get('slug')}"[
        :200
    ]
    duplicate["slug"] = unique_slug(f"{profile.get('slug') or 'profile'}-copy", taken)
    duplicate.pop("default", None)
    return duplicate
