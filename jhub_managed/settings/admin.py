"""What a hub admin's save is judged on: what it adds or changes.

A hub admin saves a whole document, the profiles the operator wrote included (the settings
API serves the resolved document, and a hub admin's ``profiles`` list replaces the
operator's whole). The operator's layers may hold what a hub admin may not write: keys
KubeSpawner does not read (spawn-page extensions add their own), ``default`` written as
text, slugs and keys of any shape, long texts. That content is the operator's, so it never
makes a hub admin's save fail: a value is judged only where the save adds or changes it.

A value is someone else's when it is the same, at the same place, as in the operator's
layers alone, or as in the document in force that the save starts from (so that a document
served before the operator changed their layers saves back too). Places are compared
profile by profile, matched by slug (as the allow-list matches them), then key by key.

The keys of ``kubespawner_override`` are the allow-list's (:mod:`.allowlist`), and the
ceilings bind everything a hub admin's document puts in force that the operator's layers do
not hold as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .validate import (
    ADMIN,
    Ceilings,
    SchemaFinding,
    SettingsError,
    ceiling_errors,
    finding_error,
    rule_errors,
    schema_findings,
)

_MISSING = object()
#: messages of rules that compare profiles with each other: about the whole list, never
#: one profile's own value (a slug the operator also uses is the hub admin's duplicate)
_LIST_RULES = ("is already used by profile",)


def save_errors(
    document: Mapping[str, Any],
    ceilings: Ceilings | None = None,
    *,
    base: Mapping[str, Any] | None = None,
    previous: Mapping[str, Any] | None = None,
) -> list[SettingsError]:
    """What is wrong with what a hub admin's save adds or changes in ``document``.

    ``document`` is the resolved document the save would put in force, ``base`` what the
    operator's layers alone resolve to and ``previous`` the document in force the save
    starts from; without them, the whole document is the hub admin's. Schema problems come
    first, alone; then the rules beyond the schema and the ceilings.
    """
    references = [r for r in (base, previous) if isinstance(r, Mapping)]
    document, findings = schema_findings(document, ADMIN)
    errors = []
    for finding in findings:
        if finding.keyword == "additionalProperties":
            own = [
                key
                for key in finding.unexpected
                if not _kept((*finding.path, key), document, references)
            ]
            if own:
                errors.append(finding_error(finding, ADMIN, own))
        elif not _finding_kept(finding, document, references):
            errors.append(finding_error(finding, ADMIN))
    if errors:
        return errors
    errors = [
        e
        for e in rule_errors(document, one_default=True)
        if any(words in e.message for words in _LIST_RULES)
        or not _kept(_parts(e.path), document, references)
    ]
    if ceilings is not None:
        # the ceilings bind whatever is not the operator's own (the operator's layers are
        # checked against them when the hub starts)
        operator = [base] if isinstance(base, Mapping) else []
        errors += [
            e
            for e in ceiling_errors(document, ceilings)
            if not _kept(_parts(e.path), document, operator)
        ]
    return errors


def _finding_kept(
    finding: SchemaFinding, document: Mapping[str, Any], references: Sequence[Mapping]
) -> bool:
    """Whether what ``finding`` is about is someone else's, kept as it was."""
    error = finding.error
    if "propertyNames" in error.schema_path:
        # a key's name: someone else's where they have the same key at the same place
        name = error.kind.error.instance
        return any(
            isinstance(value, Mapping) and name in value
            for value in _values_at(finding.path, document, references)
        )
    if finding.keyword == "required":
        # a key left out: someone else's where they leave it out at the same place too
        name = error.kind.property
        return any(
            isinstance(value, Mapping) and name not in value
            for value in _values_at(finding.path, document, references)
        )
    if finding.keyword in ("maxItems", "maxProperties"):
        # too many entries: not the hub admin's doing unless the save made them more
        return any(
            isinstance(value, list | Mapping) and len(value) >= len(finding.instance)
            for value in _values_at(finding.path, document, references)
        )
    return _kept(finding.path, document, references)


def _kept(path: Sequence[Any], document: Mapping[str, Any], references: Sequence[Mapping]) -> bool:
    """Whether the value at ``path`` of ``document`` is the same at the same place of one of
    ``references``."""
    value = _at(document, path)
    return value is not _MISSING and any(
        other == value for other in _values_at(path, document, references)
    )


def _values_at(
    path: Sequence[Any], document: Mapping[str, Any], references: Sequence[Mapping]
) -> list[Any]:
    """The values at the place of ``references`` that ``path`` names in ``document``."""
    values = []
    for reference in references:
        value = _aligned(reference, document, path)
        if value is not _MISSING:
            values.append(value)
    return values


def _aligned(reference: Mapping[str, Any], document: Mapping[str, Any], path: Sequence[Any]):
    """The value at ``path`` of ``document``, looked up at the same place of ``reference``:
    a profile is the one with the same slug (none when that is not exactly one)."""
    path = list(path)
    if len(path) >= 2 and path[0] == "profiles":
        profile = _at(document, path[:2])
        if not isinstance(profile, Mapping):
            return _MISSING
        slug = profile.get("slug")
        profiles = reference.get("profiles")
        matches = [
            p
            for p in (profiles if isinstance(profiles, list) else [])
            if isinstance(p, Mapping) and p.get("slug") == slug
        ]
        if len(matches) != 1:
            return _MISSING
        return _at(matches[0], path[2:])
    return _at(reference, path)


def _at(node: Any, path: Sequence[Any]) -> Any:
    for part in path:
        if isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        elif isinstance(node, Mapping):
            key = str(part)
            if key not in node:
                return _MISSING
            node = node[key]
        else:
            return _MISSING
    return node


def _parts(pointer: str) -> list[str]:
    """``"/profiles/0/a~1b"`` -> ``["profiles", "0", "a/b"]``."""
    if not pointer:
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
