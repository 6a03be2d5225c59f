"""Validation of a settings document: schema, operator ceilings and the rules a schema can't say.

The ceilings are :mod:`.ceilings`'s; :func:`document_errors` brings the three together.
Every function returns a list of :class:`SettingsError` (empty when valid), each with a path
into the document in JSON Pointer form, so a caller can show all problems at once, next to
the field they belong to.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from .announcement import parse_time

# the ceilings' names are read from here too (re-exported)
from .ceilings import (  # noqa: F401
    GPU_RESOURCE,
    Ceilings,
    ceiling_errors,
    gpu_count,
    override_errors,
)
from .errors import REGEX_ERRORS, SettingsError
from .pointer import pointer
from .schema import ADMIN_SETTINGS_SCHEMA, MAX_DOCUMENT_BYTES, OPERATOR_SETTINGS_SCHEMA
from .schemawalk import along, at

_DATE_TIME = re.compile(
    r"^(\d{4})-(0[1-9]|1[0-2])-(\d{2})T(?:[01]\d|2[0123]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"(?:Z|[+-](?:[01]\d|2[0123]):[0-5]\d)$",
    re.ASCII,
)


def is_date_time(value: str) -> bool:
    """RFC 3339 date and time, any case, no leap seconds."""
    match = _DATE_TIME.match(value.upper())
    if match is None:
        return False
    year, month, day = map(int, match.groups())
    return bool(year) and 1 <= day <= calendar.monthrange(year, month)[1]


def _compiled(schema: dict) -> Any:
    # compiled once, in Rust; the only format the schema uses is checked by is_date_time
    return jsonschema_rs.Draft202012Validator(
        schema, validate_formats=True, formats={"date-time": is_date_time}
    )


#: the operator's layers, and documents judged as a whole (fleet validation): profiles as
#: KubeSpawner takes them
OPERATOR = OPERATOR_SETTINGS_SCHEMA
#: what a hub admin's edits may be (``kubespawner_override``'s keys are the allow-list's)
ADMIN = ADMIN_SETTINGS_SCHEMA
_VALIDATORS = {id(OPERATOR): _compiled(OPERATOR), id(ADMIN): _compiled(ADMIN)}


def _message(error: Any, instance: Any, schema: dict = OPERATOR) -> str:
    """The error in the words the settings API has always used (those of the Python
    ``jsonschema`` package, size limits said as limits), whatever the validator's own
    words are."""
    keyword = error.schema_path[-1] if error.schema_path else ""
    value = at(schema, error.schema_path) if error.schema_path else None
    if "propertyNames" in error.schema_path:
        instance = error.kind.error.instance
    if keyword == "type":
        types = value if isinstance(value, list) else [value]
        return f"{instance!r} is not of type {', '.join(repr(t) for t in types)}"
    if keyword == "required":
        return f"{error.kind.property!r} is a required property"
    if keyword == "additionalProperties":
        extras = sorted(error.kind.unexpected, key=str)
        verb = "was" if len(extras) == 1 else "were"
        listed = ", ".join(repr(e) for e in extras)
        return f"Additional properties are not allowed ({listed} {verb} unexpected)"
    if keyword == "pattern":
        return f"{instance!r} does not match {value!r}"
    if keyword == "minimum":
        return f"{instance!r} is less than the minimum of {value!r}"
    if keyword == "maximum":
        return f"{instance!r} is greater than the maximum of {value!r}"
    if keyword in ("minLength", "minItems"):
        return f"{instance!r} {'should be non-empty' if value == 1 else 'is too short'}"
    # size limits said as the limit, without quoting the (long) value back
    if keyword == "maxLength":
        return f"is {len(instance):,} characters long; at most {value:,} are allowed"
    if keyword in ("maxItems", "maxProperties"):
        return f"has {len(instance):,} entries; at most {value:,} are allowed"
    if keyword == "minProperties":
        words = "should be non-empty" if value == 1 else "does not have enough properties"
        return f"{instance!r} {words}"
    if keyword == "uniqueItems":
        return f"{instance!r} has non-unique elements"
    if keyword == "enum":
        return f"{instance!r} is not one of {value!r}"
    if keyword == "const":
        return f"{value!r} was expected"
    if keyword in ("anyOf", "oneOf"):
        return f"{instance!r} is not valid under any of the given schemas"
    if keyword == "format":
        return f"{instance!r} is not a {value!r}"
    return error.message


def _order(error: Any, schema: dict) -> tuple:
    """Where the error's keyword stands in the schema, so that errors at one path come in
    the schema's order."""
    return tuple(
        list(node).index(part) if isinstance(node, dict) else part if isinstance(part, int) else 0
        for node, part, _ in along(schema, error.schema_path)
    )


def _located(document: Any, path: Iterable[Any]) -> tuple[list[Any], Any]:
    """The path as the document spells it, and the value there. The validator's copy has
    its keys sorted, and it reports a key of digits such as ``"0"`` as a number."""
    real = []
    for part in path:
        if isinstance(document, list):
            part = int(part)
        else:
            part = str(part)
        real.append(part)
        document = document[part]
    return real, document


@dataclass(frozen=True)
class SchemaFinding:
    """One way a document breaks a schema: where (the path as the document spells it),
    the value there, and the validator's error."""

    path: tuple
    instance: Any
    error: Any

    @property
    def keyword(self) -> str:
        return self.error.schema_path[-1] if self.error.schema_path else ""

    @property
    def unexpected(self) -> list[str]:
        """The keys an ``additionalProperties`` finding is about."""
        return (
            sorted(self.error.kind.unexpected, key=str)
            if self.keyword == ("additionalProperties")
            else []
        )


def schema_findings(document: Any, schema: dict = OPERATOR) -> tuple[Any, list[SchemaFinding]]:
    """``document`` as JSON (what would be stored), and every way it breaks ``schema``, in
    the document's order and the schema's order at one path."""
    validator = _VALIDATORS[id(schema)]
    try:
        if validator.is_valid(document):
            return document, []
        found = list(validator.iter_errors(document))
    except (TypeError, ValueError, OverflowError):
        # not plain JSON (say, a key that is a number in a Python configuration): check
        # what it becomes as JSON, which is what would be stored
        document = json.loads(json.dumps(document))
        found = list(validator.iter_errors(document))
    located = [(*_located(document, e.instance_path), e) for e in found]
    located.sort(key=lambda found: (found[0], _order(found[2], schema)))
    return document, [SchemaFinding(tuple(path), instance, e) for path, instance, e in located]


def finding_error(
    finding: SchemaFinding, schema: dict = OPERATOR, unexpected: list[str] | None = None
) -> SettingsError:
    """A finding in the words of the settings API; ``unexpected`` names fewer keys than an
    ``additionalProperties`` finding has (those that are someone else's left out)."""
    if unexpected is not None:
        verb = "was" if len(unexpected) == 1 else "were"
        listed = ", ".join(repr(e) for e in unexpected)
        message = f"Additional properties are not allowed ({listed} {verb} unexpected)"
    else:
        message = _message(finding.error, finding.instance, schema)
    if len(message) > 300:
        # keep what is wrong ("... is too long") and shorten the value it quotes
        value = repr(finding.instance)
        if len(value) > 100 and value in message:
            message = message.replace(value, value[:80] + "...", 1)
    if len(message) > 300:
        message = message[:300] + "..."
    return SettingsError(pointer(finding.path), message)


def schema_errors(document: Any, schema: dict = OPERATOR) -> list[SettingsError]:
    """Every way ``document`` breaks ``schema`` (by default what the operator's layers may
    write), by path (in the schema's order at a path)."""
    _, findings = schema_findings(document, schema)
    return [finding_error(f, schema) for f in findings]


def rule_errors(document: Mapping[str, Any], *, one_default: bool = False) -> list[SettingsError]:
    """Rules beyond the schema: unique slugs, regexes that compile, options with something
    to choose, announcement times; with ``one_default``, at most one default profile (a rule
    of the hub admins' edits: KubeSpawner takes the first of several defaults)."""
    errors = []
    seen: dict[str, int] = {}
    defaults = []
    for index, profile in enumerate(document.get("profiles") or []):
        slug = profile.get("slug")
        if slug in seen:
            errors.append(
                SettingsError(
                    f"/profiles/{index}/slug",
                    f"slug '{slug}' is already used by profile {seen[slug] + 1}",
                )
            )
        else:
            seen[slug] = index
        if profile.get("default"):
            defaults.append(index)
        for key, option in (profile.get("profile_options") or {}).items():
            errors += _option_errors(["profiles", index, "profile_options", key], option)
    for index in defaults[1:] if one_default else ():
        errors.append(
            SettingsError(f"/profiles/{index}/default", "only one profile can be the default")
        )
    return errors + _announcement_errors(document.get("announcement") or {})


def _option_errors(path: list[Any], option: Mapping[str, Any]) -> list[SettingsError]:
    """A profile option's free-text pattern that does not compile, or nothing to choose."""
    errors = []
    unlisted = option.get("unlisted_choice") or {}
    regex = unlisted.get("validation_regex")
    if regex is not None:
        try:
            re.compile(regex)
        except REGEX_ERRORS as e:
            errors.append(
                SettingsError(
                    pointer([*path, "unlisted_choice", "validation_regex"]),
                    f"not a valid regular expression: {e}",
                )
            )
    if not (option.get("choices") or unlisted.get("enabled")):
        errors.append(
            SettingsError(
                pointer(path),
                "an option needs at least one choice or an enabled unlisted choice",
            )
        )
    return errors


def _announcement_errors(announcement: Mapping[str, Any]) -> list[SettingsError]:
    errors = []
    for key in ("starts_at", "expires_at"):
        value = announcement.get(key)
        if value:
            try:
                parse_time(value)
            except (TypeError, ValueError):
                errors.append(
                    SettingsError(
                        f"/announcement/{key}",
                        "not a date and time like 2026-01-31T09:00:00Z",
                    )
                )
    return errors


def document_errors(
    document: Any, ceilings: Ceilings | None = None, *, max_bytes: int | None = MAX_DOCUMENT_BYTES
) -> list[SettingsError]:
    """All that is wrong with a settings document as the operator's layers may write it
    (profiles as KubeSpawner takes them, within the ceilings); empty when it is valid.
    What hub admins save is judged by :func:`jhub_managed.settings.admin.save_errors`.

    ``max_bytes=None`` leaves out the first check (that the document is JSON of at most
    that many bytes), for a caller that made it already: a save checks the layer it stores,
    and the deployment's layers were checked when the hub started.
    """
    if max_bytes is None:
        return _document_errors(document, ceilings)
    return json_errors(document, max_bytes) or _document_errors(document, ceilings)


def json_errors(document: Any, max_bytes: int = MAX_DOCUMENT_BYTES) -> list[SettingsError]:
    """Why ``document`` can't be stored as JSON of at most ``max_bytes`` bytes, if it can't."""
    try:
        size = len(json.dumps(document, allow_nan=False).encode())
    except (TypeError, RecursionError) as e:
        return [SettingsError("", f"not a JSON document: {e}")]
    except ValueError as e:  # NaN, Infinity, circular references
        return [SettingsError("", f"not a JSON document: {e} (NaN and Infinity are not numbers)")]
    if size > max_bytes:
        return [SettingsError("", f"the document is {size} bytes; at most {max_bytes} are allowed")]
    return []


def _document_errors(document: Any, ceilings: Ceilings | None) -> list[SettingsError]:
    errors = schema_errors(document, OPERATOR)
    if errors:
        return errors
    errors = rule_errors(document)
    if ceilings is not None:
        errors += ceiling_errors(document, ceilings)
    return errors
