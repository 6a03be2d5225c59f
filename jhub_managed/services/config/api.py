"""The settings REST API: ``/api/settings``, ``/api/history``, ``/api/diff``, OpenAPI.

Errors are JSON: ``{"status", "message"}``, and for a refused save also
``{"errors": [{"path", "message"}]}`` with JSON-pointer paths into the settings document
(``""`` for problems with the request itself).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from sqlalchemy import func, select

from ...settings import SettingsError
from ...settings.diff import diff_documents
from ...settings.versions import MAX_VERSION, parse_version, parse_whole_number
from ...store import SettingsVersion
from ...store.source import ResolvedSettings, SettingsSource
from ..base import APIHandler
from .editor import SaveConflict, Saved, SaveRefused, UnknownVersion
from .handlers import EditorHandler
from .openapi import openapi_document

#: a request body larger than this is refused before it is parsed (the document limit is
#: 1 MB; JSON escapes can make a valid document's text somewhat longer)
MAX_BODY_BYTES = 2_000_000
ANY_VERSION = "*"
_ETAG = re.compile(r'(?:W/)?(?:"([0-9]{1,10})"|([0-9]{1,10}))')
_CURRENT_VERSION = select(func.max(SettingsVersion.version))


def parse_if_match(header: str) -> str | set[int]:
    """``'"3"'``, ``'W/"3"'``, ``'3'``, ``'"3", "4"'`` -> ``{3}``, ``{3, 4}``; ``*`` -> ``"*"``.

    Raises ``ValueError`` for anything else.
    """
    header = header.strip()
    if header == ANY_VERSION:
        return ANY_VERSION
    versions = set()
    for tag in header.split(","):
        match = _ETAG.fullmatch(tag.strip())
        if not match:
            raise ValueError(tag.strip())
        versions.add(int(match[1] or match[2]))
    return versions


class EditorAPIHandler(EditorHandler, APIHandler):
    def fail(self, status: int, message: str, errors: list[SettingsError] | None = None, **extra):
        body: dict[str, Any] = {"status": status, "message": message}
        if errors is not None:
            body["errors"] = [e.as_dict() for e in errors]
        body.update(extra)
        self.write_json(body, status)

    def bad_request(self, message: str) -> None:
        self.fail(400, message, [SettingsError("", message)])

    def json_body(self) -> tuple[bool, Any]:
        """``(True, body)``, or ``(False, None)`` after answering 400 or 413."""
        if len(self.request.body) > MAX_BODY_BYTES:
            self.fail(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
            return False, None
        if not self.request.body.strip():
            return True, None
        try:
            return True, json.loads(self.request.body)
        except (ValueError, RecursionError) as e:
            self.bad_request(f"The request body is not JSON: {str(e)[:200]}")
            return False, None

    def int_argument(self, name: str, default: int | None, lo: int, hi: int) -> int | None:
        """A whole-number query argument; raises ``ValueError`` with a message."""
        text = self.get_query_argument(name, None)
        if text is None or text == "":
            return default
        value = parse_whole_number(text, hi)
        if value is None or value < lo:
            raise ValueError(f"'{name}' must be a whole number from {lo} to {hi}")
        return value

    def write_saved(self, saved: Saved, **extra) -> None:
        self.set_header("ETag", f'"{saved.version}"')
        self.write_json({"version": saved.version, "settings": saved.settings, **extra})

    def expected_version(self, wanted: str | set[int]) -> int:
        if wanted == ANY_VERSION:
            return self.editor.store.current_version()
        assert isinstance(wanted, set)
        if len(wanted) == 1:
            return next(iter(wanted))
        current = self.editor.store.current_version()
        return current if current in wanted else max(wanted)

    def conflict(self, e: SaveConflict) -> None:
        self.fail(409, str(e), version=e.current, expected_version=e.expected)

    def refused(self, e: SaveRefused) -> None:
        count = len(e.errors)
        self.fail(
            400,
            f"The settings were not saved: {count} problem{'s' if count != 1 else ''}.",
            e.errors,
        )


class EncodedSettings:
    """The body of ``GET /api/settings``, ``{"version", "settings"}`` as JSON, made once
    per version.

    The one query per request is a bare ``SELECT max(version)``; the document is resolved
    and encoded once per version. When the store can't be read, the settings source answers
    with the last settings it could (and logs why).
    """

    def __init__(self, source: SettingsSource):
        self.source = source
        self._encoded: tuple[int, int, bytes] | None = None
        self._lock = threading.Lock()

    def encode(self, current: ResolvedSettings) -> bytes:
        cached = self._encoded
        if cached and cached[0] == current.version and cached[1] == id(current.document):
            return cached[2]
        body = json.dumps({"version": current.version, "settings": current.document}).encode()
        with self._lock:
            self._encoded = (current.version, id(current.document), body)
        return body

    def response(self) -> tuple[int, bytes]:
        """The version in force and the body that says it."""
        cached = self._encoded
        if cached is not None:
            try:
                with self.source.store.engine.connect() as connection:
                    version = connection.execute(_CURRENT_VERSION).scalar() or 0
            except Exception:
                version = None
            if version == cached[0]:
                return version, cached[2]
        current = self.source.current()
        return current.version, self.encode(current)


class SettingsAPIHandler(EditorAPIHandler):
    """``GET``: the settings in force and their version (``ETag``); ``PUT``: save new ones."""

    def initialize(self, encoded: EncodedSettings, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        self.encoded = encoded

    def get(self):
        version, body = self.encoded.response()
        self.set_header("ETag", f'"{version}"')
        # the one exception to the services' headers: a client may keep the settings, but
        # asks again each time (the ETag makes the answer 304 when nothing changed)
        self.set_header("Cache-Control", "no-cache")
        if self.check_etag_header():  # If-None-Match names this version
            self.set_status(304)
            self.finish()
            return
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(body)

    async def put(self):
        header = self.request.headers.get("If-Match")
        if header is None:
            self.fail(
                428,
                "Send the version your change starts from in an If-Match header: the ETag "
                'of GET /api/settings, e.g. If-Match: "3". This makes sure a save never '
                "silently undoes someone else's. (If-Match: * saves over any version.)",
            )
            return
        try:
            wanted = parse_if_match(header)
        except ValueError:
            self.bad_request(
                'If-Match must be the ETag of GET /api/settings, e.g. "3", or *; '
                f"not {header[:50]!r}"
            )
            return
        expected = self.expected_version(wanted)
        current = self.editor.store.current_version()
        if expected != current:
            # stale: say so before reading a large body or queueing for validation
            self.conflict(SaveConflict(expected, current))
            return
        ok, body = self.json_body()
        if not ok:
            return
        if not isinstance(body, dict) or "settings" not in body:
            self.bad_request(
                'The body must be a JSON object {"settings": {...}, "comment": "..."} '
                "with the whole settings document in 'settings'."
            )
            return
        unknown = sorted(set(body) - {"settings", "comment"})
        if unknown:
            self.bad_request(
                f"Unknown key '{unknown[0][:50]}' in the body; it takes 'settings' and 'comment'."
            )
            return
        comment = body.get("comment", "")
        if comment is None:
            comment = ""
        try:
            saved = await self.run_blocking(
                self.editor.save,
                body["settings"],
                author=self.author,
                comment=comment,
                expected_version=expected,
                action="api-put",
            )
        except SaveConflict as e:
            self.conflict(e)
            return
        except SaveRefused as e:
            self.refused(e)
            return
        self.write_saved(saved)


class HistoryAPIHandler(EditorAPIHandler):
    """``GET /api/history?limit=&before=``: versions, newest first."""

    def get(self):
        try:
            limit = self.int_argument("limit", 100, 1, 500)
            before = self.int_argument("before", None, 1, MAX_VERSION)
        except ValueError as e:
            self.bad_request(str(e))
            return
        records = self.editor.store.history(limit=limit, before=before)
        versions = [r.summary() for r in records]
        next_before = versions[-1]["version"] if len(versions) == limit else None
        self.write_json(
            {
                "current_version": self.editor.store.current_version(),
                "versions": versions,
                "next_before": next_before if next_before and next_before > 1 else None,
            }
        )


class VersionAPIHandler(EditorAPIHandler):
    """``GET /api/history/{version}``: one version, its stored layer and what it resolves to."""

    def get(self, version_text: str):
        version = parse_version(version_text)
        try:
            if version is None:
                raise UnknownVersion(int(version_text))
            summary = self.editor.summary(version)
            stored = self.editor.stored_layer(version)
        except UnknownVersion as e:
            self.fail(404, str(e))
            return
        self.write_json(
            {**summary, "settings": self.editor.source.resolve(stored), "stored": stored}
        )


class RestoreAPIHandler(EditorAPIHandler):
    """``POST /api/history/{version}/restore``: a new version with what ``version`` stored.

    Optional body ``{"comment": "..."}``; optional ``If-Match`` (409 when stale).
    """

    async def post(self, version_text: str):
        version = parse_version(version_text)
        if version is None:
            self.fail(404, f"There is no settings version {version_text}.")
            return
        expected = None
        header = self.request.headers.get("If-Match")
        if header is not None:
            try:
                expected = self.expected_version(parse_if_match(header))
            except ValueError:
                self.bad_request('If-Match must be an ETag of GET /api/settings, e.g. "3"')
                return
        ok, body = self.json_body()
        if not ok:
            return
        if body is None:
            body = {}
        if not isinstance(body, dict) or set(body) - {"comment"}:
            self.bad_request('The body is optional; if sent, it is {"comment": "..."}.')
            return
        comment = body.get("comment") or ""
        try:
            saved = await self.run_blocking(
                self.editor.restore,
                version,
                author=self.author,
                comment=comment,
                expected_version=expected,
            )
        except UnknownVersion as e:
            self.fail(404, str(e))
            return
        except SaveConflict as e:
            self.conflict(e)
            return
        except SaveRefused as e:
            self.refused(e)
            return
        self.write_saved(saved, restored_from=version)


class DiffAPIHandler(EditorAPIHandler):
    """``GET /api/diff?from=A&to=B``: what changed from version A to B (default: the
    newest version and the one before it)."""

    def get(self):
        try:
            current = self.editor.store.current_version()
            to = self.int_argument("to", current, 0, MAX_VERSION)
            start = self.int_argument("from", max(0, to - 1), 0, MAX_VERSION)
        except ValueError as e:
            self.bad_request(str(e))
            return
        try:
            old, new = self.editor.resolved_at(start), self.editor.resolved_at(to)
        except UnknownVersion as e:
            self.fail(404, str(e))
            return
        self.write_json(
            {
                "from": start,
                "to": to,
                "changes": [c.as_dict() for c in diff_documents(old, new)],
            }
        )


class APINotFound(EditorAPIHandler):
    """Any other path under ``api/``: JSON 404, after the same checks as every route."""

    def prepare(self):
        super().prepare()
        if not self._finished:
            self.fail(404, "There is no such API route; see api/openapi.json.")


class OpenAPIHandler(EditorAPIHandler):
    def initialize(self, prefix: str, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        self.prefix = prefix

    def get(self):
        self.write_json(openapi_document(self.prefix))
