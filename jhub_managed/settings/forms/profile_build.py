"""The profile form's view to a profile: each field's value where the settings document
holds it, the map from each JSON pointer (relative to the profile) to the field it came
from, and what is wrong, by field.

What the profile the form edits has that the form does not show (keys of spawn-page
extensions, ...) is kept as it was.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from typing import Any

from ..pointer import escape
from ..schema import OPTION_KEY_PATTERN, SLUG_PATTERN
from .fields import FieldErrors, parse_groups, slugify
from .overrides import FormBuilder

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
_UNLISTED_TEXTS = (
    "display_name",
    "display_name_in_choices",
    "validation_regex",
    "validation_message",
)


def is_blank_choice(choice: Mapping[str, Any]) -> bool:
    return not any(
        str(choice.get(k) or "").strip()
        for k in ("key", "display_name", "description", "groups", "image", "default_url", "extra")
    )


def _key_for(text: str, fallback: str) -> str:
    return slugify(text) or fallback


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def view_to_profile(
    view: Mapping[str, Any], original: Mapping[str, Any] | None = None
) -> tuple[dict, dict[str, str], FieldErrors]:
    """A profile from the form's view, the pointer -> field map, and errors by field.

    ``original`` is the profile the form edits: its slug and its options' and choices' keys
    are kept as they are, whatever their shape (the operator's may be any), and what it has
    that the form does not show (keys of spawn-page extensions, ...) is kept too.
    """
    original = original if isinstance(original, Mapping) else {}
    b = FormBuilder()
    profile = _profile_fields(b, view, original)
    override = b.override(view, "", "/kubespawner_override", resources=True)
    if override:
        profile["kubespawner_override"] = override
    options: dict[str, Any] = {}
    b.maps("/profile_options", "options")
    original_options = _mapping(original.get("profile_options"))
    for i, option_view in enumerate(view.get("options") or []):
        built = _option(b, i, option_view, original_options, options)
        if built is not None:
            options[built[0]] = built[1]
    if options:
        profile["profile_options"] = options
    keep_unshown(profile, original)
    return profile, b.fields, b.errors


def _profile_fields(
    b: FormBuilder, view: Mapping[str, Any], original: Mapping[str, Any]
) -> dict[str, Any]:
    """The profile's own fields: name, slug, description, default, groups, idle time."""
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
    return profile


def _unlisted_used(unlisted_view: Mapping[str, Any]) -> bool:
    return bool(unlisted_view.get("enabled")) or any(
        str(unlisted_view.get(k) or "").strip()
        for k in ("display_name", "display_name_in_choices", "validation_regex", "groups")
    )


def _option(
    b: FormBuilder,
    i: int,
    option_view: Mapping[str, Any],
    original_options: Mapping[str, Any],
    options: Mapping[str, Any],
) -> tuple[str, dict[str, Any]] | None:
    """The ``i``-th option's key and the option (``None`` when removed or left blank);
    ``options`` are the profile's options before it."""
    p = f"o{i}-"
    choices_views = [c for c in option_view.get("choices") or [] if not is_blank_choice(c)]
    unlisted_view = option_view.get("unlisted") or {}
    option_name = str(option_view.get("display_name") or "").strip()
    key_text = str(option_view.get("key") or "").strip()
    unlisted_used = _unlisted_used(unlisted_view)
    if option_view.get("remove") or (
        not option_name and not key_text and not choices_views and not unlisted_used
    ):
        return None
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
        if is_blank_choice(choice_view) or choice_view.get("remove"):
            continue
        q = f"{p}c{j}-"
        choice_key = str(choice_view.get("key") or "").strip() or _key_for(
            str(choice_view.get("display_name") or "").strip(), f"choice-{j + 1}"
        )
        if choice_key not in original_choices and not re.fullmatch(OPTION_KEY_PATTERN, choice_key):
            b.error(q + "key", "use letters, digits, '-' or '_' (at most 63)")
        if choice_key in choices:
            b.error(q + "key", f"another choice is called '{choice_key}' already")
        choices[choice_key] = _choice(b, q, j, choice_key, choice_view, option_view, base)
    if choices:
        option["choices"] = choices
    if unlisted_used:
        option["unlisted_choice"] = _unlisted(b, p + "u-", unlisted_view, base)
    if not choices and not unlisted_view.get("enabled"):
        b.error(
            p + "display_name",
            "this option has nothing to choose: add a choice, allow users to type their "
            "own value, or tick 'Remove this option'",
        )
    return key, option


def _choice(
    b: FormBuilder,
    q: str,
    j: int,
    choice_key: str,
    choice_view: Mapping[str, Any],
    option_view: Mapping[str, Any],
    base: str,
) -> dict[str, Any]:
    """The ``j``-th choice, ``choice_key``, its fields named ``q`` + field name."""
    choice_name = str(choice_view.get("display_name") or "").strip()
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
    choice_override = b.override(choice_view, q, cbase + "/kubespawner_override", resources=False)
    if choice_override:
        choice["kubespawner_override"] = choice_override
    choice_groups = parse_groups(str(choice_view.get("groups") or ""))
    if choice_groups:
        choice["allowed_groups"] = choice_groups
    return choice


def _unlisted(
    b: FormBuilder, u: str, unlisted_view: Mapping[str, Any], base: str
) -> dict[str, Any]:
    """An option's free-text choice, its fields named ``u`` + field name."""
    ubase = base + "/unlisted_choice"
    b.maps(ubase, u + "enabled")
    unlisted: dict[str, Any] = {"enabled": bool(unlisted_view.get("enabled"))}
    b.maps(ubase + "/enabled", u + "enabled")
    for key_name in _UNLISTED_TEXTS:
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
    return unlisted


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
