"""``fleet render`` and ``fleet deploy``: each hub's chart through helm, the deploy hub by
hub, each healthy before the next."""

from __future__ import annotations

import difflib
import sys
import tempfile
from pathlib import Path

from . import helm as helm_tool
from . import schema as chart_schema
from .console import err, out
from .fleetfile import Fleet, FleetError, Hub
from .precheck import merged_values, refuse_invalid
from .probe import HEALTH_PATH, Progress, join, wait_healthy
from .values import dump

STATE_DIR = ".fleet-state"


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
        show_plan(args, fleet, hubs)
        return 0
    helm = helm_tool.find_helm(args.helm)
    # helm checks the values against the chart's schema: the one the traits make now
    chart_schema.write(fleet.chart)
    progress = Progress(len(hubs), "deploy")
    try:
        for index, hub in enumerate(hubs):
            rest = [h.name for h in hubs[index + 1 :]]
            untouched = f"; not touched: {', '.join(rest)}" if rest else ""
            failure = deploy_hub(args, fleet, hub, helm, progress)
            if failure:
                progress.close()
                err(f"hub {hub.name}: {failure}{untouched}")
                return 1
            progress.advance(f"{hub.name}: healthy")
    finally:
        progress.close()
    out(f"deployed {len(hubs)} hub(s): {', '.join(h.name for h in hubs)}")
    return 0


def show_plan(args, fleet: Fleet, hubs: list[Hub]) -> None:
    """``deploy --dry-run``: what would be done, hub by hub, with each hub's values diff."""
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


def deploy_hub(args, fleet: Fleet, hub: Hub, helm: str, progress: Progress) -> str:
    """Upgrade one hub and wait for its health: what went wrong, or ``""``."""
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
        return f"helm upgrade failed: {helm_tool.helm_error(result)}"
    kept = kept_values_file(args, fleet, hub)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(rendered)
    progress.show(f"{hub.name}: waiting for {HEALTH_PATH}")
    state = wait_healthy(
        hub.base_url,
        args.health_timeout,
        interval=args.health_interval,
        on_wait=lambda h: progress.show(
            f"{hub.name}: waiting for {HEALTH_PATH} ({h.reason or h.status})"
        ),
    )
    if not state.ok:
        return (
            f"not healthy within {args.health_timeout:g}s after the upgrade: "
            f"{join(hub.base_url, HEALTH_PATH)} {state.reason}; the rollout stops here"
        )
    return ""
