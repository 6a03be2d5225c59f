"""The operator's ceilings: the limits no hub admin can exceed, read from the operator's
configuration, and how a profile's ``kubespawner_override`` (and each choice merged into it)
goes beyond them.

Every check returns a list of :class:`~.errors.SettingsError` with a JSON Pointer into the
settings document, as :mod:`.validate` does.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .errors import REGEX_ERRORS, SettingsError
from .pointer import escape
from .profiles import fullmatch_any
from .quantities import format_cpu, format_memory, parse_memory

GPU_RESOURCE = "nvidia.com/gpu"


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
        except REGEX_ERRORS as e:
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
    errors = _cpu_errors(override, ceilings, path)
    errors += _memory_errors(override, ceilings, path)
    if override.get("extra_resource_limits") and ceilings.gpu_limit is not None:
        errors += _gpu_errors(override, ceilings.gpu_limit, path)
    if ceilings.extra_resources:
        errors += _extra_resource_errors(override, ceilings.extra_resources, path)
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


def _cpu_errors(override: Mapping[str, Any], ceilings: Ceilings, path: str) -> list[SettingsError]:
    errors = []
    for key in ("cpu_limit", "cpu_guarantee"):
        limit = getattr(ceilings, key)
        value = override.get(key) if limit is not None else None
        if isinstance(value, int | float) and not isinstance(value, bool) and value > limit:
            errors.append(_above(path, key, format_cpu(float(value)), format_cpu(limit)))
        elif value is None and key == "cpu_limit" and limit is not None and key in override:
            errors.append(_unlimited(path, key, "CPU", format_cpu(limit)))
    return errors


def _memory_errors(
    override: Mapping[str, Any], ceilings: Ceilings, path: str
) -> list[SettingsError]:
    errors = []
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
    return errors


def _gpu_errors(override: Mapping[str, Any], gpu_limit: int, path: str) -> list[SettingsError]:
    limits = override["extra_resource_limits"]
    gpu_value = limits.get(GPU_RESOURCE) if isinstance(limits, Mapping) else None
    if gpu_value is not None and _whole_number(gpu_value) is None:
        message = f"{gpu_value!r} is not a whole number of GPUs"
    elif (gpus := gpu_count(override)) > gpu_limit:
        message = (
            f"{gpus} GPU{'s' if gpus != 1 else ''} is above the operator's ceiling of {gpu_limit}"
        )
    else:
        return []
    return [SettingsError(f"{path}/extra_resource_limits", message)]


def _extra_resource_errors(
    override: Mapping[str, Any], resources: tuple[tuple[str, int | None], ...], path: str
) -> list[SettingsError]:
    errors = []
    for key in ("extra_resource_limits", "extra_resource_guarantees"):
        requested = override.get(key)
        for resource, most in resources:
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
