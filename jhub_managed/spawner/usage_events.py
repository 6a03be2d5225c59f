"""Exact starts and stops of servers, from inside the hub, into the usage store.

The managed spawners' hooks (:class:`UsageEventHooks`) call :func:`session_facts` when a
server starts and when it stops; the writes happen in one thread of their own, never on the
hub's event loop, and never fail a spawn or a stop: an error is logged, and a write that
could not be made (the store was unreachable) is kept and tried again, so a short outage of
the database loses nothing. What is still waiting when the hub dies the collector of the
usage service catches from the hub's REST API.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from traitlets import HasTraits

from ..compat.jupyterhub import spawner_log_name
from ..store.attribution import DEFAULT_CHECK_USER, STAFF, attribute, restricting_groups_of
from ..store.usage import (
    LAST_ACTIVITY,
    SessionFacts,
    UsageRecorder,
    epoch,
    requested_resources,
)

log = logging.getLogger(__name__)

#: spawner traits that say what a server asks for
RESOURCE_TRAITS = (
    "cpu_guarantee",
    "cpu_limit",
    "mem_guarantee",
    "mem_limit",
    "extra_resource_guarantees",
    "extra_resource_limits",
)
#: writes kept while the store can't be reached, at most
MAX_WAITING = 10_000
RETRY_SECONDS = 5.0


def session_facts(
    *,
    user_name: str,
    server_name: str,
    started: Any,
    groups: list[str],
    user_options: Mapping[str, Any] | None,
    profile: Mapping[str, Any] | None,
    spawner_resources: Mapping[str, Any],
    override: Mapping[str, Any] | None,
    last_activity: Any = None,
    staff_group: str = STAFF,
    check_user: str = DEFAULT_CHECK_USER,
) -> SessionFacts:
    """What the usage store keeps of a session, from what the spawner knows of it."""
    options = dict(user_options or {})
    return SessionFacts(
        user_name=user_name,
        server_name=server_name or "",
        started_at=epoch(started),
        attribution=attribute(
            user_name,
            groups,
            restricting_groups_of(profile, options),
            staff_group=staff_group,
            check_users=(check_user,),
        ),
        groups=list(groups),
        profile=(profile or {}).get("slug", "") or str(options.get("profile") or ""),
        options=options,
        resources=requested_resources(spawner_resources, override),
        last_activity_at=epoch(last_activity),
    )


class UsageEvents:
    """One writer thread per store, shared by every spawner of the hub."""

    _instances: dict[str, UsageEvents] = {}
    _lock = threading.Lock()

    @classmethod
    def for_store(cls, db_url: str) -> UsageEvents:
        with cls._lock:
            events = cls._instances.get(db_url)
            if events is None:
                events = cls._instances[db_url] = cls(db_url)
            return events

    def __init__(self, db_url: str):
        self.db_url = db_url
        self._queue: queue.Queue[Callable[[UsageRecorder], None] | None] = queue.Queue()
        self._waiting: deque[Callable[[UsageRecorder], None]] = deque(maxlen=MAX_WAITING)
        self._recorder: UsageRecorder | None = None
        self._thread = threading.Thread(target=self._run, name="jhm-usage-events", daemon=True)
        self._thread.start()
        atexit.register(self.flush_and_stop)

    # -- what the spawners call (never raises, never blocks) ---------------------------------

    def started(self, facts: SessionFacts) -> None:
        self._queue.put(lambda recorder: recorder.record_start(facts))

    def stopped(self, facts: SessionFacts, *, seen: bool, last_activity: Any = None) -> None:
        """``seen``: the spawner stopped it (now); else it was found gone, and is closed at
        its last known activity."""
        if seen:
            stopped_at = round(time.time(), 3)
            self._queue.put(lambda recorder: recorder.record_stop(facts, stopped_at))
            return
        stopped_at = epoch(last_activity) or facts.last_activity_at or facts.started_at
        self._queue.put(
            lambda recorder: recorder.record_stop(
                facts, stopped_at, source=LAST_ACTIVITY, last_activity_at=stopped_at
            )
        )

    # -- the writer thread --------------------------------------------------------------------

    def _recorder_or_none(self) -> UsageRecorder | None:
        if self._recorder is None:
            from ..store import create_engine_for, upgrade

            engine = create_engine_for(self.db_url)
            upgrade(engine)
            self._recorder = UsageRecorder(engine)
        return self._recorder

    def _write(self, write: Callable[[UsageRecorder], None]) -> bool:
        try:
            write(self._recorder_or_none())
            return True
        except Exception as e:
            if len(self._waiting) == self._waiting.maxlen:
                log.error("Usage events: %d writes waiting, dropping the oldest", MAX_WAITING)
            log.warning("Usage events: can't write to the usage store (will retry): %s", e)
            self._waiting.append(write)
            return False

    def _retry_waiting(self) -> None:
        while self._waiting:
            write = self._waiting[0]
            try:
                write(self._recorder_or_none())
            except Exception:
                return
            self._waiting.popleft()
        log.info("Usage events: the usage store can be written again")

    def _run(self) -> None:
        while True:
            try:
                write = self._queue.get(timeout=RETRY_SECONDS if self._waiting else None)
            except queue.Empty:
                self._retry_waiting()
                continue
            if write is None:
                self._queue.task_done()
                return
            if self._waiting:
                self._retry_waiting()
            if self._waiting:
                self._waiting.append(write)
            else:
                self._write(write)
            self._queue.task_done()

    def flush(self, timeout: float = 10) -> bool:
        """Wait until every queued write was tried; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def flush_and_stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)


class UsageEventHooks(HasTraits):
    """Part of :class:`~jhub_managed.spawner.ManagedSpawnerMixin`: the spawner's hooks that
    record a server's session when it starts and when it stops, when the spawner's
    ``usage_events`` is on."""

    _usage_facts = None
    _usage_stop_requested = False
    _usage_seen: tuple = (None, None)

    def _usage_session_facts(self, started):
        """This server's session as the usage store keeps it; ``None`` if it can't be said."""
        try:
            selection = self.managed_selection
            if selection is None and self.user_options and self.managed_profiles():
                try:
                    selection = self.select(self.user_options)
                except Exception:
                    selection = None
            authenticator = getattr(self, "authenticator", None)
            return session_facts(
                user_name=self.user.name,
                server_name=self.name,
                started=started,
                groups=self.user_group_names(),
                user_options=self.user_options,
                profile=selection.profile if selection else None,
                spawner_resources={k: getattr(self, k, None) for k in RESOURCE_TRAITS},
                override=selection.override if selection else None,
                last_activity=self.orm_spawner.last_activity,
                staff_group=getattr(authenticator, "staff_group", self.managed_hub.staff_group),
                check_user=getattr(authenticator, "health_check_user", DEFAULT_CHECK_USER),
            )
        except Exception:
            self.log.exception("Usage: can't describe the session of %s", spawner_log_name(self))
            return None

    def run_pre_spawn_hook(self):
        """The hub has set ``started``: the session begins (recorded in the background)."""
        if self.usage_events:
            self._usage_stop_requested = False
            self._usage_facts = self._usage_session_facts(self.orm_spawner.started)
            if self._usage_facts is not None:
                UsageEvents.for_store(self.managed_hub.db_url).started(self._usage_facts)
        return super().run_pre_spawn_hook()

    async def poll(self):
        # the hub clears ``started`` and moves ``last_activity`` before the post-stop hook:
        # remember them while the server is known to run
        orm_spawner = getattr(self, "orm_spawner", None)
        if orm_spawner is not None and orm_spawner.started:
            self._usage_seen = (orm_spawner.started, orm_spawner.last_activity)
        return await super().poll()

    async def stop(self, now=False):
        self._usage_stop_requested = True
        return await super().stop(now=now)

    def run_post_stop_hook(self):
        """The session ends: seen stopping, or found gone (closed at its last activity)."""
        if self.usage_events:
            try:
                facts = self._usage_facts
                started, last_activity = self._usage_seen
                if facts is None and started is not None:
                    facts = self._usage_session_facts(started)
                if facts is not None:
                    UsageEvents.for_store(self.managed_hub.db_url).stopped(
                        facts,
                        seen=self._usage_stop_requested,
                        last_activity=last_activity,
                    )
            except Exception:
                self.log.exception("Usage: can't record the stop of %s", spawner_log_name(self))
            self._usage_facts = None
            self._usage_seen = (None, None)
            self._usage_stop_requested = False
        return super().run_post_stop_hook()
