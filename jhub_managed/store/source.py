"""The hub's current settings as the spawner, the templates and the services see them.

:class:`SettingsSource` answers with one cheap query per read whether a new version was
saved; the resolved document is cached per version. When the store can't be read, the last
good settings stay in use and the failure is logged once and kept for the health service to
show. The services read it on every request, so that a save shows at once.

:class:`SettingsSnapshot` is what the hub reads: one per hub, made by ``configure()`` without
any I/O and started (the store migrated, its thread begun) when the hub starts, or at its
first read. It looks at the store at most every few seconds, in a thread of its own, so that
no page and no spawn waits for the database on the hub's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..settings import resolve_layers
from ..settings.layers import operator_layer
from .store import SettingsStore


@dataclass(frozen=True)
class ResolvedSettings:
    #: stored version these settings come from; 0 means no edits were saved yet
    version: int
    document: dict = field(default_factory=dict)
    #: the hub admins' edits stored as this version (``None`` for version 0)
    edits: dict | None = field(default=None, compare=False, repr=False)

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
        self.base_layers = (operator_layer(operator_defaults), operator_layer(hub_values))
        self.log = log or logging.getLogger(__name__)
        self._store: SettingsStore | None = None
        self._cached = ResolvedSettings(0, resolve_layers(self.base_layers))
        self._loaded = False
        #: the latest read failure, or ``None`` when the last read worked
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    @classmethod
    def for_hub(
        cls,
        hub: Any,
        *,
        log: logging.Logger | None = None,
        hub_values: Mapping[str, Any] | None = None,
    ) -> SettingsSource:
        """The settings of the hub whose options (a ``ManagedHub``) are ``hub``: its store,
        its operator defaults and its hub values, or ``hub_values`` in their place."""
        return cls(
            hub.db_url,
            operator_defaults=hub.operator_defaults,
            hub_values=hub.hub_values if hub_values is None else hub_values,
            log=log,
        )

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
                edits = stored.document if stored else None
                self._cached = ResolvedSettings(version, self.resolve(edits), edits)
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

    @property
    def last_read(self) -> ResolvedSettings:
        """The settings :meth:`current` answered last (no I/O)."""
        return self._cached

    def store_url_for_logs(self) -> str:
        from .store import safe_url

        try:
            return safe_url(self.db_url)
        except Exception:
            return "<unparseable URL>"


class SettingsSnapshot:
    """The hub's settings as one snapshot, refreshed off the event loop.

    Making one touches nothing. :meth:`start` (run when the hub starts, else by the first
    read) makes the first read, which creates and migrates the store, and starts a thread
    that asks the store at most every ``interval`` seconds whether a new version was saved;
    reads (:meth:`current`) never touch the store after that. A new
    snapshot is put in place on the hub's event loop, between two callbacks of it, so that
    every read during one page render sees the same one. When the store can't be read, the
    last good settings stay in force (:class:`SettingsSource` keeps them).

    The snapshot is shared by everything in the hub (templates and spawners): copying it, as
    traitlets does with configuration values, gives the same object.
    """

    def __init__(self, source: SettingsSource, *, interval: float):
        if not interval > 0:
            raise ValueError(f"the settings refresh interval must be positive, not {interval!r}")
        self.source = source
        self.interval = float(interval)
        self._current = source.last_read
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        #: set after each look at the store (for tests and the health of the refresher)
        self.refreshed = threading.Event()
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Read the store (creating and migrating it) and start the refresher thread; once,
        however many times it is called."""
        with self._starting:
            if self._thread is not None or self._stop.is_set():
                return
            self._current = self.source.current()
            self._thread = threading.Thread(
                target=_refresh_forever,
                args=(weakref.ref(self), self._stop, self.interval),
                name="jhub-managed-settings",
                daemon=True,
            )
            self._thread.start()

    def __copy__(self) -> SettingsSnapshot:
        return self

    def __deepcopy__(self, memo) -> SettingsSnapshot:
        return self

    @property
    def last_error(self) -> str | None:
        return self.source.last_error

    @property
    def last_error_at(self) -> float | None:
        return self.source.last_error_at

    @property
    def last_read(self) -> ResolvedSettings:
        """The settings in force, as :attr:`SettingsSource.last_read` says it (no I/O once
        started)."""
        if self._thread is None:
            self.start()
        return self._current

    def base_document(self) -> dict:
        """Operator defaults and hub values alone (no I/O)."""
        return self.source.base_document()

    def over(self, hub_values: Mapping[str, Any]) -> LayeredSnapshot:
        """This snapshot with other hub values under the hub admins' edits (no I/O)."""
        return LayeredSnapshot(self, hub_values)

    def current(self) -> ResolvedSettings:
        """The settings in force; no I/O once started."""
        if self._thread is None:
            self.start()
        if self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                pass
        return self._current

    def refresh(self) -> None:
        """Look at the store now (blocking: the refresher thread calls it)."""
        fresh = self.source.current()
        if fresh is not self._current:
            loop = self._loop
            try:
                if loop is None or loop.is_closed():
                    raise RuntimeError("no event loop")
                loop.call_soon_threadsafe(self._replace, fresh)
            except RuntimeError:
                self._replace(fresh)
        self.refreshed.set()

    def _replace(self, fresh: ResolvedSettings) -> None:
        if fresh.version != self._current.version:
            self.source.log.info("Settings version %d in force", fresh.version)
        self._current = fresh

    def close(self) -> None:
        """Stop the refresher and release the store's connections."""
        self._stop.set()
        if self.source._store is not None:
            self.source._store.dispose()


class LayeredSnapshot:
    """The hub's snapshot read over other hub values: a spawner whose config gives a
    ``profile_list`` of its own (a callable's, read at each spawn) starts from that list, and
    the hub admins' edits in force apply over it. The stored edits are the snapshot's, so a
    read never touches the store; they are resolved again only when a new version is in
    force."""

    def __init__(self, snapshot: SettingsSnapshot, hub_values: Mapping[str, Any]):
        self.snapshot = snapshot
        self.base_layers = (snapshot.source.base_layers[0], operator_layer(hub_values))
        self._from: ResolvedSettings | None = None
        self._resolved = ResolvedSettings(0, resolve_layers(self.base_layers))

    #: the hub snapshot's last read failure (its settings are the last good ones then)
    last_error = property(lambda self: self.snapshot.last_error)
    last_error_at = property(lambda self: self.snapshot.last_error_at)
    last_read = property(lambda self: self._resolved)

    def base_document(self) -> dict:
        return resolve_layers(self.base_layers)

    def current(self) -> ResolvedSettings:
        in_force = self.snapshot.current()
        if in_force is not self._from:
            document = resolve_layers([*self.base_layers, in_force.edits])
            self._resolved = ResolvedSettings(in_force.version, document, in_force.edits)
            self._from = in_force
        return self._resolved


def _refresh_forever(ref, stop: threading.Event, interval: float) -> None:
    """The refresher thread; it ends with its snapshot (it holds it only while refreshing)."""
    while not stop.wait(interval):
        snapshot = ref()
        if snapshot is None:
            return
        try:
            snapshot.refresh()
        except Exception:  # pragma: no cover - SettingsSource.current() catches store errors
            snapshot.source.log.exception("Settings refresh failed")
        del snapshot
