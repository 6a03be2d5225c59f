"""What the hub-managed services share.

A tornado application behind JupyterHub's OAuth (``HubOAuth``), pages that extend the hub's
own ``page.html`` so a service looks like the hub, JSON error bodies on API routes, structured
(JSON-lines) logs, and a clean stop on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from jupyterhub._data import DATA_FILES_PATH
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.log import access_log
from traitlets import Dict, Integer, Unicode, default
from traitlets.config import Application

from .listen import take as take_early_socket

HUB_TEMPLATES = os.path.join(DATA_FILES_PATH, "templates")
HUB_STATIC = os.path.join(DATA_FILES_PATH, "static")
OUR_TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates")


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


def managed_config() -> dict[str, Any]:
    """The suite's settings the hub passes to its services (``$JHUB_MANAGED_CONFIG``)."""
    raw = os.environ.get("JHUB_MANAGED_CONFIG", "")
    if not raw:
        return {}
    return json.loads(raw)


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

    ip = Unicode("127.0.0.1", config=True, help="Address to listen on.")
    port = Integer(0, config=True, help="Port to listen on; 0 takes the one in the service URL.")
    aliases = {
        "ip": "ServiceApp.ip",
        "port": "ServiceApp.port",
        "log-level": "Application.log_level",
    }
    flags: ClassVar[dict] = {}

    suite_config = Dict(help="The suite's configuration, from $JHUB_MANAGED_CONFIG.")

    @default("suite_config")
    def _default_suite_config(self):
        return managed_config()

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
            cookie_secret=os.urandom(32),
            xsrf_cookies=True,
            login_url=self.hub_auth.login_url,
            log_function=self.log_request,
            default_handler_class=NotFoundHandler,
        )

    def log_request(self, handler: web.RequestHandler) -> None:
        status = handler.get_status()
        level = logging.INFO if status < 400 else logging.WARNING
        if status >= 500:
            level = logging.ERROR
        user = getattr(handler, "_hub_auth_user_cache", None)
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
        # no request to a service needs more than a settings document (1 MB) and some room
        server = HTTPServer(app, xheaders=True, max_body_size=4 * 1024 * 1024)
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
        app.initialize(argv)
        asyncio.run(app.run())
