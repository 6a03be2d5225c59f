"""The Announcement tab: the text shown on the hub's pages, when and where."""

from __future__ import annotations

from datetime import datetime, timezone

from ....settings.announcement import PAGES, announcement_html, render_markdown
from ....settings.forms import announcement as announcement_forms
from .sections import SectionPage


class AnnouncementPage(SectionPage):
    tab = section = "announcement"
    field_map = announcement_forms.ANNOUNCEMENT_FIELDS
    to_view = staticmethod(announcement_forms.announcement_to_view)

    def get(self):
        current = self.editor.current()
        announcement = current.document.get("announcement") or {}
        self.show(announcement_forms.announcement_to_view(announcement), current=current)

    def show(self, view: dict, **ns):
        current = ns.pop("current", None) or self.editor.current()
        announcement = current.document.get("announcement") or {}
        preview_text = ns.pop("preview_text", None)
        self.render_page(
            "announcement.html",
            current=current,
            form_version=ns.pop("form_version", current.version),
            view=view,
            pages=PAGES,
            state=announcement_forms.announcement_state(announcement, datetime.now(timezone.utc)),
            live_html={page: announcement_html(announcement, page) for page in PAGES},
            preview_html=render_markdown(preview_text) if preview_text else "",
            comment=self.arg("comment") if self.request.method == "POST" else "",
            **ns,
        )

    async def post(self):
        expected = self.posted_version()
        announcement, view, field_errors = announcement_forms.announcement_from_form(
            self.arg, self.args
        )
        action = self.arg("do") or "save"
        if action == "preview":
            self.show(view, form_version=expected, preview_text=announcement["text"])
            return
        if action == "clear":
            announcement["text"] = ""
            view["text"] = ""
        if field_errors:
            self.set_status(400)
            self.show(view, form_version=expected, field_errors=field_errors)
            return
        default = "Removed the announcement" if not announcement["text"] else "Set the announcement"
        await self.save_section(announcement, view, expected, default)
