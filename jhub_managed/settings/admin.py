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

from .ceilings import Ceilings, ceiling_errors
from .errors import SettingsError
from .pointer import parts
from .validate import ADMIN, SchemaFinding, finding_error, rule_errors, schema_findings

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
    others = _Places([r for r in (base, previous) if isinstance(r, Mapping)])
    document, findings = schema_findings(document, ADMIN)
    errors = []
    for finding in findings:
        if finding.keyword == "additionalProperties":
            own = [
                key for key in finding.unexpected if not others.kept((*finding.path, key), document)
            ]
            if own:
                errors.append(finding_error(finding, ADMIN, own))
        elif not _finding_kept(finding, document, others):
            errors.append(finding_error(finding, ADMIN))
    if errors:
        return errors
    errors = [
        e
        for e in rule_errors(document, one_default=True)
        if any(words in e.message for words in _LIST_RULES)
        or not others.kept(parts(e.path), document)
    ]
    if ceilings is not None:
        # the ceilings bind whatever is not the operator's own (the operator's layers are
        # checked against them when the hub starts)
        operator = _Places([base] if isinstance(base, Mapping) else [])
        errors += [
            e
            for e in ceiling_errors(document, ceilings)
            if not operator.kept(parts(e.path), document)
        ]
    return errors


def _finding_kept(finding: SchemaFinding, document: Mapping[str, Any], others: _Places) -> bool:
    """Whether what ``finding`` is about is someone else's, kept as it was."""
    error = finding.error
    if "propertyNames" in error.schema_path:
        # a key's name: someone else's where they have the same key at the same place
        name = error.kind.error.instance
        return any(
            isinstance(value, Mapping) and name in value
            for value in others.values_at(finding.path, document)
        )
    if finding.keyword == "required":
        # a key left out: someone else's where they leave it out at the same place too
        name = error.kind.property
        return any(
            isinstance(value, Mapping) and name not in value
            for value in others.values_at(finding.path, document)
        )
    if finding.keyword in ("maxItems", "maxProperties"):
        # too many entries: not the hub admin's doing unless the save made them more
        return any(
            isinstance(value, list | Mapping) and len(value) >= len(finding.instance)
            for value in others.values_at(finding.path, document)
        )
    return others.kept(finding.path, document)


class _Places:
    """Documents whose values are someone else's (the operator's layers, the document in
    force), looked up at the place a path names in the document saved: a profile is the one
    with the same slug (none when that is not exactly one), then key by key."""

    def __init__(self, references: Sequence[Mapping[str, Any]]):
        self.references = references
        self._by_slug: list[dict[Any, Any]] = []
        for reference in references:
            by_slug: dict[Any, Any] = {}
            profiles = reference.get("profiles")
            for profile in profiles if isinstance(profiles, list) else []:
                if isinstance(profile, Mapping):
                    slug = profile.get("slug")
                    try:
                        by_slug[slug] = _MISSING if slug in by_slug else profile
                    except TypeError:  # a slug that is not text (a list, ...): no match
                        continue
            self._by_slug.append(by_slug)

    def kept(self, path: Sequence[Any], document: Mapping[str, Any]) -> bool:
        """Whether the value at ``path`` of ``document`` is the same at the same place of one
        of the references."""
        value = _at(document, path)
        return value is not _MISSING and any(
            other == value for other in self.values_at(path, document)
        )

    def values_at(self, path: Sequence[Any], document: Mapping[str, Any]) -> list[Any]:
        """The values at the place of the references that ``path`` names in ``document``."""
        path = list(path)
        if len(path) >= 2 and path[0] == "profiles":
            profile = _at(document, path[:2])
            if not isinstance(profile, Mapping):
                return []
            try:
                matches = [by_slug.get(profile.get("slug"), _MISSING) for by_slug in self._by_slug]
            except TypeError:
                return []
            values = [_at(match, path[2:]) for match in matches if match is not _MISSING]
        else:
            values = [_at(reference, path) for reference in self.references]
        return [value for value in values if value is not _MISSING]


def _at(node: Any, path: Sequence[Any]) -> Any:
    """The value at ``path`` of ``node`` (list indices as numbers or digits), else
    ``_MISSING``."""
    for part in path:
        kind = type(node)
        if kind is dict or (kind is not list and isinstance(node, Mapping)):
            node = node.get(part if type(part) is str else str(part), _MISSING)
            if node is _MISSING:
                return node
        elif kind is list:
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        else:
            return _MISSING
    return node
