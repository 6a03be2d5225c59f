"""The settings store: versions of the hub's settings, read cheaply, written safely."""

from __future__ import annotations

import importlib.util
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .models import SettingsVersion, utcnow

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class SettingsConflict(Exception):
    """Someone saved a new version after the one the writer started from."""

    def __init__(self, expected: int, current: int):
        super().__init__(f"settings are at version {current}, not {expected}")
        self.expected = expected
        self.current = current


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` URLs when only psycopg 3 is installed."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        elif parsed.drivername == "postgres":
            parsed = parsed.set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with any password hidden, for logs and pages."""
    return make_url(url).render_as_string(hide_password=True)


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"timeout": 15})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA busy_timeout=15000")
                # Switching a new database to WAL needs it to itself, and SQLite answers
                # "database is locked" at once, without the busy wait, while another process
                # is doing the same (the hub and its services starting on a new file).
                deadline = time.monotonic() + 15
                while True:
                    try:
                        cursor.execute("PRAGMA journal_mode=WAL")
                        break
                    except sqlite3.OperationalError as e:
                        if "locked" not in str(e) or time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
            finally:
                cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


#: Alembic's ``context`` is one module-level proxy per process, so two threads migrating at
#: once would run each other's statements (on SQLite that can crash the interpreter)
_UPGRADE_LOCK = threading.Lock()
#: PostgreSQL advisory lock that lets one process at a time migrate ("jhm")
MIGRATION_LOCK_KEY = 0x6A686D


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to the newest schema (idempotent).

    Safe when several processes (the hub and its services) start on a new database at once:
    the first migrates while the others wait, then find nothing left to do.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _UPGRADE_LOCK, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        elif connection.dialect.name == "sqlite":
            # pysqlite runs DDL outside any transaction unless one is open: take the write
            # lock now, so the migration is one transaction and other writers wait for it
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


class SettingsStore:
    """Read and write settings versions.

    ``current_version()`` is one indexed query, cheap enough to run on every spawn.
    """

    def __init__(self, url_or_engine: str | Engine, *, migrate: bool = True):
        if isinstance(url_or_engine, str):
            self.engine = create_engine_for(url_or_engine)
        else:
            self.engine = url_or_engine
        if migrate:
            upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return safe_url(self.engine.url.render_as_string(hide_password=False))

    def session(self) -> Session:
        return self._sessions()

    def current_version(self) -> int:
        """The newest version number, 0 when nothing was ever saved."""
        with self.session() as session:
            return session.scalar(select(func.max(SettingsVersion.version))) or 0

    def get(self, version: int) -> SettingsVersion | None:
        with self.session() as session:
            return session.get(SettingsVersion, version)

    def latest(self) -> SettingsVersion | None:
        with self.session() as session:
            return session.scalars(
                select(SettingsVersion).order_by(SettingsVersion.version.desc()).limit(1)
            ).first()

    def history(self, limit: int = 100, before: int | None = None) -> list[SettingsVersion]:
        """Versions newest first; ``before`` pages back from a version number."""
        query = select(SettingsVersion).order_by(SettingsVersion.version.desc()).limit(limit)
        if before is not None:
            query = query.where(SettingsVersion.version < before)
        with self.session() as session:
            return list(session.scalars(query))

    def save(
        self,
        document: dict,
        *,
        author: str,
        comment: str = "",
        expected_version: int,
        restored_from: int | None = None,
    ) -> SettingsVersion:
        """Store ``document`` as the version after ``expected_version``.

        Raises :class:`SettingsConflict` when ``expected_version`` is not the newest, and
        writes nothing then. The caller validates ``document`` first.
        """
        new = SettingsVersion(
            version=expected_version + 1,
            created=utcnow(),
            author=author,
            comment=comment,
            document=document,
            restored_from=restored_from,
        )
        with self.session() as session:
            current = session.scalar(select(func.max(SettingsVersion.version))) or 0
            if current != expected_version:
                raise SettingsConflict(expected_version, current)
            session.add(new)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                raise SettingsConflict(expected_version, self.current_version()) from None
        log.info(
            "settings version %d saved by %s%s",
            new.version,
            author,
            f" (restored from version {restored_from})" if restored_from else "",
        )
        return new

    def dispose(self) -> None:
        self.engine.dispose()
