"""Validation of a settings document: schema, operator ceilings and the rules a schema can't say.

Every function returns a list of :class:`SettingsError` (empty when valid), each with a path
into the document in JSON Pointer form, so a caller can show all problems at once, next to
the field they belong to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import jsonschema

from .profiles import fullmatch_any
from .quantities import format_cpu, format_memory, parse_memory
from .schema import MAX_DOCUMENT_BYTES, SETTINGS_SCHEMA

GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class SettingsError:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _pointer(parts: Iterable[Any]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts) if parts else ""


_VALIDATOR = jsonschema.Draft202012Validator(
    SETTINGS_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def schema_errors(document: Any) -> list[SettingsError]:
    errors = []
    for error in sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(e.absolute_path)):
        message = error.message
        if len(message) > 300:
            message = message[:300] + "..."
        errors.append(SettingsError(_pointer(list(error.absolute_path)), message))
    return errors


def rule_errors(document: Mapping[str, Any]) -> list[SettingsError]:
    """Rules beyond the schema: unique slugs, regexes that compile, at most one default."""
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
                except re.error as e:
                    errors.append(
                        SettingsError(
                            _pointer(
                                ["profiles", index, "profile_options", key, "unlisted_choice",
                                 "validation_regex"]
                            ),
                            f"not a valid regular expression: {e}",
                        )
                    )
            if not (option.get("choices") or unlisted.get("enabled")):
                errors.append(
                    SettingsError(
                        _pointer(["profiles", index, "profile_options", key]),
                        "an option needs at least one choice or an enabled unlisted choice",
                    )
                )
    for index in defaults[1:]:
        errors.append(
            SettingsError(f"/profiles/{index}/default", "only one profile can be the default")
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
        selectors = config.get("node_selectors")
        patterns = config.get("image_patterns")
        if patterns is not None:
            for pattern in patterns:
                re.compile(pattern)
        return cls(
            cpu_limit=_opt_float(config.get("cpu_limit")),
            cpu_guarantee=_opt_float(config.get("cpu_guarantee")),
            mem_limit=parse_memory(config.get("mem_limit")),
            mem_guarantee=parse_memory(config.get("mem_guarantee")),
            gpu_limit=None if config.get("gpu_limit") is None else int(config["gpu_limit"]),
            node_selectors=None
            if selectors is None
            else tuple(tuple(sorted(dict(s).items())) for s in selectors),
            image_patterns=None if patterns is None else tuple(patterns),
        )

    def as_config(self) -> dict[str, Any]:
        config = asdict(self)
        if self.node_selectors is not None:
            config["node_selectors"] = [dict(s) for s in self.node_selectors]
        if self.image_patterns is not None:
            config["image_patterns"] = list(self.image_patterns)
        return {k: v for k, v in config.items() if v is not None}


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


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
    """How one (merged) kubespawner override goes beyond the operator's ceilings."""
    errors = []

    def over(key: str, value: Any, limit: Any, fmt) -> None:
        if limit is not None and value is not None and value > limit:
            errors.append(
                SettingsError(
                    f"{path}/{key}", f"{fmt(value)} is above the operator's ceiling of {fmt(limit)}"
                )
            )

    for key in ("cpu_limit", "cpu_guarantee"):
        value = override.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            over(key, float(value), getattr(ceilings, key), format_cpu)
    for key in ("mem_limit", "mem_guarantee"):
        try:
            value = parse_memory(override.get(key))
        except ValueError as e:
            errors.append(SettingsError(f"{path}/{key}", str(e)))
            continue
        over(key, value, getattr(ceilings, key), format_memory)
    gpus = gpu_count(override)
    if ceilings.gpu_limit is not None and gpus > ceilings.gpu_limit:
        errors.append(
            SettingsError(
                f"{path}/extra_resource_limits",
                f"{gpus} GPUs is above the operator's ceiling of {ceilings.gpu_limit}",
            )
        )
    selector = override.get("node_selector")
    if selector and ceilings.node_selectors is not None:
        if tuple(sorted(dict(selector).items())) not in ceilings.node_selectors:
            errors.append(
                SettingsError(
                    f"{path}/node_selector",
                    f"node selector {json.dumps(selector, sort_keys=True)} is not one the "
                    "operator allows",
                )
            )
    image = override.get("image")
    if check_image and image and ceilings.image_patterns is not None:
        if not fullmatch_any(ceilings.image_patterns, image):
            errors.append(
                SettingsError(f"{path}/image", f"image '{image}' is not allowed by the operator")
            )
    return errors


def ceiling_errors(document: Mapping[str, Any], ceilings: Ceilings) -> list[SettingsError]:
    """Every profile, and every choice merged into its profile, checked against the ceilings.

    Unlisted-choice overrides are checked at spawn time with the value filled in, since a
    ``{value}`` placeholder can't be judged here; their other settings are checked now.
    """
    from .profiles import _merge_override

    errors = []
    for index, profile in enumerate(document.get("profiles") or []):
        base = profile.get("kubespawner_override") or {}
        errors += override_errors(base, ceilings, f"/profiles/{index}/kubespawner_override")
        for key, option in (profile.get("profile_options") or {}).items():
            for name, choice in (option.get("choices") or {}).items():
                merged = _merge_override(base, choice.get("kubespawner_override") or {})
                path = _pointer(
                    ["profiles", index, "profile_options", key, "choices", name,
                     "kubespawner_override"]
                )
                errors += [
                    e
                    for e in override_errors(merged, ceilings, path)
                    if e not in errors and not e.path.startswith(f"/profiles/{index}/kubespawner")
                ]
            unlisted = option.get("unlisted_choice") or {}
            if unlisted.get("enabled"):
                merged = _merge_override(base, unlisted.get("kubespawner_override") or {})
                path = _pointer(
                    ["profiles", index, "profile_options", key, "unlisted_choice",
                     "kubespawner_override"]
                )
                errors += override_errors(merged, ceilings, path, check_image=False)
    return errors


def document_errors(
    document: Any, ceilings: Ceilings | None = None, *, max_bytes: int = MAX_DOCUMENT_BYTES
) -> list[SettingsError]:
    """All that is wrong with a settings document; empty when it can be saved."""
    try:
        size = len(json.dumps(document).encode())
    except (TypeError, ValueError) as e:
        return [SettingsError("", f"not a JSON document: {e}")]
    if size > max_bytes:
        return [SettingsError("", f"the document is {size} bytes; at most {max_bytes} are allowed")]
    errors = schema_errors(document)
    if errors:
        return errors
    errors = rule_errors(document)
    if ceilings is not None:
        errors += ceiling_errors(document, ceilings)
    return errors
