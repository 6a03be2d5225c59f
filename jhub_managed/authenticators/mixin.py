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
JupyterHub's and oauthenticator's hooks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlparse, urlunparse

from jupyterhub import orm
from jupyterhub.utils import maybe_future
from sqlalchemy import bindparam, select
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import Bool, Float, Integer, List, Set, Unicode, default, observe, validate
from traitlets.config import LoggingConfigurable

from ..store.attribution import DEFAULT_CHECK_USER
from . import rules
from .pages import (
    LoginFailed,
    LoginProblem,
    LoginRefused,
    ManagedOAuthCallbackHandler,
    ProviderUnavailable,
    leave_behind,
)

#: what went wrong in the login under way, for the handler to show (see ``leave_problem``)
_PROBLEMS: ContextVar[list[LoginProblem] | None] = ContextVar("jhm_login_problems", default=None)

#: is this user in this group? Built once: a login asks it at most once, cheaply.
_IN_GROUP = (
    select(orm.User.id)
    .join(orm.User.groups)
    .where(orm.User.name == bindparam("user"), orm.Group.name == bindparam("group"))
    .limit(1)
)


def _without_query(url: str) -> str:
    return urlunparse(urlparse(url)._replace(query="", fragment=""))


class ManagedAuthenticatorMixin(LoggingConfigurable):
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

    # -- upstream's messages, naming upstream's class ------------------------------------

    def upstream_class_name(self) -> str:
        """The oauthenticator class this one is a drop-in for (``GitHubOAuthenticator``)."""
        for cls in type(self).__mro__:
            if not cls.__module__.startswith("jhub_managed"):
                return cls.__name__
        return type(self).__name__  # pragma: no cover

    @contextmanager
    def upstream_names(self) -> Iterator[None]:
        """Upstream's checks and deprecation messages, as upstream's class says them.

        oauthenticator names the instance's class in them; the options belong to the
        upstream class (``c.GitHubOAuthenticator``), and its versions are upstream's.
        """
        ours, theirs = type(self).__name__, self.upstream_class_name()
        log = self.log
        self.log = _Renaming(log, ours, theirs)
        try:
            yield
        except ValueError as e:
            if ours in str(e):
                raise type(e)(str(e).replace(ours, theirs)) from None
            raise
        finally:
            self.log = log

    def _deprecated_oauth_trait(self, change):
        with self.upstream_names():
            super()._deprecated_oauth_trait(change)

    @observe("allowed_groups", "admin_groups", "auth_state_groups_key")
    def _requires_manage_groups(self, change):
        upstream = getattr(super(), "_requires_manage_groups", None)
        if upstream is not None:
            with self.upstream_names():
                upstream(change)

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

    # -- blocked, allowed ----------------------------------------------------------------

    def refusal_for(self, username: str) -> LoginRefused | None:
        """The refusal that no allow rule can override, if ``username`` has one."""
        shown = rules.shorten(username)
        if username == self.normalize_username(self.health_check_user):
            return LoginRefused(
                "health-check",
                f"{shown} is reserved for the hub's automatic health checks; "
                "nobody can sign in as it.",
            )
        if username in self._normalized(self.blocked_users):
            return LoginRefused("blocked", f"The account {shown} is blocked from this hub.")
        return None

    async def check_blocked_users(self, username, authentication=None):
        refusal = self.refusal_for(username)
        if refusal is not None:
            self.log.warning("Refused login of %r: %s", rules.shorten(username), refusal.why)
            leave_problem(refusal)
            return False
        if not await maybe_future(super().check_blocked_users(username, authentication)):
            leave_problem(LoginRefused("blocked", "This account is blocked from this hub."))
            return False
        return True

    async def check_allowed(self, username, authentication=None):
        if authentication and authentication.get("admin"):
            # admin_users, admin_groups or staff; blocked users were refused before this
            return True
        try:
            allowed = await maybe_future(super().check_allowed(username, authentication))
        except LoginProblem as problem:
            leave_problem(problem)
            return False
        except HTTPClientError as e:
            leave_problem(self._provider_error(e, "checking memberships"))
            return False
        except web.HTTPError as e:
            leave_problem(
                LoginFailed(
                    "The sign-in service's answer could not be used to check your access.",
                    status_code=502,
                    detail=e.get_message() or "",
                )
            )
            return False
        if not allowed:
            self.log.warning("Refused login of %r: not allowed", rules.shorten(username))
            leave_problem(LoginRefused("not-allowed", self.not_allowed_message(username)))
            return False
        return True

    def not_allowed_message(self, username: str) -> str:
        """What someone who signed in but is not allowed is told.

        ``custom_403_message``, when the hub sets one (oauthenticator's option), else a
        sentence naming the account and what it is not in.
        """
        trait = self.traits().get("custom_403_message")
        if trait is not None and self.custom_403_message != trait.default_value:
            return self.custom_403_message
        return (
            f"You signed in as {rules.shorten(username)}, but this account is not in "
            f"{self.allow_rule_description}."
        )

    # -- groups, staff, admin ------------------------------------------------------------

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

    # -- the flow ------------------------------------------------------------------------

    async def get_authenticated_user(self, handler, data):
        """JupyterHub's login sequence, unchanged; what stopped it is left on ``handler``."""
        problems: list[LoginProblem] = []
        token = _PROBLEMS.set(problems)
        try:
            model = await super().get_authenticated_user(handler, data)
        finally:
            _PROBLEMS.reset(token)
        if model is None and problems and handler is not None:
            leave_behind(handler, problems[0])
        return model

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

    # -- talking to the provider ---------------------------------------------------------

    async def httpfetch(self, url, label="fetching", parse_json=True, raise_error=True, **kwargs):
        for timeout in ("connect_timeout", "request_timeout"):
            if timeout not in self.http_request_kwargs:
                kwargs.setdefault(timeout, self.provider_timeout)
        try:
            response = await super().httpfetch(url, label, parse_json, raise_error, **kwargs)
        except LoginProblem:
            raise
        except HTTPClientError as e:
            if e.code == 599 or e.code >= 500:
                raise self._unavailable(label, url, e) from None
            raise
        except (OSError, asyncio.TimeoutError) as e:
            raise self._unavailable(label, url, e) from None
        except ValueError as e:  # not JSON: an error page from a proxy in front of it
            raise self._unavailable(label, url, f"an answer that is not JSON ({e})") from None
        code = getattr(response, "code", 200)
        if not parse_json and (code == 599 or code >= 500):
            raise self._unavailable(label, url, f"HTTP {code}")
        return response

    def _unavailable(self, label: str, url: str, cause: Any) -> ProviderUnavailable:
        where = f" {_without_query(url)}" if url else ""
        self.log.error(
            "Identity provider %s did not answer (%s%s): %s",
            self.login_service,
            label,
            where,
            cause,
        )
        return ProviderUnavailable(self.login_service)

    def _provider_error(self, error: HTTPClientError, label: str) -> LoginProblem:
        if error.code == 599 or error.code >= 500:
            return self._unavailable(label, "", error)
        self.log.warning("Identity provider refused a request while %s: %s", label, error)
        return LoginFailed(
            "The sign-in service did not accept this sign-in (it may have been used already). "
            "Please start again from the sign-in page.",
            detail=f"HTTP {error.code}",
        )


class _Renaming(logging.LoggerAdapter):
    """A logger whose messages name one class instead of another."""

    def __init__(self, logger, ours: str, theirs: str):
        super().__init__(logger, {})
        self.ours, self.theirs = ours, theirs

    def process(self, msg, kwargs):
        return str(msg).replace(self.ours, self.theirs), kwargs


def leave_problem(problem: LoginProblem, handler=None) -> None:
    """Keep ``problem`` for the handler of the login under way, which shows it.

    Inside :meth:`ManagedAuthenticatorMixin.get_authenticated_user` it is kept for the end
    of the login (the first one wins); ``authenticate`` called on its own leaves it on
    ``handler`` directly. Outside a login (a direct ``check_allowed`` call) nothing keeps it.
    """
    problems = _PROBLEMS.get()
    if problems is not None:
        problems.append(problem)
    elif handler is not None:
        leave_behind(handler, problem)
