"""Who may use a route of a service: one policy for the three services.

The request's token decides: the scopes the hub answers for it in the user model (the
token's own scopes, already cut down to what its owner holds now). The user's ``admin`` flag
plays no part. Hub admins hold the suite's scopes through the role ``jhub-managed-admins``
that ``configure()`` gives them (see :mod:`jhub_managed.roles`), so their browser sessions,
whose OAuth token carries those scopes, are admitted; a token made with fewer scopes stays
limited, whoever owns it.

Pure functions: :meth:`jhub_managed.services.base.BaseHandler.authorize` applies them to a
request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def token_scopes(model: Mapping[str, Any] | None) -> frozenset[str]:
    """The scopes of the token a request came with, from the user model the hub answered."""
    return frozenset((model or {}).get("scopes") or ())


def grants(model: Mapping[str, Any] | None, any_of: Iterable[str] = ()) -> bool:
    """Whether a request with this user model may use a route that needs any one of
    ``any_of`` (none: a login is enough). No login: never."""
    if not model:
        return False
    needed = frozenset(any_of)
    return not needed or not needed.isdisjoint(token_scopes(model))


def _named(scopes: Iterable[str], joiner: str) -> str:
    return f" {joiner} ".join(f"'{s}'" for s in scopes)


def missing_scope_message(*scopes: str, either: bool = False) -> str:
    """403 for a valid login or token that lacks a permission: which one, and what to do.

    ``either``: any one of ``scopes`` would do (else all of them are needed).
    """
    named = _named(scopes, "or" if either else "and")
    which = "permissions" if len(scopes) > 1 and not either else "permission"
    return (
        f"This needs the {which} {named}, which the token of this request does not carry. "
        "Use a token that has it (a token made with a list of scopes has only those), or ask "
        "the hub's operator for it. If you were given it just now, log out of the hub and in "
        "again."
    )


def not_logged_in_message(*scopes: str) -> str:
    """403 for a request without a login or token."""
    if not scopes:
        return "Log in to the hub, or send a token, to use this API."
    return f"Log in to the hub, or send a token with the permission {_named(scopes, 'or')}."
