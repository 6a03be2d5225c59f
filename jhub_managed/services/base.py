"""What the hub-managed services share.

A tornado application behind JupyterHub's OAuth (``HubOAuth``), pages that extend the hub's
own ``page.html`` so a service looks like the hub, JSON error bodies on API routes, structured
(JSON-lines) logs, and a clean stop on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, ClassVar, TypeVar

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import httputil, web
from tornado.httpserver import HTTPServer
from tornado.log import access_log
from traitlets import Instance, Integer, Unicode, default
from traitlets.config import Application

from ..compat.jupyterhub import DATA_FILES_PATH, request_user_model
from ..options.errors import ConfigureError
from ..options.managedhub import ManagedHub
from .listen import take as take_early_socket

HUB_TEMPLATES = os.path.join(DATA_FILES_PATH, "templates")
HUB_STATIC = os.path.join(DATA_FILES_PATH, "static")
OUR_TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates")
#: largest request body a service takes; larger ones get a 413 that says so
MAX_REQUEST_BODY = 4 * 1024 * 1024
#: what a service reads and throws away to answer a larger body with its 413 (a body beyond
#: this ends the connection, as tornado does)
DISCARD_BODY_LIMIT = 1024 * 1024 * 1024


class JSONLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    _skip = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._skip and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


#: a hex key (at least 32 bytes) from which every service's cookie secret is derived
COOKIE_SECRET_ENV = "JHUB_MANAGED_COOKIE_SECRET"  # noqa: S105 - a variable name


class CookieSecretError(ValueError):
    """The service's cookie secret can't be had; the message says why and what to do."""


def cookie_secret_for(
    service_name: str, data_dir: str, environ: Mapping[str, str] = os.environ
) -> bytes:
    """The service's cookie secret, the same at every start, so a restart logs no one out.

    From ``$JHUB_MANAGED_COOKIE_SECRET`` (hex; each service gets its own key derived from
    it), else from the file ``jhub-managed-<service>-cookie-secret`` in ``data_dir``, made
    (readable by its owner only) at the service's first start.
    """
    shared = environ.get(COOKIE_SECRET_ENV, "").strip()
    if shared:
        try:
            key = bytes.fromhex(shared)
        except ValueError:
            raise CookieSecretError(
                f"${COOKIE_SECRET_ENV} must be hexadecimal (e.g. from `openssl rand -hex 32`)"
            ) from None
        if len(key) < 32:
            raise CookieSecretError(
                f"${COOKIE_SECRET_ENV} is {len(key)} bytes long; at least 32 are needed"
            )
        return hmac.new(key, f"jhub-managed-service:{service_name}".encode(), "sha256").digest()
    path = os.path.join(data_dir, f"jhub-managed-{service_name}-cookie-secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as e:
        raise CookieSecretError(f"can't create the cookie secret file {path}: {e}") from None
    else:
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
    try:
        with open(path) as f:
            secret = bytes.fromhex(f.read().strip())
    except (OSError, ValueError) as e:
        raise CookieSecretError(
            f"can't read the cookie secret file {path} ({e}); remove it to have a new one made"
        ) from None
    if len(secret) < 32:
        raise CookieSecretError(
            f"the cookie secret file {path} holds {len(secret)} bytes, not 32 or more; "
            "remove it to have a new one made"
        )
    return secret


class PageUser:
    """The bits of the hub's user object that ``page.html`` uses."""

    def __init__(self, model: Mapping[str, Any]):
        self.model = dict(model)
        self.name = model["name"]
        self.json_escaped_name = json.dumps(self.name)[1:-1]
        self.admin = bool(model.get("admin"))
        self.groups = list(model.get("groups") or [])
        self.scopes = set(model.get("scopes") or [])


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """A page of a service, as a logged-in hub user sees it."""

    @property
    def service(self) -> ServiceApp:
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

    def token_scopes(self) -> frozenset[str]:
        """The scopes of the token (or the OAuth cookie's token) this request came with.

        The hub answers them in the user model: the token's own scopes, already cut down to
        what its owner holds now. They, not the user's ``admin`` flag, decide what the request
        may do.
        """
        model = self.current_user
        return frozenset((model or {}).get("scopes") or ())

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

    def has_scope(self, scope: str) -> bool:
        return scope in self.token_scopes()

    def check_scope(self, scope: str) -> bool:
        """Refuse this request unless its token carries ``scope``.

        No login: a page asked for with GET or HEAD is sent to the hub's login (``False`` is
        returned: the request is answered); anything else gets 403 saying what is needed. A
        login or token without the scope gets 403 naming the missing permission.
        """
        if self.current_user is None:
            if self.token_without_access() is not None:
                access = f"access:services!service={self.service.service_name}"
                raise web.HTTPError(403, missing_scope_message(access, scope))
            if self.request.method in ("GET", "HEAD") and not isinstance(self, APIHandler):
                self.redirect(self.get_login_url())
                return False
            raise web.HTTPError(403, not_logged_in_message(scope))
        if not self.has_scope(scope):
            self.log.warning(
                "%s %s refused: the token lacks %s",
                self.request.method,
                self.request.path,
                scope,
                extra={"event": "scope.missing", "scope": scope},
            )
            raise web.HTTPError(403, missing_scope_message(scope))
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

    def check_referer_or_token(self) -> None:  # kept simple: XSRF/token checks are HubOAuth's
        return None

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data))

    def get_json_body(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except ValueError as e:
            raise web.HTTPError(400, f"the request body is not JSON: {e}") from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        body = getattr(self, "_error_body", None) or {
            "status": status_code,
            "message": _error_message(status_code, kwargs.get("exc_info")),
        }
        self.finish(json.dumps(body))


def missing_scope_message(*scopes: str) -> str:
    """403 for a valid login or token that lacks a permission: which one, and what to do."""
    named = " and ".join(f"'{s}'" for s in scopes)
    which = "permissions" if len(scopes) > 1 else "permission"
    return (
        f"This needs the {which} {named}, which the token of this request does not carry. "
        "Use a token that has it (a token made with a list of scopes has only those), or ask "
        "the hub's operator for it. If you were given it just now, log out of the hub and in "
        "again."
    )


def not_logged_in_message(scope: str) -> str:
    return f"Log in to the hub, or send a token with the permission '{scope}'."


_Method = TypeVar("_Method", bound=Callable[..., Any])


def require_scope(scope: str | Callable[[Any], str]) -> Callable[[_Method], _Method]:
    """Decorate a handler method: it runs only when the request's token carries ``scope``.

    .. code-block:: python

        class ReportAPI(APIHandler):
            @require_scope("custom:jhub-managed:usage-reports")
            async def get(self): ...

    ``scope`` may be a function of the handler, for a scope named in the service's
    configuration: ``@require_scope(lambda handler: handler.service.settings_scope)``. Without
    the scope the answer is 403 naming it; without a login, pages asked for with GET go to
    the hub's login and anything else gets 403.
    """

    def decorate(method: _Method) -> _Method:
        @functools.wraps(method)
        def checked(self: BaseHandler, *args: Any, **kwargs: Any) -> Any:
            if not self.check_scope(scope(self) if callable(scope) else scope):
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


class _BodyLimit(httputil.HTTPMessageDelegate):
    """Answers a request whose body is larger than ``limit`` with a 413 that says the limit.

    Tornado itself drops the connection of a request over its ``max_body_size`` without an
    answer, which the hub's proxy shows as "Your server appears to be down" (503). Here the
    server's own limit is far larger; a body over ``limit`` is read and thrown away (never
    kept), then answered. Bodies within the limit go on to the application untouched.
    """

    def __init__(
        self,
        delegate: httputil.HTTPMessageDelegate,
        connection: httputil.HTTPConnection,
        limit: int,
        log: logging.Logger,
    ):
        self.delegate = delegate
        self.connection = connection
        self.limit = limit
        self.log = log
        self.received = 0
        self.refused = False
        self.forwarded = False
        self.start_line: httputil.RequestStartLine | None = None
        self.headers: httputil.HTTPHeaders | None = None

    def headers_received(self, start_line, headers):
        self.start_line = start_line  # type: ignore[assignment]
        self.headers = headers
        length = headers.get("Content-Length", "")
        if length.strip().isdigit() and int(length) > self.limit:
            self.refused = True
            return None
        self.forwarded = True
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes):
        self.received += len(chunk)
        if not self.refused and self.received > self.limit:
            self.refused = True  # a chunked body that grew too large
        if self.refused:
            return None
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        if not self.refused:
            self.delegate.finish()
            return
        self._answer_413()

    def on_connection_close(self) -> None:
        if self.forwarded:
            self.delegate.on_connection_close()

    def _answer_413(self) -> None:
        limit_mb = self.limit / (1024 * 1024)
        message = (
            f"The request body is larger than this service takes: at most {self.limit} bytes "
            f"({limit_mb:g} MB). Nothing was changed."
        )
        path = self.start_line.path if self.start_line else ""
        accept = (self.headers or {}).get("Accept", "")
        if "/api/" in path or "text/html" not in accept:
            body = json.dumps({"status": 413, "message": message}).encode()
            content_type = "application/json; charset=utf-8"
        else:
            body = (
                "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                "<title>413 Payload Too Large</title></head><body><h1>Too large</h1>"
                f"<p>{message}</p></body></html>"
            ).encode()
            content_type = "text/html; charset=utf-8"
        self.log.warning(
            "413 %s %s: body over %d bytes",
            self.start_line.method if self.start_line else "",
            path.split("?")[0],
            self.limit,
            extra={"status": 413, "event": "request.too_large", "path": path.split("?")[0]},
        )
        self.connection.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", 413, "Payload Too Large"),
            httputil.HTTPHeaders({"Content-Type": content_type, "Content-Length": str(len(body))}),
            body,
        )
        self.connection.finish()


class BoundedHTTPServer(HTTPServer):
    """An HTTP server whose requests over ``max_request_body`` bytes get a clear 413."""

    def initialize(self, *args: Any, max_request_body: int = MAX_REQUEST_BODY, **kwargs: Any):
        kwargs.setdefault("max_body_size", DISCARD_BODY_LIMIT)
        self.max_request_body = max_request_body
        self.limit_log = logging.getLogger("jhub_managed.services")
        super().initialize(*args, **kwargs)

    def start_request(self, server_conn, request_conn):
        delegate = super().start_request(server_conn, request_conn)
        return _BodyLimit(delegate, request_conn, self.max_request_body, self.limit_log)


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
        server = BoundedHTTPServer(app, xheaders=True, max_request_body=self.max_request_body)
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
