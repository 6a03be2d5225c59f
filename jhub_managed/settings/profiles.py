"""Pure functions over profile lists: who may use what, and what a request resolves to.

A profile list here is a kubespawner ``profile_list`` with ``allowed_groups`` at profile,
choice and unlisted-choice level. Group names compare case-insensitively; an empty or absent
``allowed_groups`` means everyone.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

UNLISTED_SUFFIX = "--unlisted-choice"
#: Longest value accepted for any one user option (an image name is far shorter).
MAX_OPTION_VALUE_LENGTH = 1024


class ProfileRequestError(ValueError):
    """A spawn request the user may not make or that names something unknown.

    ``status`` is the HTTP status the hub should answer with: 400 for unknown or malformed
    requests, 403 for a profile or choice the user's groups do not allow.
    """

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def normalize_groups(groups: Iterable[str] | None) -> frozenset[str]:
    return frozenset(g.casefold() for g in groups or ())


def is_allowed(entry: Mapping[str, Any], user_groups: frozenset[str]) -> bool:
    """Whether a profile, choice or unlisted choice is open to a user in ``user_groups``.

    ``user_groups`` must already be normalised with :func:`normalize_groups`.
    """
    allowed = entry.get("allowed_groups") or ()
    if not allowed:
        return True
    return not user_groups.isdisjoint(_casefolded(tuple(allowed)))


@functools.lru_cache(maxsize=4096)
def _casefolded(groups: tuple[str, ...]) -> frozenset[str]:
    """Casefolded group names, remembered: the same lists are checked on every spawn."""
    return frozenset(g.casefold() for g in groups)


def _unlisted_enabled(option: Mapping[str, Any]) -> bool:
    unlisted = option.get("unlisted_choice") or {}
    return bool(unlisted.get("enabled"))


def filter_profile(profile: Mapping[str, Any], user_groups: frozenset[str]) -> dict | None:
    """The profile as a user in ``user_groups`` sees it, or ``None`` if they may not use it.

    Choices and unlisted choices the user may not use are removed. A profile left with an
    option that has nothing to choose is not usable, so it is hidden too. The result is a new
    structure down to the choices; ``kubespawner_override`` values are shared with the input
    (this runs on every spawn, so nothing is deep-copied), so callers must not change them.
    """
    if not is_allowed(profile, user_groups):
        return None
    visible = dict(profile)
    options = profile.get("profile_options")
    if not options:
        return visible
    visible_options = {}
    for key, option in options.items():
        option = dict(option)
        choices = {
            name: dict(choice)
            for name, choice in (option.get("choices") or {}).items()
            if is_allowed(choice, user_groups)
        }
        option["choices"] = choices
        unlisted = option.get("unlisted_choice")
        if unlisted and unlisted.get("enabled") and not is_allowed(unlisted, user_groups):
            option.pop("unlisted_choice")
        if not choices and not _unlisted_enabled(option):
            return None
        if choices:
            # exactly one default choice, the one select_profile() takes when none is sent:
            # the first allowed default, else the first allowed choice
            default = next((c for c in choices.values() if c.get("default")), None)
            for choice in choices.values():
                choice.pop("default", None)
            (default or next(iter(choices.values())))["default"] = True
        visible_options[key] = option
    visible["profile_options"] = visible_options
    return visible


def profiles_for_groups(
    profiles: Iterable[Mapping[str, Any]], groups: Iterable[str] | None
) -> list[dict]:
    """The profiles a member of ``groups`` may use, each trimmed to its allowed choices.

    Exactly one profile of the result is marked ``default`` (the first allowed one that was
    marked, else the first).
    """
    user_groups = normalize_groups(groups)
    result = [p for p in (filter_profile(p, user_groups) for p in profiles) if p is not None]
    defaults = [p for p in result if p.get("default")]
    for p in result:
        p.pop("default", None)
    if result:
        (defaults[0] if defaults else result[0])["default"] = True
    return result


def who_may_use(entry: Mapping[str, Any]) -> str:
    groups = entry.get("allowed_groups") or []
    if len(groups) == 1:
        return f"members of the group '{groups[0]}'"
    return "members of the groups " + ", ".join(f"'{g}'" for g in groups)


@dataclass
class ProfileSelection:
    """A validated spawn request: the profile, the choices made and the merged overrides."""

    profile: dict
    choices: dict[str, str] = field(default_factory=dict)
    unlisted: dict[str, str] = field(default_factory=dict)
    override: dict = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.profile["slug"]

    def user_options(self) -> dict[str, str]:
        """The selection as kubespawner-style ``user_options``."""
        options: dict[str, str] = {"profile": self.slug}
        options.update(self.choices)
        for key, value in self.unlisted.items():
            options[key + UNLISTED_SUFFIX] = value
        return options


def _shorten(text: str, limit: int = 100) -> str:
    """``text`` cut to ``limit`` characters, for messages that echo what a user sent."""
    return text if len(text) <= limit else text[:limit] + "..."


def _check_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ProfileRequestError(f"Option '{name}' must be text, not {type(value).__name__}.")
    if len(value) > MAX_OPTION_VALUE_LENGTH:
        raise ProfileRequestError(
            f"Option '{name}' is too long ({len(value)} characters; "
            f"at most {MAX_OPTION_VALUE_LENGTH})."
        )
    return value


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{value\}")


def _substitute(override: Any, value: str) -> Any:
    """Fill ``{value}`` in an unlisted choice's override, as kubespawner does: in keys and
    values, with ``{{`` and ``}}`` for literal braces, other ``{...}`` left as they are."""
    if isinstance(override, str):
        return _PLACEHOLDER.sub(
            lambda m: value if m.group() == "{value}" else m.group()[0], override
        )
    if isinstance(override, Mapping):
        return {_substitute(k, value): _substitute(v, value) for k, v in override.items()}
    if isinstance(override, list):
        return [_substitute(v, value) for v in override]
    return override


def fullmatch_any(patterns: Iterable[str], value: str) -> bool:
    """Whether ``value`` matches one of ``patterns`` as a whole string.

    ``re.fullmatch`` rather than ``re.match``: a pattern without anchors must not accept a
    value that merely starts like an allowed one, and ``$`` must not accept a trailing newline.
    """
    return any(p.fullmatch(value) for p in _compiled(tuple(patterns)))


@functools.lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p) for p in patterns)


def select_profile(
    profiles: list[Mapping[str, Any]],
    groups: Iterable[str] | None,
    user_options: Mapping[str, Any] | None,
) -> ProfileSelection:
    """Validate a spawn request against the full profile list and the user's groups.

    ``user_options`` is kubespawner-shaped: ``{"profile": slug, option: choice,
    option + "--unlisted-choice": free text}``. Missing options take their default choice.
    Raises :class:`ProfileRequestError` (400 unknown or malformed, 403 not allowed).
    """
    if user_options is not None and not isinstance(user_options, Mapping):
        raise ProfileRequestError(
            f"Server options must be a mapping of names to values, not "
            f"{type(user_options).__name__}."
        )
    user_options = dict(user_options or {})
    if not profiles:
        raise ProfileRequestError("This hub offers no profiles yet.", status=403)
    user_groups = normalize_groups(groups)
    profile_def = _requested_profile(profiles, groups, user_groups, user_options.get("profile"))
    selection = ProfileSelection(profile=dict(profile_def))
    override = copy.deepcopy(profile_def.get("kubespawner_override") or {})
    options = profile_def.get("profile_options") or {}
    _refuse_unknown(user_options, options, profile_def["slug"])
    for key, option in options.items():
        option = {**option, "display_name": _label(option, key)}
        choices = option.get("choices") or {}
        unlisted_def = option.get("unlisted_choice") or {}
        unlisted_value = user_options.get(key + UNLISTED_SUFFIX)
        choice = user_options.get(key)
        if (
            unlisted_value not in (None, "")
            and unlisted_def.get("enabled")
            and (choice in (None, "", "unlisted_choice"))
        ):
            value = _typed_value(key, option, unlisted_def, unlisted_value, user_groups)
            selection.unlisted[key] = value
            override = _merge_override(
                override, _substitute(unlisted_def.get("kubespawner_override") or {}, value)
            )
            continue
        if unlisted_value not in (None, "") and not unlisted_def.get("enabled"):
            raise ProfileRequestError(
                f"'{option['display_name']}' does not take a value of your own."
            )
        if choice == "unlisted_choice" and unlisted_def.get("enabled"):
            # "Other..." picked in the list, but its text box left empty
            raise ProfileRequestError(_empty_unlisted_message(option, unlisted_def))
        choice = _listed_choice(key, option, choice, user_groups, profile_def["slug"])
        selection.choices[key] = choice
        override = _merge_override(override, choices[choice].get("kubespawner_override") or {})
    selection.override = override
    return selection


def _refuse_unknown(user_options: Mapping[str, Any], options: Mapping[str, Any], slug: str):
    """Refuse a request that names an option the profile does not have."""
    known = {"profile"} | set(options) | {k + UNLISTED_SUFFIX for k in options}
    unknown = sorted((k for k in user_options if k not in known), key=str)
    if unknown:
        raise ProfileRequestError(
            f"Unknown option '{_shorten(str(unknown[0]))}' for profile '{slug}'."
        )


def _requested_profile(
    profiles: list[Mapping[str, Any]],
    groups: Iterable[str] | None,
    user_groups: frozenset[str],
    slug: Any,
) -> Mapping[str, Any]:
    """The profile ``slug`` names (the default of those open to the user, without one)."""
    if slug in (None, ""):
        visible = profiles_for_groups(profiles, groups)
        if not visible:
            raise ProfileRequestError("No profile on this hub is open to you.", status=403)
        default_slug = next(p["slug"] for p in visible if p.get("default"))
        return next(p for p in profiles if p["slug"] == default_slug)
    slug = _check_text("profile", slug)
    matches = [p for p in profiles if p["slug"] == slug]
    if not matches:
        raise ProfileRequestError(f"Unknown profile '{_shorten(slug)}'.")
    profile_def = matches[0]
    if not is_allowed(profile_def, user_groups):
        raise ProfileRequestError(
            f"The profile '{_label(profile_def, slug)}' is only for {who_may_use(profile_def)}.",
            status=403,
        )
    return profile_def


def _typed_value(
    key: str,
    option: Mapping[str, Any],
    unlisted_def: Mapping[str, Any],
    unlisted_value: Any,
    user_groups: frozenset[str],
) -> str:
    """The value the user typed for ``option``, if the user may type one and it matches."""
    value = _check_text(key, unlisted_value)
    if not is_allowed(unlisted_def, user_groups):
        raise ProfileRequestError(
            f"Entering your own value for '{option['display_name']}' is only for "
            f"{who_may_use(unlisted_def)}.",
            status=403,
        )
    regex = unlisted_def.get("validation_regex")
    if regex and not fullmatch_any([regex], value):
        message = unlisted_def.get("validation_message") or (f"must match the pattern {regex}")
        raise ProfileRequestError(
            f"'{_shorten(value)}' is not accepted for '{option['display_name']}': {message}"
        )
    return value


def _listed_choice(
    key: str, option: Mapping[str, Any], choice: Any, user_groups: frozenset[str], slug: str
) -> str:
    """The key of the choice the user picked for ``option`` (its default, if none), if the
    user may have it."""
    choices = option.get("choices") or {}
    if choice in (None, ""):
        allowed_choices = [k for k, c in choices.items() if is_allowed(c, user_groups)]
        defaults = [k for k in allowed_choices if choices[k].get("default")]
        if not allowed_choices:
            raise ProfileRequestError(f"Choose a value for '{option['display_name']}'.", status=400)
        choice = (defaults or allowed_choices)[0]
    choice = _check_text(key, choice)
    if choice not in choices:
        raise ProfileRequestError(
            f"Unknown choice '{_shorten(choice)}' for '{option['display_name']}' "
            f"in profile '{slug}'."
        )
    choice_def = choices[choice]
    if not is_allowed(choice_def, user_groups):
        raise ProfileRequestError(
            f"The choice '{_label(choice_def, choice)}' of '{option['display_name']}' is "
            f"only for {who_may_use(choice_def)}.",
            status=403,
        )
    return choice


def _label(entry: Mapping[str, Any], key: str) -> str:
    """What a profile, option or choice is called: its display name, else its key (the
    operator's layers may leave an option's or a choice's name out, as KubeSpawner does)."""
    name = entry.get("display_name")
    return name if isinstance(name, str) and name else str(key)


def _empty_unlisted_message(option: Mapping[str, Any], unlisted: Mapping[str, Any]) -> str:
    """What to say when "Other..." is chosen for ``option`` and nothing was typed."""
    picked = unlisted.get("display_name_in_choices") or "Other..."
    box = unlisted.get("display_name") or "Other"
    hint = unlisted.get("validation_message")
    return (
        f"You chose '{picked}' for '{option['display_name']}' but typed nothing: type it "
        f"in '{box}'{f' ({hint})' if hint else ''}, or pick one from the list."
    )


def _merge_override(base: dict, extra: Mapping[str, Any]) -> dict:
    """Later overrides win; dict-valued settings (environment, node_selector,
    extra_pod_config, ...) merge all the way down, as KubeSpawner merges each override into
    its settings (a ``None`` kept, for KubeSpawner to remove the key it names)."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge_override(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def idle_timeout_for(
    profiles: Iterable[Mapping[str, Any]], user_options: Mapping[str, Any] | None, default: int
) -> int:
    """Seconds of inactivity after which a server started with ``user_options`` is culled.

    The server's profile's ``idle_timeout`` when it has one, else ``default``. A server whose
    profile was since removed or renamed gets ``default``.
    """
    slug = (user_options or {}).get("profile")
    for profile in profiles:
        if profile.get("slug") == slug:
            timeout = profile.get("idle_timeout")
            if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout > 0:
                return timeout
            break
    return default
