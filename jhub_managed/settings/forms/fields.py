"""What every settings form shares: small text conversions and errors next to fields.

A form is rendered from a *view*: plain dicts of the text in each field. A view comes from
the stored settings (to show them) or from a posted form (to show it again with its errors,
or to save it). Each section of the document has its module here (``profiles``,
``announcement``, ``branding``); all of them are pure functions, with no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import SettingsError
from ..quantities import parse_memory

Get = Callable[[str], str]
FieldErrors = dict[str, list[str]]


def slugify(text: str, *, max_length: int = 63) -> str:
    """``"R 4.3 (beta)"`` -> ``"r-4-3-beta"``: a key made from a display name."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_length].strip("-")


def groups_text(groups: Any) -> str:
    return ", ".join(str(g) for g in groups or [])


def parse_groups(text: str) -> list[str]:
    """``"a, b\\nc"`` -> ``["a", "b", "c"]``: commas or new lines, duplicates dropped."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,\n]", text or ""):
        name = part.strip()
        if name and name.casefold() not in {s.casefold() for s in seen}:
            seen[name] = None
    return list(seen)


def number_text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_EXACT_SUFFIXES = (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024))


def memory_text(value: Any) -> str:
    """Memory as the form shows it: strings as written, whole byte counts with a suffix."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int):
        for suffix, size in _EXACT_SUFFIXES:
            if value and value % size == 0:
                return f"{value // size}{suffix}"
        return str(value)
    return str(value)


def minutes_text(seconds: Any) -> str:
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return ""
    minutes = seconds / 60
    return str(int(minutes)) if minutes.is_integer() else f"{minutes:.2f}".rstrip("0")


def parse_number(text: str) -> float | int:
    value = float(text.strip())
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return int(value) if value.is_integer() else value


def parse_memory_field(text: str) -> int | str:
    text = text.strip().replace(" ", "")
    if re.fullmatch(r"[0-9]+", text):
        if int(text) < 1024**2:
            raise ValueError(f"say which unit: {text}G, {text}M, ...")
        return int(text)
    text = re.sub(r"(?i)^([0-9.]+)([kmgt])(i?)b?$", lambda m: m[1] + m[2].upper() + m[3], text)
    parse_memory(text)  # raises ValueError with the value in the message
    return text


def parse_count(text: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,6}", text):
        raise ValueError("a whole number is needed")
    return int(text)


def json_text(value: Any) -> str:
    """JSON on one line when it is short, else indented."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 70 else json.dumps(value, indent=2, sort_keys=True)


def text_rows(text: str, low: int = 2, high: int = 12) -> int:
    """How many rows a textarea needs to show ``text``."""
    return max(low, min(high, (text or "").count("\n") + 1))


def field_for(pointer: str, fields: Mapping[str, str]) -> str | None:
    """The form field of the longest pointer in ``fields`` that ``pointer`` starts with."""
    while True:
        if pointer in fields:
            return fields[pointer]
        if not pointer:
            return None
        pointer = pointer.rsplit("/", 1)[0]


def place_errors(
    errors: list[SettingsError], prefix: str, fields: Mapping[str, str]
) -> tuple[FieldErrors, list[SettingsError]]:
    """Split errors into those next to a field (under ``prefix``) and the rest."""
    by_field: FieldErrors = {}
    rest: list[SettingsError] = []
    for error in errors:
        field = None
        if error.path == prefix or error.path.startswith(prefix + "/"):
            field = field_for(error.path[len(prefix) :], fields)
        if field is None:
            rest.append(error)
        else:
            by_field.setdefault(field, []).append(humane(error.message, field))
    return by_field, rest


_HUMANE = (
    (re.compile(r"does not match '\^\(https\?://"), "use a full address that starts with https://"),
    (re.compile(r"should be non-empty|is too short"), "this can't be empty"),
)


def humane(message: str, field: str) -> str:
    """A schema message in the words of the form, for the field it is shown next to."""
    if field == "idle_minutes" and "less than the minimum" in message:
        return "at least 1 minute"
    for pattern, words in _HUMANE:
        if pattern.search(message):
            return words
    return message
