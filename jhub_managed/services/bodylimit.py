"""The services' HTTP server: a request body over the limit gets a clear 413."""

from __future__ import annotations

import json
import logging
from typing import Any

from tornado import httputil
from tornado.httpserver import HTTPServer

#: largest request body a service takes; larger ones get a 413 that says so
MAX_REQUEST_BODY = 4 * 1024 * 1024
#: what a service reads and throws away to answer a larger body with its 413 (a body beyond
#: this ends the connection, as tornado does)
DISCARD_BODY_LIMIT = 1024 * 1024 * 1024


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
        headers: dict[str, str] | None = None,
    ):
        self.delegate = delegate
        self.connection = connection
        self.limit = limit
        self.log = log
        #: headers every answer carries (the services' security headers)
        self.answer_headers = dict(headers or {})
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
            httputil.HTTPHeaders(
                {
                    **self.answer_headers,
                    "Content-Type": content_type,
                    "Content-Length": str(len(body)),
                }
            ),
            body,
        )
        self.connection.finish()


class BoundedHTTPServer(HTTPServer):
    """An HTTP server whose requests over ``max_request_body`` bytes get a clear 413, with
    ``answer_headers`` as every other answer of the service has them."""

    def initialize(
        self,
        *args: Any,
        max_request_body: int = MAX_REQUEST_BODY,
        answer_headers: dict[str, str] | None = None,
        **kwargs: Any,
    ):
        kwargs.setdefault("max_body_size", DISCARD_BODY_LIMIT)
        self.max_request_body = max_request_body
        self.answer_headers = answer_headers
        self.limit_log = logging.getLogger("jhub_managed.services")
        super().initialize(*args, **kwargs)

    def start_request(self, server_conn, request_conn):
        delegate = super().start_request(server_conn, request_conn)
        return _BodyLimit(
            delegate, request_conn, self.max_request_body, self.limit_log, self.answer_headers
        )
