"""Kubernetes-style quantities, as kubespawner reads them, and how to say them in words."""

from __future__ import annotations

import re

_BYTE_SUFFIXES = {
    "": 1,
    "K": 1024,
    "M": 1024**2,
    "G": 1024**3,
    "T": 1024**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}
_MEMORY_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([KMGT]i?)?")


def parse_memory(value: int | float | str | None) -> int | None:
    """Bytes of a memory quantity (``"2G"``, ``"512Mi"``, ``1073741824``); ``None`` stays ``None``.

    Raises ``ValueError`` for anything else, with the value in the message.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a memory quantity: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"memory cannot be negative: {value!r}")
        return int(value)
    match = _MEMORY_RE.fullmatch(str(value).strip())
    if not match:
        raise ValueError(f"not a memory quantity: {value!r} (use e.g. 512M or 2G)")
    number, suffix = match.groups()
    return int(float(number) * _BYTE_SUFFIXES[suffix or ""])


def format_memory(num_bytes: int | None) -> str:
    """``2147483648`` -> ``"2 GB"`` (binary units, as kubespawner's suffixes are)."""
    if num_bytes is None:
        return ""
    for suffix, size in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if num_bytes >= size:
            amount = num_bytes / size
            text = f"{amount:.1f}".rstrip("0").rstrip(".")
            return f"{text} {suffix}"
    return f"{num_bytes} bytes"


def format_cpu(cores: float | int | None) -> str:
    if cores is None:
        return ""
    text = f"{float(cores):.2f}".rstrip("0").rstrip(".")
    return f"{text} CPU" if float(cores) == 1 else f"{text} CPUs"
