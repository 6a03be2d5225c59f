"""The History tab: every version, what changed between two, and restoring one."""

from __future__ import annotations

import json
from urllib.parse import quote

from tornado import web

from ....settings.diff import describe_value, diff_documents
from ....settings.versions import parse_version
from ..editor import MAX_COMMENT_LENGTH, SaveConflict, SaveRefused, UnknownVersion
from .base import PageHandler

HISTORY_PAGE = 50


class HistoryPage(PageHandler):
    tab = "history"

    def get(self):
        self.show()

    def show(self, **ns):
        before = parse_version(self.get_query_argument("before", ""))
        records = self.editor.store.history(limit=HISTORY_PAGE, before=before)
        versions = [r.summary() for r in records]
        more = len(versions) == HISTORY_PAGE and versions[-1]["version"] > 1
        current = self.editor.current()
        self.render_page(
            "history.html",
            current=current,
            versions=versions,
            show_version_0=not more,
            older_url=self.url("history", before=versions[-1]["version"]) if more else None,
            **ns,
        )


class RestorePage(PageHandler):
    tab = "history"

    async def post(self, version_text: str):
        expected = self.posted_version()
        version = parse_version(version_text)
        if version is None:
            raise web.HTTPError(404, "There is no settings version %s.", version_text[:20])
        comment = " ".join(self.arg("comment").split())[:MAX_COMMENT_LENGTH]
        try:
            saved = await self.run_blocking(
                self.editor.restore,
                version,
                author=self.author,
                comment=comment,
                expected_version=expected,
            )
        except UnknownVersion as e:
            raise web.HTTPError(404, str(e)) from None
        except SaveConflict as e:
            self.set_status(409)
            HistoryPage.show(self, conflict=self.conflict_message(e))
            return
        except SaveRefused as e:
            self.set_status(400)
            HistoryPage.show(
                self,
                general_errors=e.errors,
                refused_restore=version,
            )
            return
        self.saved_redirect("history", saved.version)


class DiffPage(PageHandler):
    tab = "history"

    def get(self):
        current = self.editor.current()

        def version_arg(name: str, default: int) -> int:
            text = self.get_query_argument(name, "")
            if not text:
                return default
            version = parse_version(text)
            if version is None:
                raise web.HTTPError(400, f"'{name}' must be a version number.")
            return version

        to = version_arg("to", current.version)
        start = version_arg("from", max(0, to - 1))
        try:
            old, new = self.editor.resolved_at(start), self.editor.resolved_at(to)
            old_summary, new_summary = self.editor.summary(start), self.editor.summary(to)
        except UnknownVersion as e:
            raise web.HTTPError(404, str(e)) from None
        changes = diff_documents(old, new)
        versions = [r.summary() for r in self.editor.store.history(limit=200)]
        self.render_page(
            "diff.html",
            current=current,
            start=old_summary,
            end=new_summary,
            changes=changes,
            describe=describe_value,
            versions=versions,
            document_json=json.dumps(new, indent=2, sort_keys=False, ensure_ascii=False),
            quote=quote,
        )
