"""What the fleet commands print: results on stdout, problems on stderr, each line at once."""

from __future__ import annotations

import sys


def out(text: str = "") -> None:
    print(text, flush=True)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
