"""``ManagedAuthenticatorMixin``: what every managed authenticator does on top of its provider.

- provider groups (GitHub teams, OIDC and CILogon claims) become hub groups on every login,
  filtered and prefixed; the provider is the source of truth, so a removed membership
  removes the group at the next login;
- operator staff (named, or in a staff team) are admins on every hub that does not opt out,
  and are in the ``staff`` group;
- blocked users and the health check user never get in, whatever else would let them;
- usernames are normalised idempotently and checked;
- a refusal, a provider that does not answer, or a sign-in that goes wrong each give a page
  that says what happened and whom to contact, never a 500.

The upstream contracts stay as they are: ``authenticate`` and ``get_authenticated_user``
return ``None`` for anyone who does not get in, ``check_allowed`` and
``check_blocked_users`` return ``False``; what the person should be told is left behind on
the request's handler, and the login and OAuth callback handlers render it (as
oauthenticator renders ``custom_403_message``). The defaults are oauthenticator's own:
hub groups from the provider are made when ``manage_groups`` is set, or when a managed
option that needs them is (``group_prefix``, ``group_filter``, ``staff_users``,
``staff_provider_groups``).

The rules themselves are pure functions in :mod:`.rules`; this class wires them into
JupyterHub's and oauthenticator's hooks, with the parts in their own modules: who gets in
(:mod:`.access`), groups, staff and admin (:mod:`.groups`), the provider's failures
(:mod:`.provider`), and upstream's option checks under upstream's class name
(:mod:`jhub_managed.compat.oauthenticator`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyterhub.utils import maybe_future
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import Bool, Float, Integer, List, Set, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from ..compat.oauthenticator import UpstreamOptionChecks
from ..store.attribution import DEFAULT_CHECK_USER
from . import rules
from .access import AccessChecks, leave_problem
from .groups import ProviderGroups
from .pages import LoginFailed, LoginProblem, ManagedOAuthCallbackHandler, ProviderUnavailable
from .provider import ProviderRequests


class ManagedAuthenticatorMixin(
    AccessChecks, ProviderGroups, ProviderRequests, UpstreamOptionChecks, LoggingConfigurable
):
    """Groups from the identity provider, operator staff access, blocked users, clear refusals.

    Put it first: ``class ManagedX(ManagedAuthenticatorMixin, XOAuthenticator)``. Its options
    can be set for all managed authenticators at once as ``c.ManagedAuthenticatorMixin.<name>``.
    """

    #: the hub's OAuth callback, rendering refusals and failures as pages
    callback_handler = ManagedOAuthCallbackHandler
    #: what refused people are told they are not in (provider classes say it their way)
    allow_rule_description = "the groups that may use this hub"

    group_prefix = Unicode(
        "",
        config=True,
        help="""Prefix for the hub groups made from the identity provider's groups.

        With ``"github:"`` the GitHub team ``physics:students`` becomes the hub group
        ``github:physics:students``. ``allowed_groups`` and ``admin_groups`` name hub groups,
        so they include the prefix.""",
    )
    group_filter = List(
        Unicode(),
        config=True,
        help="""Which of the provider's groups become hub groups: regular expressions, each
        matched against the whole provider group name (before ``group_prefix``). Empty (the
        default) keeps every group.

        For example ``["physics:.*"]`` keeps the teams of the GitHub organisation
        ``physics`` only.""",
    )

    @validate("group_filter")
    def _check_group_filter(self, proposal):
        rules.compile_group_filter(proposal.value)
        return proposal.value

    staff_users = Set(
        Unicode(),
        config=True,
        help="""The operator's staff, by hub username (after normalisation), on every hub.

        Staff are hub admins (unless the hub sets ``staff_opt_out``), may log in even when no
        other rule allows them, and are put in the ``staff_group``, so that usage reports can
        leave them out. Blocked users stay blocked, staff or not. Usually set fleet-wide with
        ``configure(c, staff_users=[...])``.""",
    )
    staff_provider_groups = Set(
        Unicode(),
        config=True,
        help="""Provider groups whose members are the operator's staff, as the provider names
        them (before ``group_prefix`` and ``group_filter``): GitHub teams as ``org:team``,
        OIDC or CILogon group claim values. Members are treated as in ``staff_users``.""",
    )
    staff_group = Unicode(
        "staff",
        config=True,
        help="""The hub group of the operator's staff. Only the staff rules put people in it:
        a provider group that would get the same name is dropped.""",
    )
    staff_opt_out = Bool(
        False,
        config=True,
        help="""This hub does not give the operator's staff admin rights or access. Staff who
        may log in for another reason are still put in the ``staff_group``.""",
    )
    health_check_user = Unicode(
        DEFAULT_CHECK_USER,
        config=True,
        help="""The health service's check user. Nobody can log in as it through the browser,
        whatever the identity provider says.""",
    )
    contact = Unicode(
        "",
        config=True,
        help="""Whom people who cannot log in should contact (an e-mail address, a URL or a
        sentence), shown on the refusal and "try again later" pages. Empty (the default)
        uses ``branding.contact`` from the hub's settings.""",
    )
    max_username_length = Integer(
        128,
        config=True,
        help="""Longest username accepted from the identity provider; longer ones are refused
        with a clear page.""",
    )
    provider_timeout = Float(
        10.0,
        config=True,
        help="""Seconds to wait for each request to the identity provider before showing the
        "try again later" page (unless ``http_request_kwargs`` sets its own timeouts).""",
    )

    @default("manage_groups")
    def _default_manage_groups(self):
        # upstream's default (False), unless an option of ours asks for the groups
        return self.wants_provider_groups()

    def wants_provider_groups(self) -> bool:
        """Whether a managed option needs the provider's groups as hub groups."""
        return bool(
            self.group_prefix or self.group_filter or self.staff_users or self.staff_provider_groups
        )

    # -- start-up checks -----------------------------------------------------------------

    def allow_rules(self) -> dict[str, Any]:
        """Allow rules that restrict who gets in; ``allow_all`` would make them meaningless."""
        return {"allowed_groups": self._trait_or_empty("allowed_groups")}

    def _trait_or_empty(self, name: str):
        """A trait that oauthenticator has and JupyterHub's base Authenticator lacks."""
        return getattr(self, name, None) or set()

    def configuration_problems(self) -> list[str]:
        """Settings that cannot work as the admin meant them. Empty when all is well."""
        problems = list(rules.username_map_problems(self.username_map))
        for name in rules.ignored_allow_rules(self.allow_all, self.allow_rules()):
            problems.append(
                f"allow_all = True lets everyone who can sign in use the hub, so {name} would "
                f"be ignored; set allow_all = False or remove {name}"
            )
        keep = rules.compile_group_filter(self.group_filter)
        for trait in ("allowed_groups", "admin_groups"):
            missing = rules.unreachable_groups(
                self._trait_or_empty(trait),
                prefix=self.group_prefix,
                keep=keep,
                staff_group=self.staff_group,
            )
            if missing:
                problems.append(
                    f"{trait} {missing} can never match: provider groups become hub groups "
                    f"named {self.group_prefix!r} + the provider's name, and only those "
                    f"matching group_filter {list(self.group_filter)} are kept"
                )
        wants_groups = self._trait_or_empty("allowed_groups") or self._trait_or_empty(
            "admin_groups"
        )
        if wants_groups and not self.manage_groups:
            problems.append("allowed_groups and admin_groups need manage_groups = True")
        return problems

    def check_allow_config(self):
        super().check_allow_config()
        problems = self.configuration_problems()
        if problems:
            raise rules.ConfigurationError(f"{type(self).__name__}: " + "; ".join(problems))
        # JupyterHub revokes blocked users' rights at start by name: use the names people get
        self.blocked_users = {self.normalize_username(name) for name in self.blocked_users}

    # -- usernames -----------------------------------------------------------------------

    def normalize_username(self, username):
        return rules.normalize_username(username, rules.canonical_username_map(self.username_map))

    def validate_username(self, username):
        if not super().validate_username(username):
            return False
        return rules.username_problem(username, self.max_username_length) is None

    def _normalized(self, names) -> set[str]:
        return {self.normalize_username(name) for name in names}

    # -- the flow ------------------------------------------------------------------------

    async def authenticate(self, handler, data=None, **kwargs):
        try:
            model = await maybe_future(super().authenticate(handler, data, **kwargs))
            if model is None:
                return None
            if isinstance(model, str):
                model = {"name": model}
            name = self.normalize_username(model["name"])
            return await self.managed_auth_model(model, lambda: self._was_staff(handler, name))
        except LoginProblem as problem:
            leave_problem(problem, handler)
        except HTTPClientError as e:
            leave_problem(self._provider_error(e, "signing in"), handler)
        except (OSError, asyncio.TimeoutError) as e:
            leave_problem(self._unavailable("signing in", "", e), handler)
        except web.HTTPError as e:
            self.log.warning("Sign-in stopped: %s", e)
            leave_problem(
                LoginFailed(
                    "The sign-in could not be completed. Please start again from the sign-in page.",
                    status_code=400 if e.status_code < 500 else 502,
                    detail=e.get_message() or "",
                ),
                handler,
            )
        except (ValueError, KeyError, TypeError) as e:
            # the details (which may quote the provider's answer) go to the log only
            self.log.exception("The identity provider's answer could not be used: %s", e)
            leave_problem(
                LoginFailed(
                    "The sign-in service gave an answer this hub cannot use.", status_code=502
                ),
                handler,
            )
        return None

    async def refresh_user(self, user, handler=None, **kwargs):
        if user.name == self.normalize_username(self.health_check_user):
            return True  # made by the health service, never logs in: nothing to refresh
        if self.refusal_for(user.name) is not None:
            return False  # a new login, which refuses them with a page
        try:
            result = await maybe_future(super().refresh_user(user, handler, **kwargs))
        except ProviderUnavailable:
            self.log.warning("Kept %s's session: the identity provider is not answering", user.name)
            return True
        if isinstance(result, dict):
            try:
                result = await self.managed_auth_model(
                    result, lambda: any(g.name == self.staff_group for g in user.groups)
                )
            except LoginProblem:
                return False
        return result
