"""Who gets in: the refusals no allow rule overrides, then upstream's allow rules, and what
each refused person is told.

The health check user and blocked users are refused first, whatever else would let them in;
then upstream's own ``check_blocked_users`` and ``check_allowed``. A refusal, or a provider
that fails while memberships are checked, is kept for the login's handler
(:func:`leave_problem`), which shows it as a page; the upstream contracts stay (``False``
for anyone refused, ``None`` from a login that gave no user).
"""

from __future__ import annotations

from contextvars import ContextVar

from jupyterhub.utils import maybe_future
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import HasTraits

from . import rules
from .pages import LoginFailed, LoginProblem, LoginRefused, leave_behind

#: what went wrong in the login under way, for the handler to show (see ``leave_problem``)
_PROBLEMS: ContextVar[list[LoginProblem] | None] = ContextVar("jhm_login_problems", default=None)


class AccessChecks(HasTraits):
    """Part of :class:`~jhub_managed.authenticators.ManagedAuthenticatorMixin`: blocked,
    allowed, and the message for each refusal."""

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
