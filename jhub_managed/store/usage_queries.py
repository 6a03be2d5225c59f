"""Reading the recorded sessions: the SQL of the usage reports, charts and metrics.

Every query over the sessions is built here, from a few shared parts: the sessions joined to
their groups' shares (:func:`sessions_table`, the one place that join is written), the column
a row is keyed by (:func:`key_column`), and each session clipped to a range
(:func:`clipped`). The functions answer plain rows; what is made of them (hours, cost,
totals, series) is worked out by the usage service (:mod:`jhub_managed.services.usage.reports`).

Times are UTC seconds since the epoch; a range is ``[rs, re)``; ``now`` is when a session
still running is counted up to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Float, Integer, and_, case, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.functions import FunctionElement

from .models import UsageSession, UsageShare
from .usage import requested_rates

DAY = 86400.0

_T = UsageSession.__table__.c
_S = UsageShare.__table__.c


class whole_days(FunctionElement):
    """The whole number of days in a non-negative number of seconds.

    ``CAST(x AS INTEGER)`` truncates on SQLite but rounds on PostgreSQL, which has
    ``floor``; SQLite may be built without it.
    """

    type = Integer()
    inherit_cache = True
    name = "whole_days"


@compiles(whole_days)
def _whole_days_sqlite(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)}) / {DAY} AS INTEGER)"


@compiles(whole_days, "postgresql")
def _whole_days_postgresql(element, compiler, **kw):
    return f"CAST(floor(({compiler.process(element.clauses, **kw)}) / {DAY}) AS INTEGER)"


# -- the shared parts ------------------------------------------------------------------------


def sessions_table(shares: bool) -> FromClause:
    """The sessions, joined to their groups' shares when ``shares`` (one row per session and
    group it is split between)."""
    table = UsageSession.__table__
    if shares:
        table = table.join(UsageShare.__table__, _S.session_id == _T.id)
    return table


def share_column(shares: bool) -> ColumnElement:
    """The part of a session a row stands for: its share, or the whole of it."""
    return _S.share if shares else literal(1.0, Float)


def key_column(key: str, split: bool) -> ColumnElement:
    """The column of a row's ``user``, ``profile``, ``billable`` or ``group``: the group
    billed, or with ``split`` each group the session is shared between."""
    if key == "user":
        return _T.user_name
    if key == "profile":
        return _T.profile
    if key == "billable":
        return _T.billable
    return _S.group_name if split else _T.billing_group


def clipped(rs: float, re: float, now: float) -> tuple[ColumnElement, ColumnElement]:
    """Start and end of each session clipped to ``[rs, re)``, running ones up to ``now``."""
    stop = func.coalesce(_T.stopped_at, literal(now, Float))
    end_clip = case((stop < re, stop), else_=literal(re, Float))
    start_clip = case((_T.started_at > rs, _T.started_at), else_=literal(rs, Float))
    return start_clip, end_clip


#: the longest closed session: answered from the index on the duration
LONGEST_SESSION = select(func.max(_T.stopped_at - _T.started_at))


def longest_session(connection) -> float:
    return float(connection.execute(LONGEST_SESSION).scalar() or 0.0)


def _overlaps(rs: float, re: float, now: float, longest: float) -> ColumnElement:
    """Sessions with time in ``[rs, re)``.

    A closed session that overlaps started at most ``longest`` seconds before ``rs``, so
    both branches are index range scans (starts in a window; open sessions), not a pass
    over every session that started before the range ends.
    """
    closed = and_(
        _T.started_at >= rs - longest - 1.0,
        _T.started_at < re,
        _T.stopped_at > rs,
    )
    still_open = and_(_T.stopped_at.is_(None), _T.started_at < re, literal(now, Float) > rs)
    return or_(closed, still_open)


def _cut_by_range(rs: float, re: float, now: float, longest: float) -> ColumnElement:
    """Sessions with time in ``[rs, re)`` that are not wholly inside it: cut by its start,
    by its end, or still running. Each branch is an index range scan."""
    # the stop said as "stopped_at + 0": the same value, but not one the planner would read
    # from the stop's index, which holds nearly every session stopped since the range began
    stopped = _T.stopped_at + 0.0
    return or_(
        and_(_T.started_at >= rs - longest - 1.0, _T.started_at < rs, stopped > rs),
        and_(_T.started_at >= max(rs, re - longest - 1.0), _T.started_at < re, stopped > re),
        and_(_T.stopped_at.is_(None), _T.started_at < re, literal(now, Float) > rs),
    )


# -- figures of a range ----------------------------------------------------------------------


def _inside_query(keys: list, shares: bool, rs: float, re: float):
    """Sessions wholly inside the range: the figures they keep from their stop
    (:func:`~jhub_managed.store.usage.stopped_figures`), added up."""

    def weighted(column):
        return column * _S.share if shares else column

    return select(
        *keys,
        (func.sum(_S.share) if shares else func.count()).label("sessions"),
        func.sum(weighted(_T.seconds)).label("seconds"),
        func.sum(weighted(_T.cpu_seconds)).label("cpu"),
        func.sum(weighted(_T.mem_seconds)).label("mem"),
        func.sum(weighted(_T.gpu_seconds)).label("gpu"),
        literal(0.0, Float).label("running"),
    ).where(
        _T.started_at >= rs,
        _T.started_at < re,
        _T.stopped_at <= re,
        # stopped after rs (it stopped at or after its start): said as "not at rs", so that
        # the planner scans the start's index, in the order the rows were written
        _T.stopped_at != rs,
    )


def _cut_query(keys: list, shares: bool, rs: float, re: float, now: float):
    """Sessions cut by the range's ends, or still running: clipped to it here."""
    start_clip, end_clip = clipped(rs, re, now)
    share = share_column(shares)
    duration = (end_clip - start_clip) * _S.share if shares else end_clip - start_clip
    rates = requested_rates()
    return select(
        *keys,
        (func.sum(_S.share) if shares else func.count()).label("sessions"),
        func.sum(duration).label("seconds"),
        func.sum(duration * rates["cpu"]).label("cpu"),
        func.sum(duration * rates["mem"]).label("mem"),
        func.sum(duration * rates["gpu"]).label("gpu"),
        func.sum(case((_T.stopped_at.is_(None), share), else_=0.0)).label("running"),
    )


def range_figures(
    engine: Engine,
    *,
    rs: float,
    re: float,
    now: float,
    group_by: str,
    split: bool,
    by_profile: bool = True,
    user_name: str | None = None,
) -> list[Any]:
    """Rows per (key, billable[, profile]): sessions, seconds and resource-seconds.

    ``key`` is the user, group or profile (``group_by``); ``split`` shares a session between
    its groups (``group_by="group"`` only); ``by_profile`` keeps the rows of each profile
    apart (``profile_slug``); ``user_name`` reads that user's sessions only. Two queries over
    disjoint sessions (wholly inside the range; cut by it or running): a key may have a row
    from each, to be added up.
    """
    shares = split and group_by == "group"
    keys = [key_column(group_by, split).label("key"), _T.billable.label("billable")]
    if by_profile:
        keys.append(_T.profile.label("profile_slug"))
    rows = []
    with engine.connect() as connection:
        longest = longest_session(connection)
        for query in (
            _inside_query(keys, shares, rs, re),
            _cut_query(keys, shares, rs, re, now).where(_cut_by_range(rs, re, now, longest)),
        ):
            if user_name is not None:
                query = query.where(_T.user_name == user_name)
            query = query.select_from(sessions_table(shares)).group_by(*keys)
            rows += connection.execute(query).all()
    return rows


def daily_figures(
    engine: Engine,
    *,
    rs: float,
    re: float,
    now: float,
    group_by: str,
    split: bool,
    billable_only: bool = True,
) -> tuple[list[Any], list[Any]]:
    """The seconds in the range by key and day, as two lists of rows.

    The first holds the sessions (clipped to the range) within one UTC day, added up per
    ``(key, day, seconds)``, ``day`` counted from ``rs``; the second the sessions over more
    than one day, one ``(key, s, e, share)`` row each (clipped start and end), for the
    caller to cut at midnight.
    """
    start_clip, end_clip = clipped(rs, re, now)
    shares = split and group_by == "group"
    share = share_column(shares)
    key = key_column(group_by, split).label("key")
    d0 = whole_days(start_clip - rs)
    d1 = whole_days(end_clip - rs - 0.001)
    table = sessions_table(shares)
    with engine.connect() as connection:
        longest = longest_session(connection)
        condition = and_(_overlaps(rs, re, now, longest), end_clip > start_clip)
        if billable_only:
            condition = and_(condition, _T.billable.is_(True))
        one_day = (
            select(key, d0.label("day"), func.sum((end_clip - start_clip) * share).label("seconds"))
            .select_from(table)
            .where(condition, d0 == d1)
            .group_by(key, d0)
        )
        many_days = (
            select(key, start_clip.label("s"), end_clip.label("e"), share.label("share"))
            .select_from(table)
            .where(condition, d0 != d1)
        )
        return connection.execute(one_day).all(), connection.execute(many_days).all()


# -- what runs now, and the hours of every session -------------------------------------------


def running_of_user(engine: Engine, user_name: str) -> list[Any]:
    """The user's sessions still running, oldest first: ``server_name, profile,
    started_at``."""
    with engine.connect() as connection:
        return connection.execute(
            select(_T.server_name, _T.profile, _T.started_at)
            .where(_T.user_name == user_name, _T.stopped_at.is_(None))
            .order_by(_T.started_at)
        ).all()


def running_count(connection, by: Sequence[str], *, split: bool = False) -> list[Any]:
    """Sessions running now, by the keys ``by`` (see :func:`key_column`): one row of the
    keys and the count each (shares of sessions with ``split`` and a ``group`` key)."""
    shares = split and "group" in by
    keys = [key_column(name, split) for name in by]
    count = func.sum(share_column(True)) if shares else func.count()
    return connection.execute(
        select(*keys, count)
        .select_from(sessions_table(shares))
        .where(_T.stopped_at.is_(None))
        .group_by(*keys)
    ).all()


def seconds_by(
    connection,
    by: Sequence[str],
    *,
    now: float,
    split: bool = False,
    stopped_from: float,
    stopped_before: float | None = None,
) -> list[Any]:
    """Seconds of sessions by the keys ``by``: those stopped in ``[stopped_from,
    stopped_before)``, or with no ``stopped_before`` those stopped from ``stopped_from`` on
    and those still running (up to ``now``). Rows of the keys and ``seconds``."""
    shares = split and "group" in by
    keys = [key_column(name, split) for name in by]
    stop = func.coalesce(_T.stopped_at, literal(now, Float))
    seconds = func.sum(
        case((stop > _T.started_at, stop - _T.started_at), else_=0.0) * share_column(shares)
    )
    if stopped_before is None:
        condition = or_(_T.stopped_at >= stopped_from, _T.stopped_at.is_(None))
    else:
        condition = and_(_T.stopped_at >= stopped_from, _T.stopped_at < stopped_before)
    return connection.execute(
        select(*keys, seconds.label("seconds"))
        .select_from(sessions_table(shares))
        .where(condition)
        .group_by(*keys)
    ).all()
