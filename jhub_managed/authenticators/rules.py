"""Pure rules of the managed authenticators: usernames, provider groups, staff, config checks.

Nothing here talks to an identity provider or to the hub; the authenticator classes call
these functions, and the tests call them directly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlparse

#: at most this many groups are taken from one login; the rest are dropped (with a warning)
MAX_PROVIDER_GROUPS = 1000
#: JupyterHub stores group names in a 255-character column
MAX_GROUP_NAME = 255
# control, format, surrogate, private-use, unassigned, line and paragraph separators
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


class ConfigurationError(ValueError):
    """Authenticator settings that cannot work; the message says which and why."""


# -- usernames -----------------------------------------------------------------------------


def canonical_username(name: str) -> str:
    """Unicode NFKC, case-folded, without surrounding whitespace.

    Applied until nothing changes, so ``canonical_username`` of its own result is the same
    (full-width letters, ligatures, ``ß`` and similar would otherwise change twice).
    """
    for _ in range(5):
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
        folded = folded.strip()
        if folded == name:
            break
        name = folded
    return name


def canonical_username_map(username_map: Mapping[str, str]) -> dict[str, str]:
    """``username_map`` with canonical keys and values, chains followed to their end.

    Following chains (``a -> b``, ``b -> c`` gives ``a -> c``) makes normalising a name twice
    give the same result as normalising it once; :func:`username_map_problems` reports
    chains so an admin can fix them.
    """
    canonical = {canonical_username(k): canonical_username(v) for k, v in username_map.items()}
    resolved = {}
    for key, value in canonical.items():
        seen = {key}
        while value in canonical and canonical[value] != value and value not in seen:
            seen.add(value)
            value = canonical[value]
        resolved[key] = value
    return resolved


def username_map_problems(username_map: Mapping[str, str]) -> list[str]:
    """What makes ``username_map`` ambiguous: chains, cycles, keys that fold together."""
    problems = []
    canonical: dict[str, str] = {}
    for key, value in username_map.items():
        ckey, cvalue = canonical_username(key), canonical_username(value)
        if ckey in canonical and canonical[ckey] != cvalue:
            problems.append(
                f"username_map has two entries for {ckey!r} (names are compared "
                "case-insensitively) that map to different users"
            )
        canonical[ckey] = cvalue
    for key, value in canonical.items():
        if value != key and value in canonical and canonical[value] != value:
            problems.append(
                f"username_map maps {key!r} to {value!r}, which is itself mapped to "
                f"{canonical[value]!r}; map {key!r} straight to the final name"
            )
    return problems


def normalize_username(name: str, canonical_map: Mapping[str, str]) -> str:
    """The hub username for ``name``; ``canonical_map`` from :func:`canonical_username_map`.

    Idempotent: ``normalize_username(normalize_username(n, m), m) == normalize_username(n, m)``.
    """
    canonical = canonical_username(name)
    return canonical_map.get(canonical, canonical)


def username_problem(name: str, max_length: int) -> str | None:
    """Why ``name`` cannot be a hub username, or ``None`` when it can.

    Accepted names are safe in URLs once quoted (JupyterHub quotes them) and in Kubernetes
    object names once escaped (kubespawner's safe slugs); what is refused here is what no
    escaping makes sensible: nothing, only dots, slashes, invisible or control characters,
    and names longer than ``max_length``.
    """
    if not name:
        return "it is empty"
    if len(name) > max_length:
        return f"it is longer than {max_length} characters"
    if "/" in name:
        return "it contains a slash (/)"
    if set(name) == {"."}:
        return "it is only dots"
    if name != name.strip():
        return "it starts or ends with a space"
    if any(unicodedata.category(ch) in _UNSAFE_CATEGORIES for ch in name):
        return "it contains control or invisible characters"
    return None


def shorten(text: str, limit: int = 64) -> str:
    """``text`` cut to ``limit`` characters for logs and pages (usernames are user input)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text[: limit + 1])
    if len(text) > limit:
        return f"{text[: limit - 1]}…"
    return text


# -- groups --------------------------------------------------------------------------------


def provider_group_names(value: Any) -> list[str]:
    """Group names from a provider's claim, whatever shape it came in.

    A list of strings is the normal case; one string is one group (not a list of its
    letters); anything else (numbers, objects, ``None``) gives no group. Empty and overlong
    names are dropped, and at most :data:`MAX_PROVIDER_GROUPS` are kept.
    """
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        return []
    names = []
    for item in value:
        if isinstance(item, str) and item.strip() and len(item) <= MAX_GROUP_NAME:
            names.append(item.strip())
        if len(names) >= MAX_PROVIDER_GROUPS:
            break
    return names


def compile_group_filter(patterns: Iterable[str]) -> list[re.Pattern]:
    """Compile ``group_filter``; a bad regular expression names itself in the error."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as e:
            raise ConfigurationError(
                f"group_filter: {pattern!r} is not a regular expression: {e}"
            ) from None
    return compiled


def keeps_group(name: str, keep: list[re.Pattern]) -> bool:
    """Whether the provider group ``name`` passes the filter (no filter keeps every group)."""
    return not keep or any(pattern.fullmatch(name) for pattern in keep)


def map_provider_groups(
    raw: Iterable[str],
    *,
    prefix: str = "",
    keep: list[re.Pattern] | None = None,
    reserved: Iterable[str] = (),
) -> list[str]:
    """Hub group names for a person's provider groups: filtered, prefixed, sorted.

    ``keep`` patterns are matched whole against the provider's name (before the prefix).
    A result in ``reserved`` (the staff group) is dropped: only the operator's staff rules
    put people in it, never a provider group that happens to have the same name.
    """
    reserved = set(reserved)
    groups = set()
    for name in raw:
        if not keeps_group(name, keep or []):
            continue
        group = f"{prefix}{name}"
        if group in reserved or len(group) > MAX_GROUP_NAME:
            continue
        groups.add(group)
    return sorted(groups)


def is_staff(
    username: str,
    raw_groups: Iterable[str],
    staff_users: Iterable[str],
    staff_provider_groups: Iterable[str],
) -> bool:
    """Operator staff: named in ``staff_users`` or a member of a staff team/group.

    ``username`` and ``staff_users`` are normalised hub usernames; ``raw_groups`` and
    ``staff_provider_groups`` are the provider's own group names (before prefix and filter).
    """
    if username in set(staff_users):
        return True
    return bool(set(raw_groups) & set(staff_provider_groups))


def github_team_groups(teams: Any) -> list[str]:
    """``org:team`` names from GitHub's ``/user/teams`` answer, lowercased.

    GitHub compares organisation and team names case-insensitively; the team's URL slug is
    used (``jupyterhub:mybinder-org-operators``), as in ``allowed_organizations``.
    """
    groups = []
    for team in teams if isinstance(teams, list) else []:
        if not isinstance(team, dict):
            continue
        org = team.get("organization")
        org_login = org.get("login") if isinstance(org, dict) else None
        slug = team.get("slug")
        if isinstance(org_login, str) and isinstance(slug, str) and org_login and slug:
            groups.append(f"{org_login.lower()}:{slug.lower()}")
    return provider_group_names(groups)


def value_at(data: Any, dotted_key: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; ``None`` where the path does not exist."""
    for part in dotted_key.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


# -- configuration checks ------------------------------------------------------------------


def unreachable_groups(
    names: Iterable[str], *, prefix: str, keep: list[re.Pattern], staff_group: str
) -> list[str]:
    """Names in ``allowed_groups``/``admin_groups`` that no login can ever put a person in."""
    unreachable = []
    for name in sorted(names):
        if name == staff_group:
            continue
        if not name.startswith(prefix) or not keeps_group(name[len(prefix) :], keep):
            unreachable.append(name)
    return unreachable


def ignored_allow_rules(allow_all: bool, rules: Mapping[str, Any]) -> list[str]:
    """Names of allow rules that ``allow_all`` makes meaningless (everyone is let in)."""
    if not allow_all:
        return []
    return sorted(name for name, value in rules.items() if value)


# -- CILogon: usernames from several identity providers ------------------------------------

_SHORT_NAME = re.compile(r"[^a-z0-9.-]+")


def idp_short_name(entity_id: str) -> str:
    """A readable prefix for an identity provider: its host, or the end of its URN."""
    parsed = urlparse(entity_id)
    name = parsed.hostname or entity_id.rsplit(":", 1)[-1]
    return _SHORT_NAME.sub("-", name.lower()).strip("-.") or "idp"


def bare_username_idps(idps: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The identity providers in ``idps`` whose usernames get no prefix."""
    return [
        entity_id
        for entity_id, idp in idps.items()
        if (idp.get("username_derivation") or {}).get("action") != "prefix"
    ]


def cilogon_prefix_plan(idps: Mapping[str, Mapping[str, Any]], mode: str) -> dict[str, str]:
    """Which identity providers get an automatic username prefix, and which.

    Users of two providers that both give bare usernames (no ``prefix`` action) could end up
    with the same hub username (``alice`` from two universities). With ``mode="prefix"``
    every such provider but one (the one marked ``default``, else the first) gets its short
    name as prefix, the way oauthenticator's own ``prefix`` action does (``uni-b.edu:alice``).
    With ``mode="refuse"`` such a configuration is an error.
    """
    bare = bare_username_idps(idps)
    if len(bare) <= 1:
        return {}
    if mode == "refuse":
        raise ConfigurationError(
            "identity providers "
            + ", ".join(repr(e) for e in bare)
            + " all give usernames without a prefix, so two people could get the same "
            'username; give all but one of them `"action": "prefix"` in idps, or set '
            'username_collisions = "prefix"'
        )
    primary = next((e for e in bare if idps[e].get("default")), bare[0])
    explicit = {
        (idp.get("username_derivation") or {}).get("prefix")
        for idp in idps.values()
        if (idp.get("username_derivation") or {}).get("action") == "prefix"
    }
    plan: dict[str, str] = {}
    for entity_id in bare:
        if entity_id == primary:
            continue
        prefix = idp_short_name(entity_id)
        if prefix in explicit or prefix in plan.values():
            raise ConfigurationError(
                f"the automatic username prefix {prefix!r} for identity provider "
                f"{entity_id!r} is already used; give it its own prefix in idps"
            )
        plan[entity_id] = prefix
    return plan


def prefixes_in_use(idps: Mapping[str, Mapping[str, Any]], plan: Mapping[str, str]) -> set[str]:
    """Every username prefix a login can get: oauthenticator's ``prefix`` actions and ours."""
    prefixes = set(plan.values())
    for idp in idps.values():
        derivation = idp.get("username_derivation") or {}
        if derivation.get("action") == "prefix" and derivation.get("prefix"):
            prefixes.add(derivation["prefix"])
    return {canonical_username(p) for p in prefixes}


def looks_prefixed(username: str, prefixes: set[str]) -> bool:
    """Whether a bare username would look like one from a prefixed provider."""
    head, sep, _ = username.partition(":")
    return bool(sep) and canonical_username(head) in prefixes
