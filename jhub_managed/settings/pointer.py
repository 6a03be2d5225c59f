"""JSON Pointers (RFC 6901): the paths that errors name places of a document by.

A key's ``~`` is written ``~0`` and its ``/`` ``~1``, so that ``["a/b", 0]`` is
``"/a~1b/0"``; reading a pointer undoes both, in the opposite order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def escape(key: Any) -> str:
    """One key as a pointer spells it: ``"a/b"`` -> ``"a~1b"``."""
    return str(key).replace("~", "~0").replace("/", "~1")


def unescape(part: str) -> str:
    """One part of a pointer as the key it names: ``"a~1b"`` -> ``"a/b"``."""
    return part.replace("~1", "/").replace("~0", "~")


def pointer(parts: Iterable[Any]) -> str:
    """The pointer of a path: ``["a/b", 0]`` -> ``"/a~1b/0"``; ``[]`` -> ``""``."""
    return "".join("/" + escape(part) for part in parts)


def parts(text: str) -> list[str]:
    """The keys a pointer names: ``"/profiles/0/a~1b"`` -> ``["profiles", "0", "a/b"]``."""
    return [unescape(part) for part in text.split("/")[1:]] if text else []
