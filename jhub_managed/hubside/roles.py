"""A role whose members are exactly the hub's admin users.

JupyterHub's ``admin`` role can't be given more scopes (a custom scope such as the settings
scope included), so hub admins would need a role of their own, and the hub makes people
admins in many ways: ``admin_users``, the authenticator at each login (``admin_groups``,
the operator's staff), the admin page, the REST API. Each of those sets the user's
``admin`` flag; :func:`follow_admins` keeps the role
:data:`~jhub_managed.scopes.ADMINS_ROLE` in step with that flag at every write to the hub's
database, so whoever is an admin holds the role's scopes, whichever way they became one, and
loses them when they stop being one.

The hub also empties a configured role at each start (``load_roles`` lists no users for
it); that write is followed by a full re-sync, in the same transaction.

``configure()`` adds the listener (once per process; adding it again changes nothing): the
hub writes the role's members at start, before any hook of its own would run.
"""

from __future__ import annotations

from itertools import chain

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from ..scopes import ADMINS_ROLE


def follow_admins() -> None:
    """Keep :data:`~jhub_managed.scopes.ADMINS_ROLE`'s users equal to the hub's admins, in
    this process (once)."""
    if not event.contains(Session, "before_flush", _sync_admins_role):
        event.listen(Session, "before_flush", _sync_admins_role)


def _sync_admins_role(session: Session, flush_context, instances) -> None:
    from jupyterhub import orm

    changed = [o for o in chain(session.new, session.dirty) if isinstance(o, orm.User | orm.Role)]
    if not changed:
        return
    role_changed = any(isinstance(o, orm.Role) and o.name == ADMINS_ROLE for o in changed)
    users = [
        u
        for u in changed
        if isinstance(u, orm.User) and (u in session.new or _admin_changed(u) or role_changed)
    ]
    if not users and not role_changed:
        return
    with session.no_autoflush:
        role = (
            next((o for o in changed if isinstance(o, orm.Role) and o.name == ADMINS_ROLE), None)
            or session.query(orm.Role).filter_by(name=ADMINS_ROLE).one_or_none()
        )
        if role is None:
            return
        if role_changed:
            # a start of the hub set the role's members from its configuration: all admins
            admins = set(session.query(orm.User).filter(orm.User.admin.is_(True)))
            admins |= {u for u in users if u.admin}
            admins -= {u for u in users if not u.admin}
            if set(role.users) != admins:
                role.users = sorted(admins, key=lambda u: u.name)
            return
        for user in users:
            holds = role in user.roles
            if user.admin and not holds:
                user.roles.append(role)
            elif holds and not user.admin:
                user.roles.remove(role)


def _admin_changed(user) -> bool:
    return inspect(user).attrs.admin.history.has_changes()
