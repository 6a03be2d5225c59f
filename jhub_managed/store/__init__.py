"""Persistent state of jhub-managed: SQLAlchemy 2 models with Alembic migrations.

SQLite by default (a file in the hub's data directory); any SQLAlchemy URL works, PostgreSQL
in production.
"""

from .models import Base, SettingsVersion
from .store import SettingsConflict, SettingsStore, create_engine_for, upgrade

__all__ = [
    "Base",
    "SettingsConflict",
    "SettingsStore",
    "SettingsVersion",
    "create_engine_for",
    "upgrade",
]
