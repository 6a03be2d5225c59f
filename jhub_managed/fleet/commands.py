"""``jhub-managed fleet validate|render|deploy|status|report``.

Each command prints what went wrong as ``hub NAME: FILE: KEY: message`` lines (no
traceback) and exits non-zero when anything failed: 1 for a hub that failed, 2 for a fleet
that could not be read or a command used wrongly.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from . import helm as helm_tool
from . import schema as chart_schema
from .dependency import SKIP_FLAG, SubChart, find_subcharts
from .fleetfile import Fleet, FleetError, Hub, load_fleet
from .probe import (
    HEALTH_PATH,
    Answer,
    ProbeError,
    Progress,
    error_detail,
    get,
    health,
    join,
    wait_healthy,
)
from .validate import load_chart_schema, validate_hub
from .values import dump

STATE_DIR = ".fleet-state"
REPORT_PATH = "services/usage/api/report"
PAGINATION = "application/jupyterhub-pagination+json"


def out(text: str = "") -> None:
    print(text, flush=True)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- validate ------------------------------------------------------------------------------


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
    from .validate import hub_values

    return hub_values(fleet, hub).values


# -- render --------------------------------------------------------------------------------


def cmd_render(args, fleet: Fleet, hubs: list[Hub]) -> int:
    refused, found = refuse_invalid(args, fleet, hubs)
    if refused:
        return 1
    helm = helm_tool.find_helm(args.helm)
    target = Path(args.out)
    failed = 0
    for hub in hubs:
        values = merged_values(fleet, hub)
        folder = target / hub.name
        folder.mkdir(parents=True, exist_ok=True)
        values_file = folder / "values.yaml"
        values_file.write_text(dump(values))
        (folder / "jupyterhub-values.yaml").write_text(dump(values.get("jupyterhub", {})))
        try:
            manifests = helm_tool.template(
                helm,
                fleet.chart,
                hub.name,
                hub.namespace,
                values_file,
                dependencies=found is not None,
            )
        except FleetError as e:
            err(str(e))
            failed += 1
            continue
        (folder / "manifests.yaml").write_text(manifests)
        out(f"{hub.name}: {folder}/manifests.yaml, values.yaml, jupyterhub-values.yaml")
    return 1 if failed else 0


# -- deploy --------------------------------------------------------------------------------


def state_dir(args, fleet: Fleet) -> Path:
    return Path(args.state_dir) if args.state_dir else fleet.file.parent / STATE_DIR


def kept_values_file(args, fleet: Fleet, hub: Hub) -> Path:
    return state_dir(args, fleet) / hub.name / "values.yaml"


def upgrade_args(fleet: Fleet, hub: Hub, values_file: Path, timeout: str) -> list[str]:
    return [
        "upgrade",
        "--install",
        hub.name,
        str(fleet.chart),
        "--namespace",
        hub.namespace,
        "--create-namespace",
        "--dependency-update",
        "--values",
        str(values_file),
        "--wait",
        "--timeout",
        timeout,
    ]


def values_diff(kept: Path, now: str) -> list[str]:
    before = kept.read_text() if kept.is_file() else ""
    return list(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            now.splitlines(keepends=True),
            fromfile=f"{kept} (last deployed)" if before else "(nothing deployed from here yet)",
            tofile="now",
        )
    )


def cmd_deploy(args, fleet: Fleet, hubs: list[Hub]) -> int:
    refused, _ = refuse_invalid(args, fleet, hubs)
    if refused:
        return 1
    if args.dry_run:
        out(
            f"Plan: {len(hubs)} hub(s), one after another; each must answer "
            f"{HEALTH_PATH} with 200 within {args.health_timeout:g}s before the next."
        )
        for number, hub in enumerate(hubs, 1):
            rendered = dump(merged_values(fleet, hub))
            out(
                f"{number}. {hub.name}: helm upgrade --install {hub.name} {fleet.chart} "
                f"--namespace {hub.namespace}, then {join(hub.base_url, HEALTH_PATH)}"
            )
            diff = values_diff(kept_values_file(args, fleet, hub), rendered)
            if diff:
                sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in diff)
            else:
                out("   values unchanged since the last deploy")
        sys.stdout.flush()
        return 0
    helm = helm_tool.find_helm(args.helm)
    # helm checks the values against the chart's schema: the one the traits make now
    chart_schema.write(fleet.chart)
    progress = Progress(len(hubs), "deploy")
    try:
        for index, hub in enumerate(hubs):
            rest = [h.name for h in hubs[index + 1 :]]
            untouched = f"; not touched: {', '.join(rest)}" if rest else ""
            rendered = dump(merged_values(fleet, hub))
            progress.show(f"{hub.name}: helm upgrade")
            with tempfile.TemporaryDirectory(prefix="jhm-deploy-") as tmp:
                values_file = Path(tmp) / f"{hub.name}.values.yaml"
                values_file.write_text(rendered)
                result = helm_tool.run_helm(
                    helm,
                    upgrade_args(fleet, hub, values_file, args.helm_timeout),
                    timeout=args.helm_wait,
                )
            if result.returncode != 0:
                progress.close()
                err(
                    f"hub {hub.name}: helm upgrade failed: {helm_tool.helm_error(result)}"
                    f"{untouched}"
                )
                return 1
            kept = kept_values_file(args, fleet, hub)
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(rendered)
            progress.show(f"{hub.name}: waiting for {HEALTH_PATH}")
            state = wait_healthy(
                hub.base_url,
                args.health_timeout,
                interval=args.health_interval,
                on_wait=lambda h, hub=hub: progress.show(
                    f"{hub.name}: waiting for {HEALTH_PATH} ({h.reason or h.status})"
                ),
            )
            if not state.ok:
                progress.close()
                err(
                    f"hub {hub.name}: not healthy within {args.health_timeout:g}s after the "
                    f"upgrade: {join(hub.base_url, HEALTH_PATH)} {state.reason}; "
                    f"the rollout stops here{untouched}"
                )
                return 1
            progress.advance(f"{hub.name}: healthy")
    finally:
        progress.close()
    out(f"deployed {len(hubs)} hub(s): {', '.join(h.name for h in hubs)}")
    return 0


# -- status --------------------------------------------------------------------------------


def _running_servers(hub: Hub, token: str, timeout: float) -> int:
    count, offset = 0, 0
    for _ in range(1000):
        answer = get(
            join(hub.base_url, "hub/api/users", {"state": "active", "offset": str(offset)}),
            token=token,
            timeout=timeout,
            accept=PAGINATION,
        )
        if answer.status != 200:
            raise ProbeError(f"{answer.status} {error_detail(answer)}".strip(), answer.status)
        data = answer.json()
        items = data["items"] if isinstance(data, dict) else data
        count += sum(len(user.get("servers") or {}) for user in items)
        following = (data.get("_pagination") or {}).get("next") if isinstance(data, dict) else None
        if not following:
            return count
        offset = following["offset"]
    return count


def hub_status(hub: Hub, timeout: float) -> dict[str, str]:
    row = {"hub": hub.name}
    state = health(hub.base_url, timeout=timeout)
    row["health"] = state.state
    not_passing = state.failing + [f"{name} (starting)" for name in state.starting]
    row["failing"] = ", ".join(not_passing) if not_passing else ("" if state.ok else state.reason)
    if state.status is None:
        row.update(jupyterhub="?", servers="?", settings="?")
        return row
    try:
        answer = get(join(hub.base_url, "hub/api/"), timeout=timeout)
        row["jupyterhub"] = str(answer.json().get("version", "?")) if answer.status == 200 else "?"
    except (ProbeError, AttributeError):
        row["jupyterhub"] = "?"
    token = hub.token()
    if not token:
        note = f"no token (${hub.token_env} unset)" if hub.token_env else "no token_env"
        row.update(servers=note, settings=note)
        return row
    try:
        row["servers"] = str(_running_servers(hub, token, timeout))
    except (ProbeError, KeyError, TypeError, AttributeError) as e:
        row["servers"] = f"? ({e})"
    try:
        answer = get(
            join(hub.base_url, "services/config/api/settings"), token=token, timeout=timeout
        )
        if answer.status == 200:
            row["settings"] = str(answer.json().get("version", "?"))
        else:
            row["settings"] = f"? ({answer.status})"
    except (ProbeError, AttributeError) as e:
        row["settings"] = f"? ({e})"
    return row


STATUS_COLUMNS = [
    ("hub", "HUB"),
    ("health", "HEALTH"),
    ("failing", "FAILING CHECKS"),
    ("jupyterhub", "JUPYTERHUB"),
    ("servers", "SERVERS"),
    ("settings", "SETTINGS VERSION"),
]


def table(rows: list[dict[str, str]], columns=STATUS_COLUMNS) -> str:
    widths = {k: max([len(title)] + [len(r.get(k, "")) for r in rows]) for k, title in columns}
    lines = ["  ".join(title.ljust(widths[k]) for k, title in columns).rstrip()]
    for row in rows:
        lines.append("  ".join(row.get(k, "").ljust(widths[k]) for k, _ in columns).rstrip())
    return "\n".join(lines)


def in_parallel(hubs: list[Hub], work: Callable[[Hub], Any], workers: int = 16) -> list[Any]:
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(hubs)))) as pool:
        return list(pool.map(work, hubs))


def cmd_status(args, fleet: Fleet, hubs: list[Hub]) -> int:
    rows = in_parallel(hubs, lambda hub: hub_status(hub, args.timeout))
    out(table(rows))
    bad = [r["hub"] for r in rows if r["health"] != "ok"]
    if bad:
        err(f"{len(bad)} of {len(rows)} hub(s) not healthy: {', '.join(bad)}")
        return 1
    return 0


# -- report --------------------------------------------------------------------------------


def fetch_report(hub: Hub, query: dict[str, str], args) -> dict[str, Any]:
    token = hub.token()
    if not token:
        raise ProbeError(
            f"no token: ${hub.token_env} is not set" if hub.token_env else "no token_env"
        )
    url = join(hub.base_url, REPORT_PATH, query)
    last = ""
    for attempt in range(args.retries + 1):
        if attempt:
            import time

            time.sleep(min(8.0, args.retry_wait * 2 ** (attempt - 1)))
        try:
            answer: Answer = get(url, token=token, timeout=args.timeout)
        except ProbeError as e:
            last = str(e)
            continue
        if answer.status == 200:
            data = answer.json()
            if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
                raise ProbeError("the report has no rows")
            return data
        detail = error_detail(answer)
        last = f"answered {answer.status}" + (f": {detail}" if detail else "")
        if answer.status < 500 and answer.status != 429:
            break  # asking again gives the same answer
    raise ProbeError(last)


def cmd_report(args, fleet: Fleet, hubs: list[Hub]) -> int:
    for name in ("start", "end"):
        try:
            date.fromisoformat(getattr(args, name))
        except ValueError:
            err(f"--{name} {getattr(args, name)!r} is not a date (YYYY-MM-DD)")
            return 2
    query = {"start": args.start, "end": args.end, "group_by": args.group_by, "format": "json"}
    progress = Progress(len(hubs), "report")
    progress.show()

    def one(hub: Hub):
        try:
            result = (hub, fetch_report(hub, query, args), "")
        except ProbeError as e:
            result = (hub, None, str(e))
        progress.advance(hub.name + (" failed" if result[2] else ""))
        return result

    try:
        results = in_parallel(hubs, one)
    finally:
        progress.close()
    rows: list[dict[str, Any]] = []
    per_hub: dict[str, Any] = {}
    failed = []
    for hub, data, reason in results:
        if data is None:
            failed.append({"hub": hub.name, "reason": reason})
            continue
        per_hub[hub.name] = {k: data.get(k) for k in ("totals", "active_users")}
        rows += [{"hub": hub.name, **row} for row in data["rows"]]
    target = Path(args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "json":
        document = {
            "start": args.start,
            "end": args.end,
            "group_by": args.group_by,
            "rows": rows,
            "hubs": per_hub,
            "failed": failed,
        }
        target.write_text(json.dumps(document, indent=2) + "\n")
    else:
        columns: list[str] = ["hub"]
        for row in rows:
            columns += [k for k in row if k not in columns]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        target.write_text(buffer.getvalue())
    out(f"{len(rows)} row(s) from {len(per_hub)} hub(s) written to {target}")
    for failure in failed:
        err(f"hub {failure['hub']}: no report: {failure['reason']}")
    return 1 if failed else 0


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


# -- the parser ----------------------------------------------------------------------------

COMMANDS = {
    "validate": cmd_validate,
    "render": cmd_render,
    "deploy": cmd_deploy,
    "status": cmd_status,
    "report": cmd_report,
}


def add_fleet_parser(sub) -> argparse.ArgumentParser:
    fleet = sub.add_parser(
        "fleet",
        help="validate, render, deploy, watch and report on a fleet of hubs",
        description=(
            "Work on a fleet of hubs described by a fleet file (helm/fleet/fleet.yaml): the "
            "chart, the common values files and one entry per hub. Every command exits "
            "non-zero when anything failed, naming the hub, the file and the key."
        ),
    )
    commands = fleet.add_subparsers(dest="fleet_command", metavar="COMMAND")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--fleet", required=True, metavar="FILE", help="the fleet file")
        parser.add_argument(
            "--hub",
            action="append",
            default=[],
            metavar="NAME",
            help="only this hub (repeat for more; default: every hub)",
        )

    def dependencies(parser: argparse.ArgumentParser, then: str = "") -> None:
        parser.add_argument(
            SKIP_FLAG,
            action="store_true",
            help="go on without the chart's dependencies (zero-to-jupyterhub's chart, which "
            "`helm dependency build CHART` puts in the chart's charts/ folder): the "
            "jupyterhub values are then not checked against its schema" + then + ". Without "
            "this flag a dependency missing from charts/ stops the command",
        )

    def helm(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--helm",
            metavar="PATH",
            help="the helm executable (default: $JHUB_MANAGED_HELM, "
            "else helm beside this Python or on PATH)",
        )

    p = commands.add_parser(
        "validate",
        help="check every hub's merged values",
        description="Check every hub's merged values against the chart's schema and "
        "zero-to-jupyterhub's (from its chart in the chart's charts/ folder, as helm checks "
        "a dependency), and the settings layers in them against the settings schema and "
        "the operator's ceilings.",
    )
    common(p)
    dependencies(p)
    p = commands.add_parser(
        "render",
        help="render each hub's manifests and merged values",
        description="Per hub, into DIR/<hub>/: manifests.yaml (the chart rendered by helm "
        "template, zero-to-jupyterhub's objects included), values.yaml (the merged values) "
        "and jupyterhub-values.yaml (what zero-to-jupyterhub receives).",
    )
    common(p)
    p.add_argument("--out", required=True, metavar="DIR", help="where to write")
    dependencies(p, ", and manifests.yaml holds the chart's own objects only")
    helm(p)
    p = commands.add_parser(
        "deploy",
        help="helm upgrade --install hub by hub, each healthy before the next",
        description="helm upgrade --install each hub into its own namespace, one after "
        "another; after each, the hub's /services/health/api/health must answer 200 within "
        "--health-timeout before the next is touched. The first failure stops the rollout.",
    )
    common(p)
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and the diff of each hub's values against the last deploy",
    )
    p.add_argument(
        "--health-timeout",
        type=float,
        default=300,
        metavar="SECONDS",
        help="how long a hub may take to answer 200 after its upgrade (default: %(default)s)",
    )
    p.add_argument(
        "--health-interval",
        type=float,
        default=2,
        metavar="SECONDS",
        help="how often to ask a hub for its health while waiting (default: %(default)s)",
    )
    p.add_argument(
        "--helm-timeout",
        default="10m",
        metavar="DURATION",
        help="helm's own --timeout for --wait (default: %(default)s)",
    )
    p.add_argument(
        "--helm-wait",
        type=float,
        default=1200,
        metavar="SECONDS",
        help="how long one helm upgrade may run in all (default: %(default)s)",
    )
    p.add_argument(
        "--state-dir",
        metavar="DIR",
        help=f"where the values of the last deploy are kept (default: {STATE_DIR} beside "
        "the fleet file)",
    )
    dependencies(p, " (helm upgrade's --dependency-update fetches the chart then)")
    helm(p)
    p = commands.add_parser(
        "status",
        help="one table of every hub: health, version, servers, settings",
        description="Ask every hub at once: health and failing checks, JupyterHub version, "
        "running servers and settings version (the last two need the hub's token_env).",
    )
    common(p)
    p.add_argument(
        "--timeout",
        type=float,
        default=10,
        metavar="SECONDS",
        help="per request to a hub (default: %(default)s)",
    )
    p = commands.add_parser(
        "report",
        help="every hub's usage report, merged with a hub column",
        description="Fetch every hub's /services/usage/api/report concurrently (with "
        "retries) and merge the rows with a hub column. Hubs that failed are listed with "
        "the reason; the others are still reported; the exit code is 1 if any failed.",
    )
    common(p)
    p.add_argument("--start", required=True, help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--end", required=True, help="last day, YYYY-MM-DD (UTC, inclusive)")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the report")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument(
        "--group-by",
        choices=["user", "group", "profile"],
        default="group",
        help="rows per user, group or profile (default: %(default)s)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30,
        metavar="SECONDS",
        help="per request (default: %(default)s)",
    )
    p.add_argument("--retries", type=int, default=2, help="tries after the first (default: 2)")
    p.add_argument(
        "--retry-wait",
        type=float,
        default=1,
        metavar="SECONDS",
        help="wait before the first retry, doubled for each next (default: %(default)s)",
    )
    return fleet


def fleet_parser() -> argparse.ArgumentParser:
    """The ``fleet`` command's parser (for the docs)."""
    parser = argparse.ArgumentParser(prog="jhub-managed")
    return add_fleet_parser(parser.add_subparsers())


def run_fleet(args, parser: argparse.ArgumentParser) -> int:
    command = COMMANDS.get(getattr(args, "fleet_command", None) or "")
    if command is None:
        parser.parse_args(["fleet", "--help"])
        return 2
    try:
        fleet = load_fleet(args.fleet)
        hubs = fleet.select(args.hub)
        return command(args, fleet, hubs)
    except FleetError as e:
        err(f"jhub-managed fleet: {e}")
        return 2
    except KeyboardInterrupt:
        err("jhub-managed fleet: interrupted")
        return 130
