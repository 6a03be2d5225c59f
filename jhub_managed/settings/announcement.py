"""The announcement: safe HTML from a Markdown subset, shown inside its time window."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import nh3
from markdown_it import MarkdownIt

PAGES = ("login", "home", "spawn")
_ALLOWED_TAGS = {"p", "em", "strong", "a", "code", "br", "ul", "ol", "li", "s"}
# "html": False makes raw HTML in the text come out as text; nh3 is the second wall.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable(
    ["image", "heading", "lheading", "table", "fence", "code", "hr", "blockquote"], True
)


@functools.lru_cache(maxsize=64)
def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to place in a page as it is.

    Remembered for the last few texts: every hub page shows the same announcement, and a
    render is pure."""
    html = _MARKDOWN.render(text or "")
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()


def parse_time(value: str | None) -> datetime | None:
    """An announcement time (RFC 3339, as the schema checks it) as an aware datetime.

    RFC 3339 allows a lower-case ``t`` and ``z``, which ``datetime.fromisoformat`` does not;
    a time without an offset is taken as UTC. Raises ``ValueError`` for anything else.
    """
    if not value:
        return None
    parsed = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


_parse_time = parse_time


def is_active(announcement: Mapping[str, Any], now: datetime) -> bool:
    if not (announcement.get("text") or "").strip():
        return False
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    starts, expires = (
        _parse_time(announcement.get("starts_at")),
        _parse_time(announcement.get("expires_at")),
    )
    return (starts is None or starts <= now) and (expires is None or now < expires)


def announcement_html(
    announcement: Mapping[str, Any] | None, page: str, now: datetime | None = None
) -> str:
    """The announcement's HTML for ``page`` (login, home, spawn) at ``now``; ``""`` if none."""
    if not announcement:
        return ""
    now = now or datetime.now(timezone.utc)
    if not is_active(announcement, now):
        return ""
    # absent means every page; an empty list means no page at all
    show_on = announcement.get("show_on")
    if page not in (PAGES if show_on is None else show_on):
        return ""
    return render_markdown(announcement["text"])
