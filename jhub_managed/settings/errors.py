"""What a check of a settings document finds wrong: a place in the document (a JSON Pointer)
and a message."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

#: what ``re.compile`` raises for a bad pattern: ``re.error``, but ``OverflowError`` for a
#: repeat count like ``a{4294967296}`` and ``RecursionError`` for absurd nesting
REGEX_ERRORS = (re.error, OverflowError, RecursionError, ValueError)


@dataclass(frozen=True)
class SettingsError:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)
