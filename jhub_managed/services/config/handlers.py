"""What every route of the settings service shares: who may use it, and XSRF.

Every route, read or write, needs the settings scope on the request's token (the one
policy of the services, :mod:`jhub_managed.services.access`): hub admins hold it through
their role, members of ``settings_editor_groups`` through their group's.
"""

from __future__ import annotations

from concurrent.futures import Executor
from functools import partial
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from tornado import web
from tornado.ioloop import IOLoop

from ...compat.jupyterhub import token_from_cookie
from ..base import BaseHandler, PageUser
from .editor import SettingsEditor, author_of

NOT_EDITOR = (
    "Only hub admins and people with the settings permission can change this hub's settings."
)
XSRF_REFUSED = (
    "This request was refused because it did not come from the settings pages of this hub "
    "(its XSRF token was missing or wrong). Reload the page and try again."
)
STORE_DOWN = (
    "The settings store can't be reached just now, so this could not be done; nothing was "
    "changed. Servers keep starting with the last settings the hub read. Try again in a "
    "minute; if this goes on, tell the hub's operator."
)


def is_store_error(error: BaseException | None) -> bool:
    """Whether ``error`` says the settings store (its database) could not be used."""
    return isinstance(error, SQLAlchemyError)


class EditorHandler(BaseHandler):
    """A route only for settings editors; everyone else gets 403, on every method.

    The application hands each route what it uses (``initialize``): the editor, the scope
    that grants the service, and the one thread that saves.
    """

    def initialize(self, editor: SettingsEditor, settings_scope: str, writer: Executor) -> None:
        self.editor = editor
        self.settings_scope = settings_scope
        self.writer = writer

    def check_xsrf_cookie(self) -> None:
        """The base identifies a token first; a refusal here is logged and explained."""
        try:
            super().check_xsrf_cookie()
        except web.HTTPError as e:
            if e.status_code == 403:
                self.log.warning(
                    "XSRF check failed on %s %s",
                    self.request.method,
                    self.request.path,
                    extra={"event": "xsrf.refused"},
                )
                raise web.HTTPError(403, XSRF_REFUSED) from None
            raise

    def page_user(self):
        """Who the refusal page is for. A form post refused for its XSRF token is not
        authenticated by its cookie, but the person is still logged in: the page shows their
        name (and no Login button). Only shown, never used to act."""
        user = super().page_user()
        if user is not None or self.request.method in ("GET", "HEAD"):
            return user
        try:
            token = token_from_cookie(self.hub_auth, self)
            if not token:
                return None
            model = self.hub_auth.user_for_token(
                token, session_id=self.hub_auth.get_session_id(self), sync=True
            )
        except Exception:  # the page is shown without a name then
            return None
        return PageUser(model) if model else None

    async def run_blocking(self, func, *args, **kwargs):
        """Run a write in the service's one writer thread: writes are checked one after
        another, so a write that lost the race learns it at once instead of validating."""
        return await IOLoop.current().run_in_executor(self.writer, partial(func, *args, **kwargs))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """A store that can't be reached is a clear 503, not "something went wrong"."""
        exc_info = kwargs.get("exc_info")
        if status_code == 500 and exc_info and is_store_error(exc_info[1]):
            status_code = 503
            error = web.HTTPError(503, STORE_DOWN)
            kwargs["exc_info"] = (web.HTTPError, error, None)
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ, value, tb) -> None:
        if is_store_error(value):
            self.log.error(
                "%s %s: the settings store can't be used: %s",
                self.request.method,
                self.request.path,
                str(value).splitlines()[0][:300],
                extra={"event": "store.unreachable"},
            )
            return
        super().log_exception(typ, value, tb)

    @property
    def author(self) -> str:
        return author_of(self.current_user or {})

    def prepare(self):
        super().prepare()
        # every method, reading too: the token of this request must carry the settings
        # scope; being a hub admin is not enough (a token made with fewer scopes stays limited)
        self.authorize(self.settings_scope, refusal=NOT_EDITOR)
