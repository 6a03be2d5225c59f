"""SQLAlchemy models of what jhub-managed keeps: settings versions and usage sessions."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class SettingsVersion(Base):
    """One saved version of a hub's settings. Versions are never changed or deleted.

    ``version`` is the primary key and is chosen by the writer as the previous version + 1,
    so two admins saving from the same version collide on the key and exactly one wins.
    """

    __tablename__ = "jhm_settings_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    author: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[dict] = mapped_column(JSON)
    #: the version this one restored, if it was made by a restore
    restored_from: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def summary(self) -> dict:
        created = self.created
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        return {
            "version": self.version,
            "created": created.isoformat() if created else None,
            "author": self.author,
            "comment": self.comment,
            "restored_from": self.restored_from,
        }


class UsageSession(Base):
    """One server session: from the hub's ``started`` to its stop, with what it asked for.

    Times are UTC seconds since the epoch (floats, rounded to the millisecond): the reports
    clip and sum them in SQL the same way on SQLite and PostgreSQL. A session is identified
    by user, server name and start time, so recording it again (the spawner's event, then the
    collector's poll) changes the one row instead of adding another.
    """

    __tablename__ = "jhm_usage_sessions"
    __table_args__ = (
        UniqueConstraint("user_name", "server_name", "started_at", name="uq_jhm_usage_session"),
        Index("ix_jhm_usage_sessions_started_at", "started_at"),
        Index("ix_jhm_usage_sessions_open", "stopped_at"),
        Index("ix_jhm_usage_sessions_user", "user_name", "started_at"),
        # the longest session, read at once: reports look back only that far
        Index("ix_jhm_usage_sessions_duration", text("(stopped_at - started_at)")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_name: Mapped[str] = mapped_column(String(255))
    server_name: Mapped[str] = mapped_column(String(255), default="")
    started_at: Mapped[float] = mapped_column(Float)
    last_activity_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    stopped_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: how the stop was known: ``spawner`` (seen stopping) or ``last_activity`` (it ended
    #: while nobody watched and was closed at its last known activity); empty while running
    stop_source: Mapped[str] = mapped_column(String(32), default="")
    #: how the start was known: ``spawner`` (the managed spawner's event) or ``poll``
    start_source: Mapped[str] = mapped_column(String(32), default="")
    groups: Mapped[list] = mapped_column(JSON, default=list)
    profile: Mapped[str] = mapped_column(String(255), default="")
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    cpu_guarantee: Mapped[float | None] = mapped_column(Float, nullable=True)
    cpu_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: bytes
    mem_guarantee: Mapped[float | None] = mapped_column(Float, nullable=True)
    mem_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    gpu_guarantee: Mapped[float | None] = mapped_column(Float, nullable=True)
    gpu_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: who pays (see :mod:`jhub_managed.store.attribution`): a group, ``none``,
    #: ``multiple``, ``staff`` or the health-check user's marker
    billing_group: Mapped[str] = mapped_column(String(255))
    billable: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the session's figures, written when it stops (empty while it runs): its seconds and
    #: its requested CPU-, byte- and GPU-seconds, as the reports count them
    #: (:func:`jhub_managed.store.usage.stopped_figures`), so that a report sums the
    #: sessions wholly inside its range instead of working out each one
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    cpu_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    mem_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    gpu_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)


class UsageShare(Base):
    """The share of a session each group pays when the operator splits sessions evenly.

    One row per session and group (a session billed to one group has one row with share 1).
    """

    __tablename__ = "jhm_usage_shares"
    __table_args__ = (Index("ix_jhm_usage_shares_group", "group_name"),)

    session_id: Mapped[int] = mapped_column(
        ForeignKey("jhm_usage_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    group_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    share: Mapped[float] = mapped_column(Float)


class UsageActiveDay(Base):
    """A user had billable server time on a day (UTC): what active-user counts are made of.

    Written with the sessions (their first day when they start, every day up to their stop
    when they stop, and up to today while they run), so that counting active users is an
    index range scan instead of a pass over the sessions.
    """

    __tablename__ = "jhm_usage_active_days"

    #: days since 1970-01-01 (UTC)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_name: Mapped[str] = mapped_column(String(255), primary_key=True)


class UsageActiveWeek(Base):
    """A user had billable server time in an ISO week (Monday first, UTC): written with
    :class:`UsageActiveDay`, so that weekly active users are counted, not worked out."""

    __tablename__ = "jhm_usage_active_weeks"

    #: the week's Monday, in days since 1970-01-01
    week: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_name: Mapped[str] = mapped_column(String(255), primary_key=True)


class UsageActiveMonth(Base):
    """A user had billable server time in a calendar month (UTC), on ``days`` of its days:
    written with :class:`UsageActiveDay`, so that a month's active users and its active
    user-days are counted from one row per user."""

    __tablename__ = "jhm_usage_active_months"

    #: the month's first day, in days since 1970-01-01
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, default=0)
