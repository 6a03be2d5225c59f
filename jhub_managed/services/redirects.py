"""Where to send a browser after a form: only ever a path inside the service."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urlsplit, urlunsplit


def safe_next(value: str | None, prefix: str, default: str) -> str:
    """``value`` if it is a path inside ``prefix`` on this site, else ``default``.

    Refuses anything with a scheme or host (``https://evil``, ``//evil``), backslashes and
    control characters (which browsers read as slashes or drop), and paths that leave
    ``prefix`` through dot segments, encoded or not.
    """
    if not value or len(value) > 2000:
        return default
    if any(ch == "\\" or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    decoded = unquote(parts.path)
    if decoded.startswith("//") or "\\" in decoded:
        return default
    normal = posixpath.normpath(decoded) + ("/" if decoded.endswith("/") else "")
    if not (normal + "/").startswith(prefix.rstrip("/") + "/"):
        return default
    return urlunsplit(("", "", parts.path, parts.query, ""))
