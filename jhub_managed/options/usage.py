"""Usage: the collector's poll, the rate card, budgets, reports and metrics."""

from __future__ import annotations

import os

from traitlets import Bool, Dict, HasTraits, List, Unicode, default, validate
from traitlets import Integer as Int

from .errors import ConfigureError


class UsageOptions(HasTraits):
    # -- usage: sessions, reports, budgets and metrics (services/usage/) ---------------------

    usage_poll_interval = Int(
        60,
        config=True,
        help="""Seconds between two polls of the hub's REST API by the usage service. The
        managed spawners report starts and stops at once; the poll catches what they could
        not (servers of other spawners, a stop while the hub was down) and keeps the last
        activity of running servers.""",
    )

    @validate("usage_poll_interval")
    def _check_poll_interval(self, proposal):
        if not 5 <= proposal.value <= 3600:
            raise ConfigureError("usage_poll_interval must be between 5 and 3600 seconds")
        return proposal.value

    usage_rate_card = Dict(
        config=True,
        help="""Prices for the usage reports' cost column: ``{"currency": "EUR",
        "server_hour": 0.01, "cpu_hour": 0.03, "memory_gib_hour": 0.004, "gpu_hour": 0.9,
        "profiles": {"<slug>": {"gpu_hour": 1.5}}}``. A price not given is 0; a profile's
        prices fall back to the card's. Empty: reports have no cost.""",
    )

    @validate("usage_rate_card")
    def _check_rate_card(self, proposal):
        from ..services.usage.rates import RateCard

        try:
            RateCard.from_config(proposal.value)
        except ValueError as e:
            raise ConfigureError(f"usage_rate_card: {e}") from None
        return proposal.value

    usage_budgets = Dict(
        config=True,
        help="""Monthly budgets of groups from the operator: ``{"<group>": {"server_hours":
        500}}`` or ``{"<group>": {"cost": 1200}}`` (in the rate card's currency). Hub admins
        may set budgets in the ``budgets`` section of the hub's settings, which win for
        their groups. Members see a notice at 80 % and 100 %; nothing is stopped.""",
    )

    @validate("usage_budgets")
    def _check_budgets(self, proposal):
        from ..services.usage.budgets import budget_errors

        errors = budget_errors(proposal.value, "usage_budgets")
        if errors:
            raise ConfigureError(errors[0])
        return proposal.value

    usage_split_groups = Bool(
        False,
        config=True,
        help="""Split a session of a user in several groups (on a profile open to all of
        them) evenly between those groups in reports by group, budgets and metrics. Off:
        such sessions are billed to ``multiple``.""",
    )
    usage_per_user_metrics = Bool(
        False,
        config=True,
        help="""Add per-user series to the usage service's ``/metrics`` (server-hours and
        running servers by user). Off by default: one series per user can be many.""",
    )
    usage_report_groups = List(
        Unicode(),
        config=True,
        help="""Groups whose members hold the usage-report scope
        (``custom:jhub-managed:usage-reports``): they may read everyone's usage reports and
        the usage metrics without being hub admins.""",
    )

    # -- found at hub start in the hub's configuration and environment (see
    # managedhub.HUB_FACTS) ---------------------------------------------------------------------

    staff_group = Unicode(
        help="""The managed authenticators' group of the operator's staff
        (``c.ManagedAuthenticatorMixin.staff_group``), whom usage figures leave out."""
    )

    @default("staff_group")
    def _default_staff_group(self):
        authenticator = self.config.get("ManagedAuthenticatorMixin") or {}
        return authenticator.get("staff_group", "staff")

    metrics_namespace = Unicode(
        help="""The ``namespace`` label of the usage metrics: the hub pod's namespace
        (``$POD_NAMESPACE``), else ``hub_name``."""
    )

    @default("metrics_namespace")
    def _default_metrics_namespace(self):
        return os.environ.get("POD_NAMESPACE") or self.hub_name
