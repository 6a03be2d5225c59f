"""Validation of a settings document: schema, operator ceilings and the rules a schema can't say.

Every function returns a list of :class:`SettingsError` (empty when valid), each with a path
into the document in JSON Pointer form, so a caller can show all problems at once, next to
the field they belong to.
"""

from __future__ import annotations

import calendar
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import jsonschema_rs

from .announcement import parse_time
from .pointer import escape, pointer
from .profiles import fullmatch_any
from .quantities import format_cpu, format_memory, parse_memory
from .schema import ADMIN_SETTINGS_SCHEMA, MAX_DOCUMENT_BYTES, OPERATOR_SETTINGS_SCHEMA

GPU_RESOURCE = "nvidia.com/gpu"
#: what ``re.compile`` raises for a bad pattern: ``re.error``, but ``OverflowError`` for a
#: repeat count like ``a{4294967296}`` and ``RecursionError`` for absurd nesting
_REGEX_ERRORS = (re.error, OverflowError, RecursionError, ValueError)


@dataclass(frozen=True)
class SettingsError:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


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


def _subschema(schema: dict, path: Iterable[Any]) -> Any:
    node: Any = schema
    for part in path:
        node = node[part]
    return node


def _message(error: Any, instance: Any, schema: dict = OPERATOR) -> str:
    """The error in the words the settings API has always used (those of the Python
    ``jsonschema`` package, size limits said as limits), whatever the validator's own
    words are."""
    keyword = error.schema_path[-1] if error.schema_path else ""
    value = _subschema(schema, error.schema_path) if error.schema_path else None
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
    node: Any = schema
    positions = []
    for part in error.schema_path:
        if isinstance(node, dict):
            keys = list(node)
            positions.append(keys.index(part) if part in keys else len(keys))
        else:
            positions.append(part if isinstance(part, int) else 0)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    return tuple(positions)


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
            unlisted = option.get("unlisted_choice") or {}
            regex = unlisted.get("validation_regex")
            if regex is not None:
                try:
                    re.compile(regex)
                except _REGEX_ERRORS as e:
                    errors.append(
                        SettingsError(
                            pointer(
                                [
                                    "profiles",
                                    index,
                                    "profile_options",
                                    key,
                                    "unlisted_choice",
                                    "validation_regex",
                                ]
                            ),
                            f"not a valid regular expression: {e}",
                        )
                    )
            if not (option.get("choices") or unlisted.get("enabled")):
                errors.append(
                    SettingsError(
                        pointer(["profiles", index, "profile_options", key]),
                        "an option needs at least one choice or an enabled unlisted choice",
                    )
                )
    for index in defaults[1:] if one_default else ():
        errors.append(
            SettingsError(f"/profiles/{index}/default", "only one profile can be the default")
        )
    announcement = document.get("announcement") or {}
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


@dataclass(frozen=True)
class Ceilings:
    """The operator's limits no hub admin can exceed. ``None`` means no limit."""

    cpu_limit: float | None = None
    cpu_guarantee: float | None = None
    mem_limit: int | None = None
    mem_guarantee: int | None = None
    gpu_limit: int | None = None
    #: node selectors a profile may use; ``None`` means any, ``[]`` means none
    node_selectors: tuple[tuple[tuple[str, str], ...], ...] | None = None
    #: regexes an image must match whole; ``None`` means any image
    image_patterns: tuple[str, ...] | None = None
    #: resources besides GPUs that profiles may ask for in ``extra_resource_limits`` and
    #: ``extra_resource_guarantees``, each with its most per server (``None``: no most)
    extra_resources: tuple[tuple[str, int | None], ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Ceilings:
        """Build from operator configuration; raises ``ValueError`` naming a bad key."""
        config = dict(config or {})
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(
                f"unknown ceiling {unknown[0]!r}; known ceilings: {', '.join(sorted(known))}"
            )

        def read(key: str, convert):
            value = config.get(key)
            if value is None:
                return None
            try:
                return convert(value)
            except (TypeError, ValueError, OverflowError) as e:
                raise ValueError(f"ceiling {key!r}: {e}") from None

        return cls(
            cpu_limit=read("cpu_limit", _cpu_ceiling),
            cpu_guarantee=read("cpu_guarantee", _cpu_ceiling),
            mem_limit=read("mem_limit", parse_memory),
            mem_guarantee=read("mem_guarantee", parse_memory),
            gpu_limit=read("gpu_limit", _gpu_ceiling),
            node_selectors=read("node_selectors", _node_selectors_ceiling),
            image_patterns=read("image_patterns", _image_patterns_ceiling),
            extra_resources=read("extra_resources", _extra_resources_ceiling) or (),
        )

    def names_resource(self, resource: str) -> bool:
        """Whether a profile may ask for ``resource`` (GPUs always may, up to gpu_limit)."""
        return resource == GPU_RESOURCE or resource in dict(self.extra_resources)

    def as_config(self) -> dict[str, Any]:
        config = asdict(self)
        if self.node_selectors is not None:
            config["node_selectors"] = [dict(s) for s in self.node_selectors]
        if self.image_patterns is not None:
            config["image_patterns"] = list(self.image_patterns)
        config["extra_resources"] = dict(self.extra_resources) or None
        return {k: v for k, v in config.items() if v is not None}


def _cpu_ceiling(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"not a number of CPUs: {value!r}")
    cores = float(value)
    if not math.isfinite(cores) or cores < 0:
        raise ValueError(f"not a number of CPUs: {value!r}")
    return cores


def _gpu_ceiling(value: Any) -> int:
    count = _whole_number(value)
    if count is None:
        raise ValueError(f"not a whole number of GPUs: {value!r}")
    return count


def _node_selectors_ceiling(value: Any) -> tuple[tuple[tuple[str, str], ...], ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValueError(f"a list of node selectors (mappings) is needed, not {value!r}")
    selectors = []
    for selector in value:
        if not isinstance(selector, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in selector.items()
        ):
            raise ValueError(f"a node selector maps label names to values, not {selector!r}")
        selectors.append(tuple(sorted(selector.items())))
    return tuple(selectors)


def _image_patterns_ceiling(value: Any) -> tuple[str, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValueError(f"a list of regular expressions is needed, not {value!r}")
    patterns = tuple(value)
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ValueError(f"not a regular expression: {pattern!r}")
        try:
            re.compile(pattern)
        except _REGEX_ERRORS as e:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {e}") from None
    return patterns


def _extra_resources_ceiling(value: Any) -> tuple[tuple[str, int | None], ...]:
    if not isinstance(value, Mapping):
        raise ValueError(
            "a mapping of resource names to the most per server is needed, e.g. "
            f'{{"example.com/fpga": 1}}, not {value!r}'
        )
    resources = []
    for name, most in value.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"not a resource name: {name!r}")
        if name == GPU_RESOURCE:
            raise ValueError(f"{GPU_RESOURCE} is bounded by gpu_limit, not extra_resources")
        count = None if most is None else _whole_number(most)
        if most is not None and count is None:
            raise ValueError(f"{name}: not a whole number: {most!r}")
        resources.append((name, count))
    return tuple(sorted(resources))


def _whole_number(value: Any) -> int | None:
    """A non-negative count given as an integer or a string of digits, else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def gpu_count(override: Mapping[str, Any]) -> int:
    limits = override.get("extra_resource_limits") or {}
    value = limits.get(GPU_RESOURCE, 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def override_errors(
    override: Mapping[str, Any], ceilings: Ceilings, path: str, *, check_image: bool = True
) -> list[SettingsError]:
    """How one (merged) kubespawner override goes beyond the operator's ceilings.

    Runs for every profile and every choice of a save, so each check reads its setting
    only when the override has it.
    """
    errors: list[SettingsError] = []
    for key in ("cpu_limit", "cpu_guarantee"):
        limit = getattr(ceilings, key)
        value = override.get(key) if limit is not None else None
        if isinstance(value, int | float) and not isinstance(value, bool) and value > limit:
            errors.append(_above(path, key, format_cpu(float(value)), format_cpu(limit)))
        elif value is None and key == "cpu_limit" and limit is not None and key in override:
            errors.append(_unlimited(path, key, "CPU", format_cpu(limit)))
    for key in ("mem_limit", "mem_guarantee"):
        value = override.get(key)
        if value is None:
            if key == "mem_limit" and ceilings.mem_limit is not None and key in override:
                errors.append(_unlimited(path, key, "memory", format_memory(ceilings.mem_limit)))
            continue
        try:
            amount = _memory(value)
        except ValueError as e:
            errors.append(SettingsError(f"{path}/{key}", str(e)))
            continue
        limit = getattr(ceilings, key)
        if limit is not None and amount is not None and amount > limit:
            errors.append(_above(path, key, format_memory(amount), format_memory(limit)))
    limits = override.get("extra_resource_limits")
    if limits and ceilings.gpu_limit is not None:
        gpu_value = limits.get(GPU_RESOURCE) if isinstance(limits, Mapping) else None
        if gpu_value is not None and _whole_number(gpu_value) is None:
            errors.append(
                SettingsError(
                    f"{path}/extra_resource_limits",
                    f"{gpu_value!r} is not a whole number of GPUs",
                )
            )
        elif (gpus := gpu_count(override)) > ceilings.gpu_limit:
            errors.append(
                SettingsError(
                    f"{path}/extra_resource_limits",
                    f"{gpus} GPU{'s' if gpus != 1 else ''} is above the operator's ceiling of "
                    f"{ceilings.gpu_limit}",
                )
            )
    for key in (
        ("extra_resource_limits", "extra_resource_guarantees") if ceilings.extra_resources else ()
    ):
        requested = override.get(key)
        for resource, most in ceilings.extra_resources:
            value = requested.get(resource) if isinstance(requested, Mapping) else None
            if most is None or value is None:
                continue
            count = _whole_number(value)
            if count is None:
                message = f"{resource}: {value!r} is not a whole number"
            elif count > most:
                message = f"{resource}: {count} is above the operator's ceiling of {most}"
            else:
                continue
            errors.append(SettingsError(f"{path}/{key}", message))
    selector = override.get("node_selector") if ceilings.node_selectors is not None else None
    if selector and tuple(sorted(dict(selector).items())) not in ceilings.node_selectors:
        errors.append(
            SettingsError(
                f"{path}/node_selector",
                f"node selector {json.dumps(selector, sort_keys=True)} is not one the "
                "operator allows",
            )
        )
    image = override.get("image") if check_image and ceilings.image_patterns is not None else None
    if image and not fullmatch_any(ceilings.image_patterns, image):
        errors.append(
            SettingsError(f"{path}/image", f"image '{image}' is not allowed by the operator")
        )
    return errors


def _above(path: str, key: str, value: str, limit: str) -> SettingsError:
    return SettingsError(f"{path}/{key}", f"{value} is above the operator's ceiling of {limit}")


def _unlimited(path: str, key: str, what: str, limit: str) -> SettingsError:
    """``null`` for a limit: no limit at all, which is over any ceiling. (A guarantee of
    ``null`` reserves nothing, which is within any.)"""
    return SettingsError(
        f"{path}/{key}",
        f"null means no {what} limit, which is above the operator's ceiling of {limit}: "
        f"set a limit of at most {limit}",
    )


@functools.lru_cache(maxsize=1024)
def _memory_text(value: str) -> int | None:
    return parse_memory(value)


def _memory(value: Any) -> int | None:
    """``parse_memory``, remembered for the few texts (``"2G"``) a document repeats."""
    return _memory_text(value) if isinstance(value, str) else parse_memory(value)


def _own(
    found: list[SettingsError], path: str, inherited: set[tuple[str, str]]
) -> list[SettingsError]:
    """The errors of a merged override at ``path`` that its profile's override doesn't have."""
    return [e for e in found if (e.path[len(path) :], e.message) not in inherited]


def _merged_own(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a choice's override sets, merged into its profile's as a spawn merges
    them (dict-valued ones key by key). Each ceiling is checked on one setting, so the
    settings a choice leaves alone would only repeat the profile's own problems."""
    merged = {}
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            merged[key] = {**base[key], **value}
        else:
            merged[key] = value
    return merged


def ceiling_errors(document: Mapping[str, Any], ceilings: Ceilings) -> list[SettingsError]:
    """Every profile, and every choice merged into its profile, checked against the ceilings.

    Unlisted-choice overrides are checked at spawn time with the value filled in, since a
    ``{value}`` placeholder can't be judged here; their other settings are checked now.
    """
    errors = []
    for index, profile in enumerate(document.get("profiles") or []):
        base = profile.get("kubespawner_override") or {}
        base_path = f"/profiles/{index}/kubespawner_override"
        base_errors = override_errors(base, ceilings, base_path)
        errors += base_errors
        # a problem the profile's own override already has is shown there, not again at
        # every choice that merely inherits it
        inherited = {(e.path[len(base_path) :], e.message) for e in base_errors}
        for key, option in (profile.get("profile_options") or {}).items():
            option_path = f"/profiles/{index}/profile_options/{escape(key)}"
            for name, choice in (option.get("choices") or {}).items():
                own = choice.get("kubespawner_override")
                if not own:
                    continue  # the profile's own override, checked above
                path = f"{option_path}/choices/{escape(name)}/kubespawner_override"
                found = override_errors(_merged_own(base, own), ceilings, path)
                errors += _own(found, path, inherited)
            unlisted = option.get("unlisted_choice") or {}
            if unlisted.get("enabled") and unlisted.get("kubespawner_override"):
                # a setting the typed value fills in (``mem_limit: "{value}"``) is judged at
                # spawn time, with the value; the rest of the override now
                fixed = {
                    k: v
                    for k, v in unlisted["kubespawner_override"].items()
                    if not (isinstance(v, str) and "{value}" in v)
                }
                merged = _merged_own(base, fixed)
                path = f"{option_path}/unlisted_choice/kubespawner_override"
                errors += _own(
                    override_errors(merged, ceilings, path, check_image=False), path, inherited
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
