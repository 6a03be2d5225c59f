"""The ``jhub-managed fleet`` command line: its commands, options and help."""

from __future__ import annotations

import argparse

from .dependency import SKIP_FLAG
from .rollout import STATE_DIR


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
    _add_validate(commands)
    _add_render(commands)
    _add_deploy(commands)
    _add_status(commands)
    _add_report(commands)
    return fleet


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fleet", required=True, metavar="FILE", help="the fleet file")
    parser.add_argument(
        "--hub",
        action="append",
        default=[],
        metavar="NAME",
        help="only this hub (repeat for more; default: every hub)",
    )


def _dependencies(parser: argparse.ArgumentParser, then: str = "") -> None:
    parser.add_argument(
        SKIP_FLAG,
        action="store_true",
        help="go on without the chart's dependencies (zero-to-jupyterhub's chart, which "
        "`helm dependency build CHART` puts in the chart's charts/ folder): the "
        "jupyterhub values are then not checked against its schema" + then + ". Without "
        "this flag a dependency missing from charts/ stops the command",
    )


def _helm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--helm",
        metavar="PATH",
        help="the helm executable (default: $JHUB_MANAGED_HELM, "
        "else helm beside this Python or on PATH)",
    )


def _add_validate(commands) -> None:
    p = commands.add_parser(
        "validate",
        help="check every hub's merged values",
        description="Check every hub's merged values against the chart's schema and "
        "zero-to-jupyterhub's (from its chart in the chart's charts/ folder, as helm checks "
        "a dependency), and the settings layers in them against the settings schema and "
        "the operator's ceilings.",
    )
    _common(p)
    _dependencies(p)


def _add_render(commands) -> None:
    p = commands.add_parser(
        "render",
        help="render each hub's manifests and merged values",
        description="Per hub, into DIR/<hub>/: manifests.yaml (the chart rendered by helm "
        "template, zero-to-jupyterhub's objects included), values.yaml (the merged values) "
        "and jupyterhub-values.yaml (what zero-to-jupyterhub receives).",
    )
    _common(p)
    p.add_argument("--out", required=True, metavar="DIR", help="where to write")
    _dependencies(p, ", and manifests.yaml holds the chart's own objects only")
    _helm(p)


def _add_deploy(commands) -> None:
    p = commands.add_parser(
        "deploy",
        help="helm upgrade --install hub by hub, each healthy before the next",
        description="helm upgrade --install each hub into its own namespace, one after "
        "another; after each, the hub's /services/health/api/health must answer 200 within "
        "--health-timeout before the next is touched. The first failure stops the rollout.",
    )
    _common(p)
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
    _dependencies(p, " (helm upgrade's --dependency-update fetches the chart then)")
    _helm(p)


def _add_status(commands) -> None:
    p = commands.add_parser(
        "status",
        help="one table of every hub: health, version, servers, settings",
        description="Ask every hub at once: health and failing checks, JupyterHub version, "
        "running servers and settings version (the last two need the hub's token_env).",
    )
    _common(p)
    p.add_argument(
        "--timeout",
        type=float,
        default=10,
        metavar="SECONDS",
        help="per request to a hub (default: %(default)s)",
    )


def _add_report(commands) -> None:
    p = commands.add_parser(
        "report",
        help="every hub's usage report, merged with a hub column",
        description="Fetch every hub's /services/usage/api/report concurrently (with "
        "retries) and merge the rows with a hub column. Hubs that failed are listed with "
        "the reason; the others are still reported; the exit code is 1 if any failed.",
    )
    _common(p)
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


def fleet_parser() -> argparse.ArgumentParser:
    """The ``fleet`` command's parser (for the docs)."""
    parser = argparse.ArgumentParser(prog="jhub-managed")
    return add_fleet_parser(parser.add_subparsers())
