"""Provider groups become hub groups; operator staff become admins.

Groups come from the identity provider at every login (filtered, prefixed; the provider is
the source of truth, so a removed membership removes the group); the staff rules put the
operator's staff in the staff group and make them admins, unless the hub opts out. The
rules are pure functions in :mod:`.rules`.
"""

from __future__ import annotations

from collections.abc import Callable

from jupyterhub import orm
from jupyterhub.utils import maybe_future
from sqlalchemy import bindparam, select
from traitlets import HasTraits

from . import rules
from .pages import LoginRefused

#: is this user in this group? Built once: a login asks it at most once, cheaply.
_IN_GROUP = (
    select(orm.User.id)
    .join(orm.User.groups)
    .where(orm.User.name == bindparam("user"), orm.Group.name == bindparam("group"))
    .limit(1)
)


class ProviderGroups(HasTraits):
    """Part of :class:`~jhub_managed.authenticators.ManagedAuthenticatorMixin`: groups,
    staff and admin rights from each login's auth model."""

    async def get_user_groups(self, auth_state):
        """The provider's own group names (hub names are made in :meth:`managed_auth_model`).

        As oauthenticator reads them from ``auth_state_groups_key``, except that one string
        is one group (not a set of its letters) and entries that are not names are dropped.
        """
        key = getattr(self, "auth_state_groups_key", None)
        if not key:
            return set()
        if not callable(key):
            value = rules.value_at(auth_state, key)
            if isinstance(value, (str, list, tuple, set, frozenset)):
                names = rules.provider_group_names(value)
                if not isinstance(value, str) and len(names) < len(value):
                    self.log.error(
                        "The value of the auth_state_groups_key %s is invalid: %d of its %d "
                        "entries are not group names and were left out",
                        key,
                        len(value) - len(names),
                        len(value),
                    )
                return set(names)
        # upstream's reading: a callable, or a value it logs as missing or invalid
        groups = await maybe_future(super().get_user_groups(auth_state))
        return set(
            rules.provider_group_names(sorted(g for g in groups or () if isinstance(g, str)))
        )

    async def managed_auth_model(
        self, model: dict, was_staff: Callable[[], bool] | None = None
    ) -> dict:
        """Apply the managed rules to an auth model whose ``groups`` are provider groups.

        ``was_staff`` tells (when asked) whether the person was in the staff group before
        this login: an admin who was staff and is no longer loses the admin rights staff
        gave. It is only asked when the hub has staff rules and nothing else decides the
        admin status.
        """
        name = self.normalize_username(model["name"])
        problem = rules.username_problem(name, self.max_username_length)
        if problem:
            self.log.warning("Refused login of %r: %s", rules.shorten(name), problem)
            raise LoginRefused(
                "username",
                f"The username the sign-in service gave, {rules.shorten(name)}, cannot be "
                f"used on this hub: {problem}.",
            )
        model["name"] = name
        raw = rules.provider_group_names(model.get("groups"))
        groups = set(
            rules.map_provider_groups(
                raw,
                prefix=self.group_prefix,
                keep=rules.compile_group_filter(self.group_filter),
                reserved={self.staff_group},
            )
        )
        staff = rules.is_staff(
            name, raw, self._normalized(self.staff_users), self.staff_provider_groups
        )
        if staff:
            groups.add(self.staff_group)

        admin = model.get("admin")
        listed_admin = name in self._normalized(self.admin_users)
        admin_groups = self._trait_or_empty("admin_groups")
        if admin_groups:
            admin = listed_admin or bool(groups & set(admin_groups))
        elif listed_admin:
            admin = True
        if staff and not self.staff_opt_out:
            admin = True
        elif admin is None and self._has_staff_rules() and was_staff is not None and was_staff():
            # admin came with staff access, which this person no longer has here
            admin = False
        model["admin"] = admin
        if self.manage_groups:
            model["groups"] = sorted(groups)
        return model

    def _has_staff_rules(self) -> bool:
        """Whether this hub has operator staff at all (no rules: no staff, no lookups)."""
        return bool(self.staff_users or self.staff_provider_groups)

    def _was_staff(self, handler, username: str) -> bool:
        """Whether the hub's database has ``username`` in the staff group (one query)."""
        db = (getattr(handler, "settings", None) or {}).get("db")
        if db is None:
            return False
        try:
            # on the session's own connection: the same transaction, without ORM overhead
            params = {"user": username, "group": self.staff_group}
            found = db.connection().execute(_IN_GROUP, params).first()
        except Exception:
            self.log.debug("Could not look up whether %s was staff", username, exc_info=True)
            return False
        return found is not None
