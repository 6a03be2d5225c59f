"""What the hub-managed services share.

A tornado application behind JupyterHub's OAuth (``HubOAuth``), one authorisation policy
(:meth:`BaseHandler.authorize`, :func:`require_scope`; see :mod:`.access`), the same security
headers on every answer (:data:`SECURITY_HEADERS`), pages that extend the hub's own
``page.html`` so a service looks like the hub, JSON error bodies on API routes, structured
(JSON-lines) logs, and a clean stop on SIGTERM or SIGINT.

A service is a :class:`ServiceApp` subclass: ``init_service()`` builds its state once, and
``handlers()`` lists its routes as ``(path, handler, kwargs)``; each handler takes what it
uses from those kwargs in its ``initialize()``, never from the application object.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, ClassVar, TypeVar

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.log import access_log
from traitlets import Instance, Integer, Unicode, default
from traitlets.config import Application

from ..compat.jupyterhub import DATA_FILES_PATH, request_user_model
from ..options.errors import ConfigureError
from ..options.managedhub import ManagedHub
from .access import grants, missing_scope_message, not_logged_in_message
from .bodylimit import MAX_REQUEST_BODY, BoundedHTTPServer
from .cookies import cookie_secret_for
from .listen import take as take_early_socket
from .logs import JSONLogFormatter

HUB_TEMPLATES = os.path.join(DATA_FILES_PATH, "templates")
HUB_STATIC = os.path.join(DATA_FILES_PATH, "static")
OUR_TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates")

#: the headers on every answer of every service: pages, API answers, metrics, error pages
#: (the 413 of an over-large body too). No framing by other sites (clickjacking), no
#: guessing of content types, no full URLs in the Referer header to other sites, and no
#: copies kept by browsers or proxies (pages show settings, usage and health of the hub).
SECURITY_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SecurityHeaders(web.RequestHandler):
    """Every handler of every service: :data:`SECURITY_HEADERS` on every answer (tornado
    sets them again after clearing for an error page)."""

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)


class PageUser:
    """The bits of the hub's user object that ``page.html`` uses."""

    def __init__(self, model: Mapping[str, Any]):
        self.model = dict(model)
        self.name = model["name"]
        self.json_escaped_name = json.dumps(self.name)[1:-1]
        self.admin = bool(model.get("admin"))
        self.groups = list(model.get("groups") or [])
        self.scopes = set(model.get("scopes") or [])


class BaseHandler(HubOAuthenticated, SecurityHeaders):
    """A page of a service, as a logged-in hub user sees it."""

    @property
    def service(self) -> ServiceApp:
        """The service, for what every page shares (its name, prefix, templates, log); what
        a route itself uses comes through its ``initialize()``."""
        return self.settings["service_app"]

    @property
    def log(self) -> logging.Logger:
        return self.service.log

    def check_xsrf_cookie(self) -> None:
        """Tornado checks XSRF before ``prepare()``, before HubOAuth has looked at a token.
        Identify a token first, so that token-authenticated API calls are exempt (as HubOAuth
        means them to be) and cookie-authenticated ones are not."""
        if self.hub_auth.get_token(self, in_cookie=False):
            _ = self.current_user
        super().check_xsrf_cookie()

    # -- permissions: what the token of this request may do -------------------------------------

    def token_without_access(self) -> dict | None:
        """Who sent a valid token that may not use this service at all (``None`` otherwise).

        HubOAuth treats such a request as anonymous; this tells it apart, so that the answer
        can name the missing permission instead of asking for a login.
        """
        if self.current_user is not None or not self.hub_auth.get_token(self, in_cookie=False):
            return None
        try:
            return self.hub_auth.get_user(self)
        except Exception:
            return None

    def authorize(self, *any_of: str, refusal: str = "") -> bool:
        """Refuse this request unless its token carries one of ``any_of`` (none: unless it
        comes with a login or token). The policy of every service: see :mod:`.access`.

        No login: a page asked for with GET or HEAD is sent to the hub's login (``False`` is
        returned: the request is answered); anything else gets 403 saying what is needed. A
        login or token without the scope gets 403: ``refusal`` (who may, in words), then the
        missing permission.
        """
        if self.current_user is None:
            if self.token_without_access() is not None:
                access = f"access:services!service={self.service.service_name}"
                message = missing_scope_message(access, *any_of[:1])
                raise web.HTTPError(403, f"{refusal} {message}".strip())
            if self.request.method in ("GET", "HEAD") and not isinstance(self, APIHandler):
                self.redirect(self.get_login_url())
                return False
            raise web.HTTPError(403, not_logged_in_message(*any_of))
        if not grants(self.current_user, any_of):
            self.log.warning(
                "%s %s refused: the token lacks %s",
                self.request.method,
                self.request.path,
                " or ".join(any_of),
                extra={"event": "scope.missing", "scope": " ".join(any_of)},
            )
            message = missing_scope_message(*any_of, either=True)
            raise web.HTTPError(403, f"{refusal} {message}".strip())
        return True

    def page_user(self) -> PageUser | None:
        model = self.current_user
        return PageUser(model) if model else None

    def hub_static_url(self, path: str, include_version: bool = True) -> str:
        return url_path_join(self.service.prefix, "hub-static", path)

    def template_namespace(self) -> dict[str, Any]:
        hub_base = url_path_join(self.service.hub_prefix)
        return {
            "base_url": hub_base,
            "prefix": self.service.base_url,
            "service_prefix": self.service.prefix,
            "user": self.page_user(),
            "login_url": url_path_join(hub_base, "login"),
            "logout_url": url_path_join(hub_base, "logout"),
            "static_url": self.hub_static_url,
            "version_hash": "",
            "services": [],
            "parsed_scopes": {},
            "expanded_scopes": set(),
            "xsrf": self.xsrf_token.decode("ascii"),
            "xsrf_token": self.xsrf_token.decode("ascii"),
            "no_spawner_check": True,
            "service_name": self.service.service_name,
            "service_title": self.service.title,
            "hub_title": self.service.hub_title(),
        }

    def render_template(self, name: str, **ns: Any) -> str:
        context = self.template_namespace()
        context.update(ns)
        return self.service.jinja_env.get_template(name).render(**context)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = _error_message(status_code, kwargs.get("exc_info"))
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(
            self.render_template(
                "service/error.html",
                status_code=status_code,
                status_message=HTTPStatus(status_code).phrase
                if status_code in HTTPStatus._value2member_map_
                else "Error",
                message=message,
            )
        )


class APIHandler(BaseHandler):
    """An API route: JSON in, JSON out, JSON errors."""

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        body = getattr(self, "_error_body", None) or {
            "status": status_code,
            "message": _error_message(status_code, kwargs.get("exc_info")),
        }
        self.finish(json.dumps(body))


_Method = TypeVar("_Method", bound=Callable[..., Any])


def require_scope(
    *scopes: str | Callable[[Any], str], refusal: str = ""
) -> Callable[[_Method], _Method]:
    """Decorate a handler method: it runs only when :meth:`BaseHandler.authorize` admits the
    request, that is when its token carries one of ``scopes`` (none: when it has a login).

    .. code-block:: python

        class ReportAPI(APIHandler):
            @require_scope("custom:jhub-managed:usage-reports")
            async def get(self): ...

    A scope may be a function of the handler, for a scope the route is given:
    ``@require_scope(lambda handler: handler.usage_scope)``. Without the scope the answer is
    403 naming it; without a login, pages asked for with GET go to the hub's login and
    anything else gets 403.
    """

    def decorate(method: _Method) -> _Method:
        @functools.wraps(method)
        def checked(self: BaseHandler, *args: Any, **kwargs: Any) -> Any:
            needed = tuple(scope(self) if callable(scope) else scope for scope in scopes)
            if not self.authorize(*needed, refusal=refusal):
                return None
            return method(self, *args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def _error_message(status_code: int, exc_info: Any) -> str:
    if exc_info:
        exc = exc_info[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            return exc.log_message % exc.args if exc.args else exc.log_message
    if status_code == 403:
        return "You do not have permission to use this page."
    if status_code == 404:
        return "There is nothing here."
    if status_code >= 500:
        return "Something went wrong on our side. It has been logged."
    return HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else ""


class NotFoundHandler(BaseHandler):
    def prepare(self):
        raise web.HTTPError(404)


class ServiceApp(Application):
    """Base application of a jhub-managed service. Subclasses add ``handlers()``."""

    service_name: ClassVar[str] = "service"
    title: ClassVar[str] = "Service"

    def hub_title(self) -> str:
        """The hub's name in the browser's tab (services with the settings at hand say the
        organization's name instead)."""
        return self.managed_hub.hub_name

    ip = Unicode("127.0.0.1", config=True, help="Address to listen on.")
    port = Integer(0, config=True, help="Port to listen on; 0 takes the one in the service URL.")
    aliases = {
        "ip": "ServiceApp.ip",
        "port": "ServiceApp.port",
        "log-level": "Application.log_level",
    }
    flags: ClassVar[dict] = {}

    managed_hub = Instance(
        ManagedHub,
        help="""The suite's options: the hub's ``ManagedHub``, rebuilt from
        ``$JHUB_MANAGED_CONFIG`` through the same validation as at hub start.""",
    )
    max_request_body = Integer(
        MAX_REQUEST_BODY,
        config=True,
        help="Largest request body, in bytes; a larger one is answered with 413.",
    )

    @default("managed_hub")
    def _default_managed_hub(self):
        return ManagedHub.from_environment()

    @property
    def prefix(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{self.service_name}/")

    @property
    def base_url(self) -> str:
        return os.environ.get("JUPYTERHUB_BASE_URL", "/")

    @property
    def hub_prefix(self) -> str:
        return url_path_join(self.base_url, "hub/")

    def init_logging(self) -> None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JSONLogFormatter())
        root = logging.getLogger()
        root.handlers = [handler]
        root.setLevel(self.log_level)
        self.log = logging.getLogger(f"jhub_managed.services.{self.service_name}")
        self.log.setLevel(self.log_level)
        for name in ("tornado.access", "tornado.application", "tornado.general"):
            logging.getLogger(name).setLevel(self.log_level)

    def init_jinja(self) -> None:
        self.jinja_env = Environment(
            loader=ChoiceLoader(
                [
                    FileSystemLoader([OUR_TEMPLATES, HUB_TEMPLATES]),
                    PrefixLoader({"templates": FileSystemLoader([HUB_TEMPLATES])}),
                ]
            ),
            autoescape=select_autoescape(default=True),
        )

    def handlers(self) -> list[tuple]:  # pragma: no cover - subclasses
        raise NotImplementedError

    def make_app(self) -> web.Application:
        self.hub_auth = HubOAuth(cache_max_age=60)
        prefix = self.prefix
        routes = [
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
            (
                url_path_join(prefix, "hub-static/(.*)"),
                web.StaticFileHandler,
                {"path": HUB_STATIC},
            ),
        ]
        routes += [(url_path_join(prefix, path), *rest) for path, *rest in self.handlers()]
        routes.append((url_path_join(prefix, ".*"), NotFoundHandler))
        return web.Application(
            routes,
            hub_auth=self.hub_auth,
            service_app=self,
            cookie_secret=self.cookie_secret(),
            xsrf_cookies=True,
            login_url=self.hub_auth.login_url,
            log_function=self.log_request,
            default_handler_class=NotFoundHandler,
        )

    def cookie_secret(self) -> bytes:
        """Stable across restarts: see :func:`cookie_secret_for`."""
        return cookie_secret_for(self.service_name, self.managed_hub.data_dir)

    def log_request(self, handler: web.RequestHandler) -> None:
        status = handler.get_status()
        level = logging.INFO if status < 400 else logging.WARNING
        if status >= 500:
            level = logging.ERROR
        user = request_user_model(handler)
        access_log.log(
            level,
            "%d %s %s",
            status,
            handler.request.method,
            handler.request.uri.split("?")[0],
            extra={
                "status": status,
                "method": handler.request.method,
                "path": handler.request.path,
                "user": (user or {}).get("name", ""),
                "duration_ms": round(1000 * handler.request.request_time(), 1),
            },
        )

    def listen_address(self) -> tuple[str, int]:
        port = self.port
        if not port:
            from urllib.parse import urlparse

            url = os.environ.get("JUPYTERHUB_SERVICE_URL", "")
            port = urlparse(url).port or 10100
        return self.ip, port

    def initialize(self, argv=None) -> None:
        super().initialize(argv)
        self.managed_hub  # noqa: B018 - the options first: a wrong one stops the service here
        self.init_logging()
        self.init_jinja()
        self.init_service()

    def init_service(self) -> None:
        """Subclasses set up their state here (stores, caches)."""

    async def cleanup(self) -> None:
        """Subclasses release their state here."""

    async def run(self) -> None:
        app = self.make_app()
        ip, port = self.listen_address()
        # no request to a service needs more than a settings document (1 MB) and some room;
        # a larger one gets a 413 that says the limit
        server = BoundedHTTPServer(
            app,
            xheaders=True,
            max_request_body=self.max_request_body,
            answer_headers=SECURITY_HEADERS,
        )
        early = take_early_socket(ip, port)
        if early is not None:
            server.add_sockets([early])
        else:
            server.listen(port, ip)
        self.log.info(
            "%s service listening on %s:%d at %s", self.service_name, ip, port, self.prefix
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # set our own handlers: a hub started in the background may hand us an
            # ignored SIGINT
            signal.signal(sig, signal.SIG_DFL)
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        self.log.info("%s service stopping", self.service_name)
        server.stop()
        await asyncio.wait_for(server.close_all_connections(), timeout=5)
        await self.cleanup()

    @classmethod
    def launch(cls, argv: list[str] | None = None) -> None:
        app = cls.instance()
        try:
            app.initialize(argv)
        except ConfigureError as e:  # one line that names the option, as the hub says it
            raise SystemExit(f"jhub-managed {cls.service_name} service: {e}") from None
        asyncio.run(app.run())
