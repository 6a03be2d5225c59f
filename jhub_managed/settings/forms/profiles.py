"""The profile form: a profile to the text of its fields and back.

Here: a profile to its view, the view from posted fields, and the rows the form adds and
copies. ``view_to_profile`` (:mod:`.profile_build`) turns a view into a profile and a map
from each JSON pointer (relative to the profile) to the form field it came from, so that
every validation error of the saved document can be shown next to its field; a
kubespawner override's fields are :mod:`.overrides`'s.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .fields import Get, groups_text, minutes_text
from .overrides import (  # noqa: F401 (the form's names, read from here)
    COMMON_FIELDS,
    RESOURCE_FIELDS,
    environment_text,
    override_view,
    parse_environment,
)
from .profile_build import (  # noqa: F401 (the form's names, read from here)
    FORM_KEYS,
    is_blank_choice,
    keep_unshown,
    view_to_profile,
)

#: the placeholder an unlisted choice's override is filled with
VALUE_PLACEHOLDER = "{value}"


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
        **override_view(profile.get("kubespawner_override"), resources=True),
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
                **override_view(choice.get("kubespawner_override"), resources=False),
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
                **override_view(unlisted.get("kubespawner_override"), resources=False),
            }
        view["options"].append(option_view)
    return view


def _count(get: Get, name: str, limit: int) -> int:
    try:
        return max(0, min(int(get(name) or 0), limit))
    except ValueError:
        return 0


MAX_OPTIONS = 20
MAX_CHOICES = 200
#: a choice's text fields, and an unlisted choice's, as the form posts them
_CHOICE_TEXTS = ("key", "display_name", "description", "groups", "image", "default_url", "extra")
_UNLISTED_TEXTS = (
    "display_name",
    "display_name_in_choices",
    "validation_regex",
    "validation_message",
    "image",
    "default_url",
    "groups",
    "extra",
)


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
    view["options"] = [
        _option_from_form(get, i) for i in range(_count(get, "o-count", MAX_OPTIONS))
    ]
    return view


def _option_from_form(get: Get, i: int) -> dict[str, Any]:
    """The ``i``-th option's view from posted fields (see :func:`view_from_form`)."""
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
        choice = {key: get(q + key) for key in _CHOICE_TEXTS}
        choice["remove"] = bool(get(q + "remove"))
        if is_blank_choice(choice):
            option["blank"] += 1
            continue
        if default == str(j):
            option["default"] = str(len(option["choices"]))
        option["choices"].append(choice)
    u = p + "u-"
    option["unlisted"] = {
        "enabled": bool(get(u + "enabled")),
        **{key: get(u + key) for key in _UNLISTED_TEXTS},
    }
    return option


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
