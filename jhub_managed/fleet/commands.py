"""``jhub-managed fleet validate|render|deploy|status|report``.

Each command prints what went wrong as ``hub NAME: FILE: KEY: message`` lines (no
traceback) and exits non-zero when anything failed: 1 for a hub that failed, 2 for a fleet
that could not be read or a command used wrongly.

The commands live by concern: :mod:`.precheck` (validate, and the check the others run
first), :mod:`.rollout` (render, deploy), :mod:`.survey` (status, report); the parser is
:mod:`.parser`'s.
"""

from __future__ import annotations

import argparse

from .console import err
from .fleetfile import FleetError, load_fleet
from .parser import add_fleet_parser, fleet_parser  # noqa: F401 (read from here)
from .precheck import cmd_validate
from .rollout import cmd_deploy, cmd_render
from .survey import cmd_report, cmd_status

COMMANDS = {
    "validate": cmd_validate,
    "render": cmd_render,
    "deploy": cmd_deploy,
    "status": cmd_status,
    "report": cmd_report,
}


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
