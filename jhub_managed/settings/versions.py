"""Settings version numbers as requests name them: in paths, query arguments and forms."""

from __future__ import annotations

import re

#: largest version number a request may name (the store's column is a 32-bit integer)
MAX_VERSION = 2**31 - 1

_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_whole_number(text: str | None, maximum: int) -> int | None:
    """``"42"`` -> ``42``: one to ten ASCII digits, at most ``maximum``; else ``None``
    (empty, signs, spaces inside, other scripts' digits, too large)."""
    if text is None:
        return None
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= maximum else None


def parse_version(text: str | None) -> int | None:
    """A settings version (``0`` is the deployment's settings) from a request, or ``None``."""
    return parse_whole_number(text, MAX_VERSION)
