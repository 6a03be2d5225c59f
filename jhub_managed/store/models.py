"""SQLAlchemy models of what jhub-managed keeps: settings versions (more tables follow)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Integer, String, Text
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
