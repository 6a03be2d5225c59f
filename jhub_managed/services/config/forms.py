"""The settings pages' forms, as pure functions: settings to form fields and back.

A form is rendered from a *view*: plain dicts of the text in each field. A view comes from
the stored settings (to show them) or from a posted form (to show it again with its errors,
or to save it). ``view_to_profile`` turns a view into a profile and a map from each JSON
pointer (relative to the profile) to the form field it came from, so that every validation
error of the saved document can be shown next to its field.
"""

from __future__ import annotations

import copy
import json
import math
import posixpath
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ...settings.announcement import PAGES, parse_time
from ...settings.quantities import parse_memory
from ...settings.schema import OPTION_KEY_PATTERN, SLUG_PATTERN
from ...settings.validate import GPU_RESOURCE, SettingsError

#: the spawner settings that have a field of their own on the profile form
RESOURCE_FIELDS = ("cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit")
#: the placeholder an unlisted choice's override is filled with
VALUE_PLACEHOLDER = "{value}"
ANNOUNCEMENT_LEVELS = ("info", "warning", "danger")
BRANDING_FIELDS = ("organization_name", "organization_url", "logo_url", "funded_by", "contact")

Get = Callable[[str], str]
FieldErrors = dict[str, list[str]]


# -- small conversions ----------------------------------------------------------------------


def slugify(text: str, *, max_length: int = 63) -> str:
    """``"R 4.3 (beta)"`` -> ``"r-4-3-beta"``: a key made from a display name."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_length].strip("-")


def groups_text(groups: Any) -> str:
    return ", ".join(str(g) for g in groups or [])


def parse_groups(text: str) -> list[str]:
    """``"a, b\\nc"`` -> ``["a", "b", "c"]``: commas or new lines, duplicates dropped."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,\n]", text or ""):
        name = part.strip()
        if name and name.casefold() not in {s.casefold() for s in seen}:
            seen[name] = None
    return list(seen)


def number_text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_EXACT_SUFFIXES = (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024))


def memory_text(value: Any) -> str:
    """Memory as the form shows it: strings as written, whole byte counts with a suffix."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int):
        for suffix, size in _EXACT_SUFFIXES:
            if value and value % size == 0:
                return f"{value // size}{suffix}"
        return str(value)
    return str(value)


def minutes_text(seconds: Any) -> str:
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return ""
    minutes = seconds / 60
    return str(int(minutes)) if minutes.is_integer() else f"{minutes:.2f}".rstrip("0")


def _parse_number(text: str) -> float | int:
    value = float(text.strip())
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return int(value) if value.is_integer() else value


def _parse_memory_field(text: str) -> int | str:
    text = text.strip().replace(" ", "")
    if re.fullmatch(r"[0-9]+", text):
        if int(text) < 1024**2:
            raise ValueError(f"say which unit: {text}G, {text}M, ...")
        return int(text)
    text = re.sub(r"(?i)^([0-9.]+)([kmgt])(i?)b?$", lambda m: m[1] + m[2].upper() + m[3], text)
    parse_memory(text)  # raises ValueError with the value in the message
    return text


def _parse_count(text: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,6}", text):
        raise ValueError("a whole number is needed")
    return int(text)


# -- profiles -------------------------------------------------------------------------------


def _override_view(override: Mapping[str, Any] | None, *, resources: bool) -> dict[str, str]:
    """The fields of a kubespawner override, and the rest of it as JSON text."""
    rest = copy.deepcopy(dict(override or {}))
    view = {"image": str(rest.pop("image", "") or "")}
    if resources:
        for key in RESOURCE_FIELDS:
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
    view["extra"] = json_text(rest) if rest else ""
    return view


def json_text(value: Any) -> str:
    """JSON on one line when it is short, else indented."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 70 else json.dumps(value, indent=2, sort_keys=True)


def text_rows(text: str, low: int = 2, high: int = 12) -> int:
    """How many rows a textarea needs to show ``text``."""
    return max(low, min(high, (text or "").count("\n") + 1))


def _blank_unlisted() -> dict[str, Any]:
    return {
        "enabled": False,
        "display_name": "",
        "display_name_in_choices": "",
        "validation_regex": "",
        "validation_message": "",
        "image": VALUE_PLACEHOLDER,
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


def blank_profile_view() -> dict[str, Any]:
    return profile_to_view({})


def _count(get: Get, name: str, limit: int) -> int:
    try:
        return max(0, min(int(get(name) or 0), limit))
    except ValueError:
        return 0


def _is_blank_choice(choice: Mapping[str, Any]) -> bool:
    return not any(
        str(choice.get(k) or "").strip()
        for k in ("key", "display_name", "description", "groups", "image", "extra")
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
            for key in own:
                if key in extra:
                    self.error(prefix + "extra", f"'{key}' has its own field: set it there")
            override.update(extra)
        image = str(view.get("image") or "").strip()
        if image:
            override["image"] = image
        self.maps(pointer + "/image", prefix + "image")
        if not resources:
            return override
        for key in RESOURCE_FIELDS:
            text = str(view.get(key) or "").strip()
            self.maps(f"{pointer}/{key}", prefix + key)
            if not text:
                continue
            try:
                override[key] = (
                    _parse_memory_field(text) if key.startswith("mem") else _parse_number(text)
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
                count = _parse_count(text)
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


def view_to_profile(view: Mapping[str, Any]) -> tuple[dict, dict[str, str], FieldErrors]:
    """A profile from the form's view, the pointer -> field map, and errors by field."""
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
    elif not re.fullmatch(SLUG_PATTERN, slug):
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
        if not re.fullmatch(OPTION_KEY_PATTERN, key):
            b.error(p + "key", "use letters, digits, '-' or '_' (at most 63), e.g. image")
        if key in options:
            b.error(p + "key", f"another option of this profile is called '{key}' already")
        base = f"/profile_options/{_escape(key)}"
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
            if not re.fullmatch(OPTION_KEY_PATTERN, choice_key):
                b.error(q + "key", "use letters, digits, '-' or '_' (at most 63)")
            if choice_key in choices:
                b.error(q + "key", f"another choice is called '{choice_key}' already")
            cbase = f"{base}/choices/{_escape(choice_key)}"
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
    return profile, b.fields, b.errors


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def field_for(pointer: str, fields: Mapping[str, str]) -> str | None:
    """The form field of the longest pointer in ``fields`` that ``pointer`` starts with."""
    while True:
        if pointer in fields:
            return fields[pointer]
        if not pointer:
            return None
        pointer = pointer.rsplit("/", 1)[0]


def place_errors(
    errors: list[SettingsError], prefix: str, fields: Mapping[str, str]
) -> tuple[FieldErrors, list[SettingsError]]:
    """Split errors into those next to a field (under ``prefix``) and the rest."""
    by_field: FieldErrors = {}
    rest: list[SettingsError] = []
    for error in errors:
        field = None
        if error.path == prefix or error.path.startswith(prefix + "/"):
            field = field_for(error.path[len(prefix) :], fields)
        if field is None:
            rest.append(error)
        else:
            by_field.setdefault(field, []).append(humane(error.message, field))
    return by_field, rest


_HUMANE = (
    (re.compile(r"does not match '\^\(https\?://"), "use a full address that starts with https://"),
    (re.compile(r"should be non-empty|is too short"), "this can't be empty"),
)


def humane(message: str, field: str) -> str:
    """A schema message in the words of the form, for the field it is shown next to."""
    if field == "idle_minutes" and "less than the minimum" in message:
        return "at least 1 minute"
    for pattern, words in _HUMANE:
        if pattern.search(message):
            return words
    return message


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


# -- changes to the profile list ------------------------------------------------------------


class ProfileNotFound(LookupError):
    pass


def _index(profiles: list[dict], slug: str) -> int:
    for index, profile in enumerate(profiles):
        if profile.get("slug") == slug:
            return index
    raise ProfileNotFound(slug)


def put_profile(
    profiles: list[dict], profile: dict, original_slug: str | None
) -> tuple[list[dict], int]:
    """The list with ``profile`` in place of ``original_slug`` (or added at the end) and
    its index. A profile marked default takes the mark from every other one."""
    result = copy.deepcopy(profiles)
    try:
        index = _index(result, original_slug) if original_slug else -1
    except ProfileNotFound:
        index = -1
    if index < 0:
        result.append(profile)
        index = len(result) - 1
    else:
        result[index] = profile
    if profile.get("default"):
        for i, other in enumerate(result):
            if i != index:
                other.pop("default", None)
    return result, index


def move_profile(profiles: list[dict], slug: str, delta: int) -> list[dict]:
    result = copy.deepcopy(profiles)
    index = _index(result, slug)
    target = max(0, min(len(result) - 1, index + delta))
    result.insert(target, result.pop(index))
    return result


def make_default(profiles: list[dict], slug: str) -> list[dict]:
    result = copy.deepcopy(profiles)
    index = _index(result, slug)
    for i, profile in enumerate(result):
        if i == index:
            profile["default"] = True
        else:
            profile.pop("default", None)
    return result


def delete_profile(profiles: list[dict], slug: str) -> list[dict]:
    result = copy.deepcopy(profiles)
    result.pop(_index(result, slug))
    return result


# -- announcement and branding --------------------------------------------------------------


def _utc_field(value: str | None) -> str:
    """An RFC 3339 time as the value of a ``datetime-local`` field, in UTC."""
    try:
        parsed = parse_time(value)
    except (TypeError, ValueError):
        return str(value or "")
    if parsed is None:
        return ""
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def announcement_to_view(announcement: Mapping[str, Any] | None) -> dict[str, Any]:
    announcement = announcement or {}
    show_on = announcement.get("show_on")
    return {
        "text": str(announcement.get("text") or ""),
        "level": announcement.get("level") or "info",
        "starts_at": _utc_field(announcement.get("starts_at")),
        "expires_at": _utc_field(announcement.get("expires_at")),
        "show_on": list(PAGES if show_on is None else show_on),
    }


def _time_from_form(local_value: str, utc_value: str) -> str | None:
    """The time a ``datetime-local`` field means: the browser's own conversion to UTC when
    its script sent one, else the field read as UTC (as the page says without script)."""
    for value in (utc_value, local_value):
        value = (value or "").strip()
        if not value:
            continue
        parsed = parse_time(value)  # ValueError for nonsense
        if parsed is None:
            continue
        return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def announcement_from_form(
    get: Get, get_list: Callable[[str], list[str]]
) -> tuple[dict[str, Any], dict[str, Any], FieldErrors]:
    """The announcement (every key set, so none falls back to the deployment's), the view
    to show again, and errors by field."""
    errors: FieldErrors = {}
    view = {
        "text": get("text"),
        "level": get("level") or "info",
        "starts_at": get("starts_at"),
        "expires_at": get("expires_at"),
        "show_on": [p for p in get_list("show_on") if p in PAGES],
    }
    view["text"] = view["text"].replace("\r\n", "\n").strip()
    announcement: dict[str, Any] = {
        "text": view["text"],
        "level": view["level"],
        "show_on": view["show_on"],
    }
    for key in ("starts_at", "expires_at"):
        try:
            announcement[key] = _time_from_form(get(key), get(key + "_utc"))
        except (TypeError, ValueError):
            errors.setdefault(key, []).append("not a date and time")
            announcement[key] = None
        if announcement[key]:
            view[key] = _utc_field(announcement[key])
    starts, expires = announcement.get("starts_at"), announcement.get("expires_at")
    if starts and expires and parse_time(expires) <= parse_time(starts):
        errors.setdefault("expires_at", []).append("the expiry must be after the start")
    return announcement, view, errors


ANNOUNCEMENT_FIELDS = {
    "/text": "text",
    "/level": "level",
    "/starts_at": "starts_at",
    "/expires_at": "expires_at",
    "/show_on": "show_on",
    "": "text",
}


def announcement_state(announcement: Mapping[str, Any] | None, now: datetime) -> str:
    """In words: whether the announcement shows now, and until when."""
    announcement = announcement or {}
    if not str(announcement.get("text") or "").strip():
        return "There is no announcement."
    try:
        starts = parse_time(announcement.get("starts_at"))
        expires = parse_time(announcement.get("expires_at"))
    except (TypeError, ValueError):
        return "The announcement's times can't be read."
    show_on = announcement.get("show_on")
    pages = list(PAGES if show_on is None else show_on)
    if not pages:
        return "The announcement is shown on no page: tick at least one."
    names = pages[0] if len(pages) == 1 else ", ".join(pages[:-1]) + " and " + pages[-1]
    where = names + (" page" if len(pages) == 1 else " pages")
    if starts and now < starts:
        return f"Scheduled: shows on the {where} from {_words(starts)}."
    if expires and now >= expires:
        return f"Expired on {_words(expires)}: it no longer shows."
    until = f" until {_words(expires)}" if expires else ""
    return f"Showing now on the {where}{until}."


def _words(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def branding_to_view(branding: Mapping[str, Any] | None) -> dict[str, str]:
    branding = branding or {}
    return {key: str(branding.get(key) or "") for key in BRANDING_FIELDS}


def branding_from_form(get: Get) -> dict[str, str]:
    """Every branding key, empty ones as ``""`` so they don't fall back to the deployment's."""
    return {key: get(key).strip() for key in BRANDING_FIELDS}


BRANDING_FIELD_MAP = {f"/{key}": key for key in BRANDING_FIELDS} | {"": "organization_name"}


# -- saving over someone else's change ------------------------------------------------------

_MISSING = object()


def three_way(base: Any, mine: Any, theirs: Any) -> tuple[Any, list[tuple[str, ...]]]:
    """Merge my edit of ``base`` with theirs: what I changed wins, what I left alone takes
    their value. Mappings merge key by key (an absent key is a value too); anything else is
    compared whole. Also answers the paths both of us changed, differently (mine is kept).
    """
    clashes: list[tuple[str, ...]] = []
    merged = _merge3(base, mine, theirs, (), clashes)
    return (None if merged is _MISSING else merged), clashes


def _merge3(base: Any, mine: Any, theirs: Any, path: tuple[str, ...], clashes: list) -> Any:
    if isinstance(mine, Mapping) and isinstance(theirs, Mapping):
        base_map = base if isinstance(base, Mapping) else {}
        merged = {}
        for key in [*mine, *[k for k in theirs if k not in mine]]:
            value = _merge3(
                base_map.get(key, _MISSING),
                mine.get(key, _MISSING),
                theirs.get(key, _MISSING),
                (*path, str(key)),
                clashes,
            )
            if value is not _MISSING:
                merged[key] = value
        return merged
    if mine == base:
        return theirs
    if theirs == base or theirs == mine:
        return mine
    clashes.append(path)
    return mine


# -- where to go after a form ---------------------------------------------------------------


def safe_next(value: str | None, prefix: str, default: str) -> str:
    """``value`` if it is a path inside ``prefix`` on this site, else ``default``.

    Refuses anything with a scheme or host (``https://evil``, ``//evil``), backslashes and
    control characters (which browsers read as slashes or drop), and paths that leave
    ``prefix`` through dot segments, encoded or not.
    """
    if not value or len(value) > 2000:
        return default
    if any(ch == "\\" or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    decoded = unquote(parts.path)
    if decoded.startswith("//") or "\\" in decoded:
        return default
    normal = posixpath.normpath(decoded) + ("/" if decoded.endswith("/") else "")
    if not (normal + "/").startswith(prefix.rstrip("/") + "/"):
        return default
    return urlunsplit(("", "", parts.path, parts.query, ""))
