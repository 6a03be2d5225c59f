"""The hub's current settings as the spawner and templates see them.

One cheap query per read tells whether a new version was saved; the resolved document is
cached per version. When the store can't be read, the last good settings stay in use and the
failure is logged once and kept for the health service to show.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..settings import resolve_layers
from .store import SettingsStore


@dataclass(frozen=True)
class ResolvedSettings:
    #: stored version these settings come from; 0 means no edits were saved yet
    version: int
    document: dict = field(default_factory=dict)

    @property
    def profiles(self) -> list[dict]:
        return self.document.get("profiles") or []


class SettingsSource:
    """Current settings: operator defaults <- hub values <- the latest stored version."""

    def __init__(
        self,
        db_url: str,
        *,
        operator_defaults: Mapping[str, Any] | None = None,
        hub_values: Mapping[str, Any] | None = None,
        log: logging.Logger | None = None,
    ):
        self.db_url = db_url
        self.base_layers = (dict(operator_defaults or {}), dict(hub_values or {}))
        self.log = log or logging.getLogger(__name__)
        self._store: SettingsStore | None = None
        self._cached = ResolvedSettings(0, resolve_layers(self.base_layers))
        self._loaded = False
        #: the latest read failure, or ``None`` when the last read worked
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    @property
    def store(self) -> SettingsStore:
        if self._store is None:
            self._store = SettingsStore(self.db_url)
        return self._store

    def base_document(self) -> dict:
        """Operator defaults and hub values alone: what a hub starts with."""
        return resolve_layers(self.base_layers)

    def resolve(self, edits: Mapping[str, Any] | None) -> dict:
        return resolve_layers([*self.base_layers, edits])

    def current(self) -> ResolvedSettings:
        try:
            version = self.store.current_version()
            if version != self._cached.version or not self._loaded:
                stored = self.store.get(version) if version else None
                document = self.resolve(stored.document if stored else None)
                self._cached = ResolvedSettings(version, document)
                self._loaded = True
        except Exception as e:
            if self.last_error is None:
                self.log.error(
                    "Can't read the settings store (%s); using settings version %d: %s",
                    self.store_url_for_logs(),
                    self._cached.version,
                    e,
                )
            self.last_error = f"{type(e).__name__}: {e}"
            self.last_error_at = time.time()
            return self._cached
        if self.last_error is not None:
            self.log.info("The settings store can be read again.")
            self.last_error = None
        return self._cached

    def store_url_for_logs(self) -> str:
        from .store import safe_url

        try:
            return safe_url(self.db_url)
        except Exception:
            return "<unparseable URL>"
