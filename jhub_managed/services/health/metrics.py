"""The health service's metrics (``GET metrics``, Prometheus)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from .schedule import OK, SKIPPED, STARTING, STATES, Result


class Metrics:
    """The health service's Prometheus metrics: each check, the answer, the deep check, and
    the requests ``hub_api`` (a :class:`.context.CountingHubAPI`) made to the hub."""

    def __init__(self, hub_api: Any):
        self.registry = CollectorRegistry()
        prefix = "jhub_managed_health"
        self.up = Gauge(
            f"{prefix}_check_up",
            "1 when the check passed, 0 when it did not (failing or starting); absent for a "
            "check that is skipped (nothing to check on this hub)",
            ["check"],
            registry=self.registry,
        )
        self.state = Gauge(
            f"{prefix}_check_state",
            "1 for the check's current state (ok, failing, starting, skipped), 0 for the others",
            ["check", "state"],
            registry=self.registry,
        )
        self.required = Gauge(
            f"{prefix}_check_required",
            "1 when the check is required",
            ["check"],
            registry=self.registry,
        )
        self.duration = Gauge(
            f"{prefix}_check_duration_seconds",
            "How long the check took",
            ["check"],
            registry=self.registry,
        )
        self.healthy = Gauge(
            f"{prefix}_status_ok",
            "1 when every required check passes (the probe answers 200)",
            registry=self.registry,
        )
        self.starting = Gauge(
            f"{prefix}_starting",
            "1 while the hub has not finished starting and a required check does not pass yet",
            registry=self.registry,
        )
        self.deep_duration = Gauge(
            f"{prefix}_deep_check_duration_seconds",
            "How long the last deep check took",
            registry=self.registry,
        )
        self.deep_ok = Gauge(
            f"{prefix}_deep_check_ok", "1 when the last deep check passed", registry=self.registry
        )
        self.deep_runs = Counter(
            f"{prefix}_deep_check_runs",
            "Deep checks run",
            ["result", "failed_step"],
            registry=self.registry,
        )
        self.hub_requests = Counter(
            f"{prefix}_hub_api_requests", "Requests made to the hub's API", registry=self.registry
        )
        self.hub_requests.inc(0)
        self._hub_api = hub_api
        self._counted = 0

    def on_result(self, result: Result) -> None:
        if result.state == SKIPPED:
            # neither up nor down: no sample, so availability and alerts leave it out
            try:
                self.up.remove(result.name)
            except KeyError:
                pass
        else:
            self.up.labels(result.name).set(1 if result.ok else 0)
        for state in STATES:
            self.state.labels(result.name, state).set(1 if state == result.state else 0)
        self.required.labels(result.name).set(1 if result.required else 0)
        self.duration.labels(result.name).set(result.duration_ms / 1000)
        self.count_hub_requests()

    def on_status(self, status: str) -> None:
        self.healthy.set(1 if status == OK else 0)
        self.starting.set(1 if status == STARTING else 0)

    def count_hub_requests(self) -> None:
        seen = self._hub_api.requests
        if seen > self._counted:
            self.hub_requests.inc(seen - self._counted)
            self._counted = seen

    def on_deep_check(self, record: dict) -> None:
        self.deep_duration.set(record["duration_s"])
        self.deep_ok.set(1 if record["ok"] else 0)
        self.deep_runs.labels("ok" if record["ok"] else "failed", record["failed_step"]).inc()
        self.count_hub_requests()
