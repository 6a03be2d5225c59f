"""Clear pages for a login that does not go through: refused, provider down, or failed.

The authenticators keep upstream's contract (``None`` for anyone who does not get in) and
leave a :class:`LoginProblem` on the request's handler (:func:`leave_behind`); the login and
OAuth callback handlers raise it when the login gave no user, and render it with
``jhm-login-problem.html`` (in ``jhub_managed/templates/hub``), saying why and whom to
contact, the way oauthenticator's callback shows ``custom_403_message``. Without that
template (a hub not set up with ``configure()``) JupyterHub's own error page shows the same
message.
"""

from __future__ import annotations

from jinja2 import TemplateNotFound
from jupyterhub.handlers.login import LoginHandler
from oauthenticator.oauth2 import OAuthCallbackHandler
from tornado import web

from ..compat.jupyterhub import resolve_scopes_before_prepare
from ..compat.oauthenticator import deserialize_state
from .rules import shorten

TEMPLATE = "jhm-login-problem.html"

TITLES = {
    "refused": "You cannot use this hub with this account",
    "unavailable": "The sign-in service is not answering",
    "failed": "Sign-in did not complete",
}


class LoginProblem(web.HTTPError):
    """A login that stops with a page for the person, not a stack trace."""

    kind = "failed"

    def __init__(
        self,
        status_code: int,
        why: str,
        message: str,
        *,
        detail: str = "",
        headers: dict[str, str] | None = None,
    ):
        super().__init__(status_code, "%s", message)
        #: a short code for the reason, e.g. ``blocked`` (``data-reason`` on the page)
        self.why = why
        self.message = message
        self.detail = detail
        self.headers = headers or {}
        # what JupyterHub's own error page shows, when ours is not installed
        self.jupyterhub_message = f"{message} {detail}".strip()

    @property
    def title(self) -> str:
        return TITLES[self.kind]


class LoginRefused(LoginProblem):
    """The person authenticated, but may not use this hub (403)."""

    kind = "refused"

    def __init__(self, why: str, message: str, *, detail: str = ""):
        super().__init__(403, why, message, detail=detail)


class ProviderUnavailable(LoginProblem):
    """The identity provider did not answer, or answered with a server error (503)."""

    kind = "unavailable"

    def __init__(self, service: str, detail: str = ""):
        super().__init__(
            503,
            "provider-unavailable",
            f"{service} did not answer when this hub asked it who you are. This is usually "
            "temporary: please try again in a few minutes.",
            detail=detail,
            headers={"Retry-After": "60"},
        )


class LoginFailed(LoginProblem):
    """The sign-in went wrong on the way (a used code, a refused consent, a bad answer)."""

    kind = "failed"

    def __init__(self, message: str, *, status_code: int = 400, detail: str = ""):
        super().__init__(status_code, "failed", message, detail=shorten(detail, 300))


#: the handler attribute where a login's problem is left for the handler to show
PROBLEM_ATTRIBUTE = "jhub_managed_login_problem"


def leave_behind(handler, problem: LoginProblem) -> None:
    """Leave ``problem`` on ``handler`` for :class:`LoginProblemPages` to show."""
    try:
        setattr(handler, PROBLEM_ATTRIBUTE, problem)
    except AttributeError:  # a handler that takes no attributes: JupyterHub's own page
        pass


def left_behind(handler) -> LoginProblem | None:
    """The problem a login left on ``handler``, if any."""
    return getattr(handler, PROBLEM_ATTRIBUTE, None)


class LoginProblemPages:
    """Handler mixin: a login that gave no user and left a :class:`LoginProblem` shows it
    with our page; anything else as before."""

    async def login_user(self, data=None):
        setattr(self, PROBLEM_ATTRIBUTE, None)
        user = await super().login_user(data)
        problem = left_behind(self)
        if user is None and problem is not None:
            raise problem
        return user

    def write_error(self, status_code, **kwargs):
        exc_info = kwargs.get("exc_info")
        problem = exc_info[1] if exc_info else None
        if isinstance(problem, LoginProblem):
            try:
                self._write_login_problem(problem)
                return
            except TemplateNotFound:
                pass  # not set up with configure(): JupyterHub's page, with our message
            except Exception:
                self.log.exception("Could not render the login problem page")
        super().write_error(status_code, **kwargs)

    def _write_login_problem(self, problem: LoginProblem) -> None:
        # an error before prepare(): what JupyterHub 6.1's own write_error does too
        resolve_scopes_before_prepare(self)
        html = self.render_template(
            TEMPLATE,
            sync=True,
            problem=problem,
            status_code=problem.status_code,
            contact=getattr(self.authenticator, "contact", ""),
        )
        for name, value in problem.headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.write(html)


class ManagedOAuthCallbackHandler(LoginProblemPages, OAuthCallbackHandler):
    """OAuth callback whose failures (state, denied consent, refusals) are clear pages."""

    def check_arguments(self):
        try:
            super().check_arguments()
            # oauthenticator compares the state ids only: two unreadable states match too
            if not deserialize_state(self.get_state_cookie()).get("state_id"):
                raise web.HTTPError(400, "OAuth state unreadable")
        except LoginProblem:
            raise
        except web.HTTPError as e:
            raise LoginFailed(
                "The sign-in could not be completed. Please start again from the sign-in page.",
                status_code=e.status_code,
                detail=e.get_message() or "",
            ) from None


class ManagedLoginHandler(LoginProblemPages, LoginHandler):
    """The login form, with refusals shown on their own page."""
