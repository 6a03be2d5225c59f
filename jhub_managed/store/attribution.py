"""Who pays for a server session: one pure function, the rule the docs state.

1. The health service's check user pays nothing: its sessions are billed to
   ``health-check`` and kept out of billable figures.
2. Members of the operator's staff group pay nothing: billed to ``staff``, kept apart.
3. The group that let the user into what they chose: of the user's groups, those listed in
   the ``allowed_groups`` of the profile and of each choice (or unlisted choice) they used.
   Every restricting list must have let them in, so the groups that match all of them are
   the candidates; when no single group matches all of them, the most specific list (the
   last choice's) decides.
4. On a profile open to everyone: the user's groups.
5. No candidate: ``none``. One: that group. Several: ``multiple``, or, when the operator
   asks for it, an even split between them (``shares``).

Group names compare case-insensitively, as ``allowed_groups`` does; the user's own
spelling of a group is the one billed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NONE = "none"
MULTIPLE = "multiple"
STAFF = "staff"
HEALTH_CHECK = "health-check"
#: the health service's check user, as the authenticators name it by default
DEFAULT_CHECK_USER = "jhub-managed-health-check"


@dataclass(frozen=True)
class Attribution:
    #: the group billed when sessions are not split: a group, ``none``, ``multiple``,
    #: ``staff`` or ``health-check``
    group: str
    #: each group's share when the operator splits sessions evenly (sums to 1)
    shares: tuple[tuple[str, float], ...]
    #: ``False`` for staff and the check user: shown apart, never in billable totals
    billable: bool = True


def attribute(
    user_name: str,
    user_groups: Iterable[str],
    restricting_groups: Sequence[Iterable[str]] = (),
    *,
    staff_group: str = STAFF,
    check_users: Iterable[str] = (DEFAULT_CHECK_USER,),
) -> Attribution:
    """Who pays for a session of ``user_name`` (member of ``user_groups``).

    ``restricting_groups`` are the non-empty ``allowed_groups`` lists of what the session
    used, least specific first: the profile's, then each choice's or unlisted choice's.
    """
    groups = _unique(user_groups)
    if user_name in set(check_users):
        return Attribution(HEALTH_CHECK, ((HEALTH_CHECK, 1.0),), billable=False)
    if staff_group and staff_group.casefold() in {g.casefold() for g in groups}:
        return Attribution(STAFF, ((STAFF, 1.0),), billable=False)
    candidates = groups
    matched_lists = []
    for allowed in restricting_groups:
        allowed_folded = {g.casefold() for g in allowed}
        if not allowed_folded:
            continue
        matched_lists.append([g for g in groups if g.casefold() in allowed_folded])
    if matched_lists:
        common = [g for g in matched_lists[0] if all(g in m for m in matched_lists[1:])]
        candidates = common or matched_lists[-1]
    if not candidates:
        return Attribution(NONE, ((NONE, 1.0),))
    if len(candidates) == 1:
        return Attribution(candidates[0], ((candidates[0], 1.0),))
    ordered = sorted(candidates)
    return Attribution(MULTIPLE, tuple((g, 1.0 / len(ordered)) for g in ordered))


def restricting_groups_of(
    profile: Mapping[str, Any] | None, user_options: Mapping[str, Any] | None
) -> list[list[str]]:
    """The non-empty ``allowed_groups`` lists a session with ``user_options`` went through.

    ``profile`` is the profile definition the options chose (``None`` when the hub has no
    profiles or the profile is gone): its own list first, then each chosen option's choice,
    or its unlisted choice when a value of the user's own was used.
    """
    if not profile:
        return []
    options = dict(user_options or {})
    lists = []
    if profile.get("allowed_groups"):
        lists.append(list(profile["allowed_groups"]))
    for key, option in (profile.get("profile_options") or {}).items():
        if options.get(key + "--unlisted-choice") not in (None, ""):
            entry = option.get("unlisted_choice") or {}
        else:
            choices = option.get("choices") or {}
            chosen = options.get(key)
            if chosen not in choices:
                chosen = next((k for k, c in choices.items() if c.get("default")), None)
            entry = choices.get(chosen) or {}
        if entry.get("allowed_groups"):
            lists.append(list(entry["allowed_groups"]))
    return lists


def _unique(groups: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for group in groups or ():
        if group not in seen:
            seen.add(group)
            result.append(group)
    return result
