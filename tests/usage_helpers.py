"""Small helpers for the usage tests' data."""

from datetime import datetime, timezone


def ts(text: str) -> float:
    """``"2026-11-02 10:00"`` (UTC) as seconds since the epoch."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).timestamp()
