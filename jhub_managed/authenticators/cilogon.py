"""CILogon: institutions chosen with ``idps``, group claims, no username collisions."""

from __future__ import annotations

from oauthenticator.cilogon import CILogonOAuthenticator
from traitlets import Enum, default

from . import rules
from .mixin import ManagedAuthenticatorMixin
from .pages import LoginRefused


class ManagedCILogonOAuthenticator(ManagedAuthenticatorMixin, CILogonOAuthenticator):
    """CILogon login, restricted to the institutions in ``idps`` (oauthenticator 17.4).

    Takes every option of oauthenticator's ``CILogonOAuthenticator``. The ``isMemberOf``
    claim becomes hub groups at every login (``auth_state_groups_key`` changes which claim).
    People from two institutions with the same local part never share a hub account: see
    ``username_collisions``.
    """

    allow_rule_description = "the institutions or groups that may use this hub"

    username_collisions = Enum(
        ["allow", "prefix", "refuse"],
        default_value="allow",
        config=True,
        help="""What to do when more than one institution in ``idps`` gives usernames without
        a prefix, so that ``alice`` of one and ``alice`` of another would be one hub user.

        ``allow`` (the default, oauthenticator's behaviour): usernames are used as ``idps``
        makes them, and the hub logs a warning at start. ``prefix`` (recommended): all of
        them but one (the one marked ``default``, else the first) get the institution's host
        name as prefix, as oauthenticator's ``prefix`` action does:
        ``uni-b.example.edu:alice``. ``refuse``: the hub does not start until ``idps`` gives
        them prefixes itself.

        With ``prefix`` or ``refuse``, a username without a prefix that looks like a
        prefixed one (``google:alice`` from an institution without prefix) is refused.""",
    )

    @default("auth_state_groups_key")
    def _default_groups_key(self):
        return f"{self.user_auth_state_key}.isMemberOf"

    def allow_rules(self):
        domains = any(idp.get("allowed_domains") for idp in self.idps.values())
        return {**super().allow_rules(), "the allowed_domains in idps": domains}

    def configuration_problems(self):
        problems = super().configuration_problems()
        if not self.idps:
            problems.append("idps is not set: name the institutions people may sign in with")
            return problems
        if self.username_collisions == "allow":
            shared = rules.bare_username_idps(self.idps)
            if len(shared) > 1:
                self.log.warning(
                    "Identity providers %s all give usernames without a prefix, so two "
                    'people could get the same hub user; set username_collisions = "prefix"',
                    ", ".join(shared),
                )
            return problems
        try:
            rules.cilogon_prefix_plan(self.idps, self.username_collisions)
        except rules.ConfigurationError as e:
            problems.append(str(e))
        return problems

    def user_info_to_username(self, user_info):
        idp = user_info.get("idp")
        if idp and idp not in self.idps:
            name = user_info.get("idp_name") or idp
            self.log.warning("Refused login through identity provider %r", rules.shorten(idp))
            raise LoginRefused(
                "idp",
                f"This hub does not accept sign-ins through {rules.shorten(str(name))}.",
            )
        username = super().user_info_to_username(user_info)
        if self.username_collisions == "allow":
            return username
        plan = rules.cilogon_prefix_plan(self.idps, self.username_collisions)
        if idp in plan:
            return f"{plan[idp]}:{username}"
        derivation = self.idps[idp].get("username_derivation") or {}
        if derivation.get("action") != "prefix" and rules.looks_prefixed(
            username, rules.prefixes_in_use(self.idps, plan)
        ):
            raise LoginRefused(
                "username",
                f"The username {rules.shorten(username)} looks like one from another "
                "institution on this hub, so it cannot be used.",
            )
        return username
