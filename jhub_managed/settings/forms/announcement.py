"""The announcement form: the announcement to the text of its fields and back, and what
it does now, in words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..announcement import PAGES, parse_time
from .fields import FieldErrors, Get


def _utc_field(value: str | None) -> str:
    """An RFC 3339 time as the value of a ``datetime-local`` field, in UTC."""
    try:
        parsed = parse_time(value)
    except (TypeError, ValueError):
        return str(value or "")
    if parsed is None:
        return ""
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def announcement_to_view(announcement: Mapping[str, Any] | None) -> dict[str, Any]:
    announcement = announcement or {}
    show_on = announcement.get("show_on")
    return {
        "text": str(announcement.get("text") or ""),
        "level": announcement.get("level") or "info",
        "starts_at": _utc_field(announcement.get("starts_at")),
        "expires_at": _utc_field(announcement.get("expires_at")),
        "show_on": list(PAGES if show_on is None else show_on),
    }


def _time_from_form(local_value: str, utc_value: str) -> str | None:
    """The time a ``datetime-local`` field means: the browser's own conversion to UTC when
    its script sent one, else the field read as UTC (as the page says without script)."""
    for value in (utc_value, local_value):
        value = (value or "").strip()
        if not value:
            continue
        parsed = parse_time(value)  # ValueError for nonsense
        if parsed is None:
            continue
        return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def announcement_from_form(
    get: Get, get_list: Callable[[str], list[str]]
) -> tuple[dict[str, Any], dict[str, Any], FieldErrors]:
    """The announcement (every key set, so none falls back to the deployment's), the view
    to show again, and errors by field."""
    errors: FieldErrors = {}
    view = {
        "text": get("text"),
        "level": get("level") or "info",
        "starts_at": get("starts_at"),
        "expires_at": get("expires_at"),
        "show_on": [p for p in get_list("show_on") if p in PAGES],
    }
    view["text"] = view["text"].replace("\r\n", "\n").strip()
    announcement: dict[str, Any] = {
        "text": view["text"],
        "level": view["level"],
        "show_on": view["show_on"],
    }
    for key in ("starts_at", "expires_at"):
        try:
            announcement[key] = _time_from_form(get(key), get(key + "_utc"))
        except (TypeError, ValueError):
            errors.setdefault(key, []).append("not a date and time")
            announcement[key] = None
        if announcement[key]:
            view[key] = _utc_field(announcement[key])
    starts, expires = announcement.get("starts_at"), announcement.get("expires_at")
    if starts and expires and parse_time(expires) <= parse_time(starts):
        errors.setdefault("expires_at", []).append("the expiry must be after the start")
    return announcement, view, errors


ANNOUNCEMENT_FIELDS = {
    "/text": "text",
    "/level": "level",
    "/starts_at": "starts_at",
    "/expires_at": "expires_at",
    "/show_on": "show_on",
    "": "text",
}


def announcement_state(announcement: Mapping[str, Any] | None, now: datetime) -> str:
    """In words: whether the announcement shows now, and until when."""
    announcement = announcement or {}
    if not str(announcement.get("text") or "").strip():
        return "There is no announcement."
    try:
        starts = parse_time(announcement.get("starts_at"))
        expires = parse_time(announcement.get("expires_at"))
    except (TypeError, ValueError):
        return "The announcement's times can't be read."
    show_on = announcement.get("show_on")
    pages = list(PAGES if show_on is None else show_on)
    if not pages:
        return "The announcement is shown on no page: tick at least one."
    names = pages[0] if len(pages) == 1 else ", ".join(pages[:-1]) + " and " + pages[-1]
    where = names + (" page" if len(pages) == 1 else " pages")
    if starts and now < starts:
        return f"Scheduled: shows on the {where} from {_words(starts)}."
    if expires and now >= expires:
        return f"Expired on {_words(expires)}: it no longer shows."
    until = f" until {_words(expires)}" if expires else ""
    return f"Showing now on the {where}{until}."


def _words(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
