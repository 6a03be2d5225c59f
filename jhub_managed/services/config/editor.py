"""Saving and restoring the hub's settings: what the API and the pages share.

A save stores the whole document a hub admin sent as the new top layer (the admin-edits
layer) over the operator's defaults and the hub's values, after checking what it adds or
changes in the resolved result against the schema, the operator's ceilings, the rules a
schema can't say and the allow-list (what the operator's layers hold is the operator's, and
never makes a save fail: see :mod:`jhub_managed.settings.admin`). Nothing is ever
overwritten: every save, a restore included, is a new version, and a save from a version that
is no longer the newest is refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ...settings import Ceilings, SettingsError
from ...settings.admin import save_errors
from ...settings.allowlist import AdminAllowList, admin_override_errors, refused_profiles
from ...settings.schema import MAX_DOCUMENT_BYTES
from ...settings.validate import json_errors
from ...settings.versions import MAX_VERSION
from ...store import SettingsConflict, SettingsStore
from ...store.source import SettingsSource

#: longest comment kept with a version
MAX_COMMENT_LENGTH = 1000


class SaveRefused(Exception):
    """The document can't be saved; ``errors`` says every reason, with its path."""

    def __init__(self, errors: list[SettingsError]):
        super().__init__("; ".join(f"{e.path or '/'}: {e.message}" for e in errors))
        self.errors = errors


class SaveConflict(Exception):
    """Someone saved a newer version than the one the writer started from."""

    def __init__(self, expected: int, current: int):
        super().__init__(
            f"The settings were changed since you loaded them: they are at version {current}, "
            f"and you started from version {expected}. Nothing was saved. Load them again, "
            "make your change there, and save again."
        )
        self.expected = expected
        self.current = current


class UnknownVersion(LookupError):
    def __init__(self, version: int):
        super().__init__(f"There is no settings version {version}.")
        self.version = version


@dataclass(frozen=True)
class Saved:
    version: int
    #: the resolved settings now in force
    settings: dict
    summary: dict = field(default_factory=dict)


def comment_errors(comment: Any) -> list[SettingsError]:
    if not isinstance(comment, str):
        return [SettingsError("", f"the comment must be text, not {type(comment).__name__}")]
    if len(comment) > MAX_COMMENT_LENGTH:
        return [
            SettingsError(
                "",
                f"the comment is {len(comment)} characters long; at most "
                f"{MAX_COMMENT_LENGTH} are allowed",
            )
        ]
    return []


def author_of(user: Mapping[str, Any]) -> str:
    """Who a change is recorded under: the user's name, or ``service:<name>``."""
    name = str(user.get("name") or "unknown")
    return name if user.get("kind", "user") == "user" else f"{user.get('kind')}:{name}"


class SettingsEditor:
    """Validated, versioned writes of the admin-edits layer, logged with author and version."""

    def __init__(
        self,
        source: SettingsSource,
        ceilings: Ceilings,
        log: logging.Logger | None = None,
        allow: AdminAllowList | None = None,
    ):
        self.source = source
        self.ceilings = ceilings
        self.log = log or logging.getLogger(__name__)
        #: when the deployment's settings (version 0) came into force: when the hub started
        #: (and with it this service), as an ISO time in UTC
        self.deployed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        #: the KubeSpawner keys the operator allows hub admins beyond the schema's
        self.allow = allow or AdminAllowList()
        self._base: dict | None = None

    def base_document(self) -> dict:
        """What the operator's layers alone resolve to (they don't change while we run)."""
        if self._base is None:
            self._base = self.source.base_document()
        return self._base

    def admin_errors(self, resolved: Mapping[str, Any]) -> list[SettingsError]:
        """What the hub admins' profiles in ``resolved`` set that only the operator may."""
        return admin_override_errors(resolved, self.base_document(), self.allow, self.ceilings)

    def refused_profiles(self, resolved: Mapping[str, Any]) -> dict[int, list[SettingsError]]:
        """The profiles of ``resolved`` the spawner won't offer (by index), and why."""
        return refused_profiles(resolved, self.base_document(), self.allow, self.ceilings)

    @property
    def store(self) -> SettingsStore:
        return self.source.store

    # -- reading ------------------------------------------------------------------------------

    def current(self):
        """The settings in force and their version (``ResolvedSettings``)."""
        return self.source.current()

    def resolved_at(self, version: int) -> dict:
        """The settings of ``version`` over today's operator defaults and hub values."""
        return self.source.resolve(self.stored_layer(version))

    def stored_layer(self, version: int) -> dict:
        """What version ``version`` stored; version 0 stored nothing."""
        if version == 0:
            return {}
        record = self.store.get(version) if 0 < version <= MAX_VERSION else None
        if record is None:
            raise UnknownVersion(version)
        return record.document

    def summary(self, version: int) -> dict:
        if version == 0:
            return {
                "version": 0,
                "created": self.deployed_at,
                "author": None,
                "comment": "The deployment's settings (operator defaults and hub values)",
                "restored_from": None,
            }
        record = self.store.get(version) if 0 < version <= MAX_VERSION else None
        if record is None:
            raise UnknownVersion(version)
        return record.summary()

    def document_in_force(self, version: int) -> dict | None:
        """The resolved settings of ``version``, the one in force (``None`` if unknown)."""
        current = self.source.last_read
        if current.version == version:
            return current.document
        try:
            return self.resolved_at(version)
        except UnknownVersion:
            return None

    # -- checking -----------------------------------------------------------------------------

    def errors(
        self, layer: Any, previous: Mapping[str, Any] | None = None
    ) -> tuple[dict | None, list[SettingsError]]:
        """The resolved document ``layer`` would put in force over ``previous`` (the
        document in force the save starts from), and what is wrong with what it adds or
        changes."""
        if not isinstance(layer, Mapping):
            return None, [
                SettingsError("", f"the settings must be an object, not {_json_type(layer)}")
            ]
        # the layer itself is stored, so it is held to the size limit too
        problems = json_errors(layer, MAX_DOCUMENT_BYTES)
        if problems:
            return None, problems
        resolved = self.source.resolve(layer)
        try:
            # the layer is checked as JSON within the limit above, and the deployment's
            # layers were when the hub started
            errors = save_errors(
                resolved, self.ceilings, base=self.base_document(), previous=previous
            )
            return resolved, errors + self.admin_errors(resolved)
        except RecursionError:
            return None, [SettingsError("", "the document is nested too deeply")]

    # -- writing ------------------------------------------------------------------------------

    def save(
        self,
        layer: Any,
        *,
        author: str,
        comment: str = "",
        expected_version: int,
        restored_from: int | None = None,
        action: str = "save",
    ) -> Saved:
        """Store ``layer`` as the version after ``expected_version``.

        Raises :class:`SaveConflict` (nothing stored) when ``expected_version`` is not the
        newest, :class:`SaveRefused` (nothing stored) with every error when it isn't valid.
        """
        current = self.store.current_version()
        if current != expected_version:
            self._log_conflict(author, expected_version, current, action)
            raise SaveConflict(expected_version, current)
        errors = comment_errors(comment)
        resolved, document_problems = self.errors(layer, self.document_in_force(current))
        errors += document_problems
        if errors:
            self._log_refused(author, expected_version, errors, action)
            raise SaveRefused(errors)
        try:
            record = self.store.save(
                dict(layer),
                author=author,
                comment=comment,
                expected_version=expected_version,
                restored_from=restored_from,
            )
        except SettingsConflict as e:
            self._log_conflict(author, expected_version, e.current, action)
            raise SaveConflict(expected_version, e.current) from None
        self.log.info(
            "settings version %d saved by %s",
            record.version,
            author,
            extra={
                "event": "settings.saved",
                "action": action,
                "author": author,
                "version": record.version,
                "base_version": expected_version,
                "comment": comment,
                "restored_from": restored_from if restored_from is not None else "",
            },
        )
        return Saved(record.version, resolved or {}, record.summary())

    def restore(
        self,
        version: int,
        *,
        author: str,
        comment: str = "",
        expected_version: int | None = None,
    ) -> Saved:
        """Make what ``version`` stored the newest version again (version 0: the
        deployment's settings). A new version is made; nothing is overwritten."""
        layer = self.stored_layer(version)
        if expected_version is None:
            expected_version = self.store.current_version()
        if not comment:
            comment = (
                "Restored the deployment's settings (version 0)"
                if version == 0
                else f"Restored version {version}"
            )
        return self.save(
            layer,
            author=author,
            comment=comment,
            expected_version=expected_version,
            restored_from=version,
            action="restore",
        )

    def _log_refused(
        self, author: str, expected: int, errors: list[SettingsError], action: str
    ) -> None:
        self.log.warning(
            "settings change refused: %d problem(s)",
            len(errors),
            extra={
                "event": "settings.refused",
                "action": action,
                "author": author,
                "base_version": expected,
                "errors": json.dumps([e.as_dict() for e in errors[:20]]),
            },
        )

    def _log_conflict(self, author: str, expected: int, current: int, action: str) -> None:
        self.log.info(
            "settings change by %s refused: started from version %d, now at %d",
            author,
            expected,
            current,
            extra={
                "event": "settings.conflict",
                "action": action,
                "author": author,
                "base_version": expected,
                "version": current,
            },
        )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
