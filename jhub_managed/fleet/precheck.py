"""``fleet validate``, and the same check that every command making changes runs first:
every hub's values, nothing done when one is wrong."""

from __future__ import annotations

from typing import Any

from .console import err, out
from .dependency import SKIP_FLAG, SubChart, find_subcharts
from .fleetfile import Fleet, FleetError, Hub
from .validate import hub_values, load_chart_schema, validate_hub


def subcharts(args, fleet: Fleet) -> list[SubChart] | None:
    """The chart's dependencies from its ``charts/`` folder, or None when the operator
    passed --skip-dependency-schema (a missing dependency stops the command: exit 2)."""
    if args.skip_dependency_schema:
        err(
            f"note: the chart's dependencies were left out ({SKIP_FLAG}): their schemas "
            "(zero-to-jupyterhub's) were not checked"
        )
        return None
    return find_subcharts(fleet.chart)


def validate_fleet(fleet: Fleet, hubs: list[Hub], found: list[SubChart] | None) -> list[FleetError]:
    schema = load_chart_schema(fleet)
    errors: list[FleetError] = []
    for hub in hubs:
        errors += validate_hub(fleet, hub, found or [], schema)
    return errors


def cmd_validate(args, fleet: Fleet, hubs: list[Hub]) -> int:
    found = subcharts(args, fleet)
    errors = validate_fleet(fleet, hubs, found)
    for error in errors:
        err(str(error))
    if errors:
        err(f"{len(errors)} error(s) in {len({e.hub for e in errors})} hub(s)")
        return 1
    theirs = [
        f"{sub.label}'s ({sub.source.relative_to(fleet.chart)})"
        for sub in found or []
        if sub.schema
    ]
    checked = ", ".join(["our schema", *theirs, "the settings schema and ceilings"])
    out(f"{len(hubs)} hub(s) valid against {checked}: {', '.join(h.name for h in hubs)}")
    return 0


def refuse_invalid(args, fleet: Fleet, hubs: list[Hub]) -> tuple[bool, list[SubChart] | None]:
    """Whether any hub's values are wrong (said on stderr), and the chart's dependencies
    (as :func:`subcharts` finds them)."""
    found = subcharts(args, fleet)
    errors = validate_fleet(fleet, hubs, found)
    for error in errors:
        err(str(error))
    if errors:
        err(f"{len(errors)} error(s): nothing was done (see `jhub-managed fleet validate`)")
    return bool(errors), found


def merged_values(fleet: Fleet, hub: Hub) -> dict[str, Any]:
    return hub_values(fleet, hub).values
