"""Recording server sessions: one row per session, however often and from wherever it is seen.

Two writers feed the same table: the managed spawners (exact start and stop, from inside the
hub) and the usage service's collector (polls the hub's REST API and catches what events
missed). Both are idempotent and may run in any order:

- a start is an insert that does nothing when the session (user, server, start) is there;
- a stop closes the session, or inserts it whole when its start was never recorded; an
  exact stop replaces a stop that was only guessed from the last activity;
- a poll updates the last activity of what runs, opens what it did not know, and closes at
  their last activity the sessions that ended while nobody watched.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Engine, Float, and_, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement

from .attribution import Attribution
from .models import (
    UsageActiveDay,
    UsageActiveMonth,
    UsageActiveWeek,
    UsageSession,
    UsageShare,
)

log = logging.getLogger(__name__)

#: how a start or stop was known
SPAWNER = "spawner"
POLL = "poll"
LAST_ACTIVITY = "last_activity"

RESOURCE_KEYS = (
    "cpu_guarantee",
    "cpu_limit",
    "mem_guarantee",
    "mem_limit",
    "gpu_guarantee",
    "gpu_limit",
)


def epoch(value: datetime | str | float | int | None) -> float | None:
    """UTC seconds since the epoch, rounded to the millisecond, of a hub time.

    The hub keeps naive UTC datetimes and its API answers ISO 8601 with ``Z``; both sources
    of one start give the same number, so the session is found again.
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(float(value), 3)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return round(value.timestamp(), 3)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _gpus(resources: Mapping[str, Any] | None) -> float | None:
    total = None
    for key, value in (resources or {}).items():
        if str(key).endswith("/gpu") or str(key) == "gpu":
            amount = _number(value)
            if amount is not None:
                total = (total or 0.0) + amount
    return total


def requested_resources(*layers: Mapping[str, Any] | None) -> dict[str, float | None]:
    """CPU (cores), memory (bytes) and GPUs, guarantee and limit, from spawner settings.

    ``layers`` are kubespawner-style settings (the spawner's own, then the profile's
    ``kubespawner_override``); later ones win. GPUs come from ``extra_resource_limits`` and
    ``extra_resource_guarantees`` (any ``*/gpu`` resource, e.g. ``nvidia.com/gpu``).
    """
    # imported here: the settings package is slow to import, and the usage service's pages
    # and reports do not need it
    from ..settings.quantities import parse_memory

    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is not None:
                merged[key] = value
    result: dict[str, float | None] = {}
    for key in ("cpu_guarantee", "cpu_limit"):
        result[key] = _number(merged.get(key))
    for key in ("mem_guarantee", "mem_limit"):
        try:
            result[key] = _number(parse_memory(merged.get(key)))
        except ValueError:
            result[key] = None
    result["gpu_guarantee"] = _gpus(merged.get("extra_resource_guarantees"))
    result["gpu_limit"] = _gpus(merged.get("extra_resource_limits"))
    # kubespawner and JupyterHub treat 0 as "not set"
    return {k: (v if v else None) for k, v in result.items()}


_T = UsageSession.__table__.c


def requested_rates() -> dict[str, ColumnElement]:
    """What a session is counted for each second it runs: CPUs and bytes of memory (the
    guarantee, else the limit), GPUs (the limit, else the guarantee); 0 when not set."""
    return {
        "cpu": func.coalesce(_T.cpu_guarantee, _T.cpu_limit, 0.0),
        "mem": func.coalesce(_T.mem_guarantee, _T.mem_limit, 0.0),
        "gpu": func.coalesce(_T.gpu_limit, _T.gpu_guarantee, 0.0),
    }


def stopped_figures(stopped_at: float) -> dict[str, ColumnElement]:
    """The figures a session keeps once it stops at ``stopped_at`` (the values of an
    ``UPDATE`` of its row): its seconds and its CPU-, byte- and GPU-seconds."""
    seconds = literal(stopped_at, Float) - _T.started_at
    rates = requested_rates()
    return {
        "seconds": seconds,
        "cpu_seconds": seconds * rates["cpu"],
        "mem_seconds": seconds * rates["mem"],
        "gpu_seconds": seconds * rates["gpu"],
    }


@dataclass
class SessionFacts:
    """What is known of a session when it starts (or is first seen)."""

    user_name: str
    server_name: str
    started_at: float
    attribution: Attribution
    groups: list[str] = field(default_factory=list)
    profile: str = ""
    options: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)
    last_activity_at: float | None = None

    def row(self, source: str) -> dict[str, Any]:
        return {
            "user_name": self.user_name,
            "server_name": self.server_name,
            "started_at": self.started_at,
            "last_activity_at": self.last_activity_at or self.started_at,
            "stopped_at": None,
            "stop_source": "",
            "start_source": source,
            "groups": list(self.groups),
            "profile": self.profile or "",
            "options": dict(self.options or {}),
            **{k: self.resources.get(k) for k in RESOURCE_KEYS},
            "billing_group": self.attribution.group,
            "billable": self.attribution.billable,
        }


@dataclass
class ObservedServer:
    """A server the hub's REST API lists as active."""

    user_name: str
    server_name: str
    started_at: float
    last_activity_at: float | None


@dataclass
class ReconcileResult:
    opened: int = 0
    updated: int = 0
    closed: int = 0


def _insert_ignore(connection, values: dict[str, Any]) -> int | None:
    """Insert a session unless it is there; the id of the new row, else ``None``."""
    dialect = connection.dialect.name
    table = UsageSession.__table__
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing(
            constraint="uq_jhm_usage_session"
        )
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - the store runs on SQLite and PostgreSQL
        raise NotImplementedError(dialect)
    result = connection.execute(statement.values(**values).returning(table.c.id))
    row = result.first()
    return row[0] if row else None


def days_of(started_at: float, ended_at: float) -> range:
    """The UTC days (since the epoch) a stretch of time touches."""
    first = int(started_at // 86400)
    last = int(max(started_at, ended_at - 0.001) // 86400)
    return range(first, last + 1)


def week_of(day: int) -> int:
    """The Monday of the ISO week of ``day`` (both in days since 1970-01-01, a Thursday)."""
    return day - (day + 3) % 7


def month_of(day: int) -> int:
    """The first day of the month of ``day`` (both in days since 1970-01-01)."""
    moment = date.fromordinal(EPOCH_ORDINAL + day)
    return moment.replace(day=1).toordinal() - EPOCH_ORDINAL


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _mark_active(connection, pairs: set[tuple[int, str]]) -> None:
    """Record that these (day, user) had billable server time (idempotent): the days not
    recorded yet are added to their ISO weeks, and counted in their months."""
    if not pairs:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    days = UsageActiveDay.__table__
    new = connection.execute(
        insert(days).on_conflict_do_nothing().returning(days.c.day, days.c.user_name),
        [{"day": d, "user_name": u} for d, u in sorted(pairs)],
    ).all()
    if not new:
        return
    weeks = sorted({(week_of(day), user) for day, user in new})
    connection.execute(
        insert(UsageActiveWeek.__table__).on_conflict_do_nothing(),
        [{"week": w, "user_name": u} for w, u in weeks],
    )
    months = Counter((month_of(day), user) for day, user in new)
    statement = insert(UsageActiveMonth.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["month", "user_name"],
        set_={"days": UsageActiveMonth.__table__.c.days + statement.excluded.days},
    )
    connection.execute(
        statement, [{"month": m, "user_name": u, "days": n} for (m, u), n in sorted(months.items())]
    )


def _active_pairs(user_name: str, started_at: float, ended_at: float, billable: bool):
    if not billable:
        return set()
    return {(day, user_name) for day in days_of(started_at, ended_at)}


def _insert_shares(connection, session_id: int, attribution: Attribution) -> None:
    connection.execute(
        UsageShare.__table__.insert(),
        [{"session_id": session_id, "group_name": g, "share": s} for g, s in attribution.shares],
    )


def _key(user_name: str, server_name: str, started_at: float):
    return and_(
        _T.user_name == user_name, _T.server_name == server_name, _T.started_at == started_at
    )


class UsageRecorder:
    """Writes sessions into the store. Every method is one transaction and idempotent."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def record_start(self, facts: SessionFacts, source: str = SPAWNER) -> bool:
        """Open the session; ``False`` when it was already recorded."""
        with self.engine.begin() as connection:
            session_id = _insert_ignore(connection, facts.row(source))
            if session_id is not None:
                _insert_shares(connection, session_id, facts.attribution)
                _mark_active(
                    connection,
                    _active_pairs(
                        facts.user_name,
                        facts.started_at,
                        facts.started_at,
                        facts.attribution.billable,
                    ),
                )
        return session_id is not None

    def record_stop(
        self,
        facts: SessionFacts,
        stopped_at: float,
        *,
        source: str = SPAWNER,
        last_activity_at: float | None = None,
    ) -> None:
        """Close the session ``facts`` names at ``stopped_at``.

        ``source`` is ``spawner`` when the stop was seen, ``last_activity`` when the server
        was found gone and ``stopped_at`` is its last known activity. A seen stop replaces a
        guessed one; a guessed one never replaces anything. A session whose start was never
        recorded is recorded now, whole.
        """
        stopped_at = max(stopped_at, facts.started_at)
        key = _key(facts.user_name, facts.server_name, facts.started_at)
        with self.engine.begin() as connection:
            session_id = _insert_ignore(connection, facts.row(SPAWNER))
            if session_id is not None:
                _insert_shares(connection, session_id, facts.attribution)
            replaceable = _T.stopped_at.is_(None)
            if source == SPAWNER:
                replaceable = replaceable | (_T.stop_source == LAST_ACTIVITY)
            values: dict[str, Any] = {
                "stopped_at": stopped_at,
                "stop_source": source,
                **stopped_figures(stopped_at),
            }
            if last_activity_at is not None:
                values["last_activity_at"] = max(last_activity_at, facts.started_at)
            changed = connection.execute(
                update(UsageSession).where(key, replaceable).values(**values).returning(_T.billable)
            ).first()
            if changed is not None:
                _mark_active(
                    connection,
                    _active_pairs(facts.user_name, facts.started_at, stopped_at, changed[0]),
                )

    def reconcile(
        self,
        observed: Iterable[ObservedServer],
        facts_for: Any,
        *,
        snapshot_at: float,
    ) -> ReconcileResult:
        """Bring the store in line with one poll of the hub.

        ``observed`` are the servers the hub listed; ``facts_for(server)`` makes the
        :class:`SessionFacts` of one not seen before. ``snapshot_at`` is when the poll began:
        sessions started after it may simply not be in the answer yet, so they are left
        alone. An open session the hub no longer lists ended while nobody watched: it is
        closed at its last known activity.
        """
        result = ReconcileResult()
        with self.engine.begin() as connection:
            open_rows = _open_sessions(connection)
            active: set[tuple[int, str]] = set()
            by_server: dict[tuple[str, str], list] = {}
            for row in open_rows:
                by_server.setdefault((row.user_name, row.server_name), []).append(row)
            seen_ids: set[int] = set()
            for server in observed:
                rows = by_server.get((server.user_name, server.server_name), [])
                match = next((r for r in rows if r.started_at == server.started_at), None)
                if match is not None:
                    seen_ids.add(match.id)
                    active |= _active_pairs(
                        match.user_name, match.started_at, snapshot_at, match.billable
                    )
                    result.updated += _follow(connection, match, server)
                    continue
                facts = facts_for(server)
                if facts is not None:
                    opened = _open_polled(connection, facts, snapshot_at)
                    if opened is not None:
                        active |= opened
                        result.opened += 1
            for row in open_rows:
                if row.id in seen_ids or row.started_at >= snapshot_at:
                    continue
                active |= _close_unseen(connection, row)
                result.closed += 1
            _mark_active(connection, active)
        return result


def _open_sessions(connection) -> list:
    """The sessions the store holds open."""
    return connection.execute(
        select(
            _T.id,
            _T.user_name,
            _T.server_name,
            _T.started_at,
            _T.last_activity_at,
            _T.billable,
        ).where(_T.stopped_at.is_(None))
    ).all()


def _follow(connection, match, server: ObservedServer) -> int:
    """Move an open session's last activity to what the poll saw; 1 when it moved."""
    if server.last_activity_at and server.last_activity_at > (match.last_activity_at or 0):
        connection.execute(
            update(UsageSession)
            .where(_T.id == match.id)
            .values(last_activity_at=server.last_activity_at)
        )
        return 1
    return 0


def _open_polled(connection, facts: SessionFacts, snapshot_at: float):
    """Open a session the poll found and the store did not know; its active (day, user)
    pairs, or ``None`` when it was there after all."""
    session_id = _insert_ignore(connection, facts.row(POLL))
    if session_id is None:
        return None
    _insert_shares(connection, session_id, facts.attribution)
    return _active_pairs(
        facts.user_name,
        facts.started_at,
        max(snapshot_at, facts.started_at),
        facts.attribution.billable,
    )


def _close_unseen(connection, row) -> set[tuple[int, str]]:
    """Close at its last known activity an open session the hub no longer lists; its
    active (day, user) pairs."""
    closed_at = max(row.last_activity_at or row.started_at, row.started_at)
    connection.execute(
        update(UsageSession)
        .where(_T.id == row.id, _T.stopped_at.is_(None))
        .values(
            stopped_at=closed_at,
            stop_source=LAST_ACTIVITY,
            **stopped_figures(closed_at),
        )
    )
    return _active_pairs(row.user_name, row.started_at, closed_at, row.billable)
