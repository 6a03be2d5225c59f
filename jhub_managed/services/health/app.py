"""The health service application.

- ``GET|HEAD api/health``: 200 when every required check passes, 503 otherwise, with every
  check's cached result (public: uptime monitors have no hub login; no secrets in it).
- ``GET /`` (the service's root): the status page, 200 whatever the checks say: JupyterHub
  waits for every managed service at its root when it starts and exits on a 5xx.
- ``POST api/deep-check``: start (or join) a deep check; the custom health scope or
  ``admin:servers`` on the request's token (the admin flag alone grants nothing).
- ``GET metrics``: Prometheus.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ...scopes import HEALTH_SCOPE
from ...shared.health_checks import CHECKS
from ...store.attribution import DEFAULT_CHECK_USER
from ..base import APIHandler, BaseHandler, SecurityHeaders, ServiceApp, require_scope
from .checks import CHECK_FUNCTIONS
from .context import CheckContext, CountingHubAPI
from .deep import DeepCheck
from .metrics import Metrics
from .options import health_options
from .schedule import FAILING, OK, SKIPPED, STARTING, Result, Schedule, ScheduledCheck, StartPhase

#: scopes on a request's token that allow starting a deep check (any one of them)
DEEP_CHECK_SCOPES = (HEALTH_SCOPE, "admin:servers")
DEEP_CHECK_REFUSED = (
    "Running a deep check needs the health permission (the operator's staff and the groups "
    "they name hold it) or admin:servers on the request's token."
)


def overall(results: list[Result]) -> str:
    """The answer's ``status``: ``failing`` when a required check fails, else ``starting``
    when a required check does not pass while the hub is still starting, else ``ok``. Only
    ``ok`` answers 200: a hub that has not finished starting is not ready yet."""
    states = {r.state for r in results if r.counts}
    if FAILING in states:
        return FAILING
    return STARTING if STARTING in states else OK


class Answer:
    """The probe's answer, serialized once per change of the results."""

    def __init__(self, schedule: Schedule):
        self.schedule = schedule
        self._generation = -1
        self.status = 503
        self.body = b""

    def current(self) -> tuple[int, bytes] | None:
        if self._generation == self.schedule.generation and self.body:
            return self.status, self.body
        results = self.schedule.cached()
        if results is None:
            return None
        generation = self.schedule.generation
        status = overall(results)
        body = {"status": status, "checks": [r.public() for r in results]}
        self.status, self.body = (200 if status == OK else 503), json.dumps(body).encode()
        self._generation = generation
        return self.status, self.body


class HealthAPIHandler(SecurityHeaders):
    """The probe: cached results only; the first probe waits for the first run. Public, and
    not behind HubOAuth: uptime monitors have no hub login."""

    def initialize(self, answer: Answer, schedule: Schedule, log: logging.Logger) -> None:
        self.answer = answer
        self.schedule = schedule
        self.log = log

    def check_xsrf_cookie(self) -> None:
        return None

    def _log(self) -> None:
        # monitors probe all day and the service logs every change of a check itself: the
        # answers are logged at debug level only (and cost nothing at info)
        if self.log.isEnabledFor(logging.DEBUG):
            super()._log()

    async def _answer(self, include_body: bool) -> None:
        answer = self.answer.current()
        if answer is None:
            await self.schedule.run_due()
            answer = self.answer.current()
        status, body = answer
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        if include_body:
            self.finish(body)
        else:
            self.set_header("Content-Length", str(len(body)))
            self.finish()

    async def get(self) -> None:
        await self._answer(True)

    async def head(self) -> None:
        await self._answer(False)


class DeepCheckHandler(APIHandler):
    """``POST``: start (or join) a deep check; ``GET``: the last runs (public, as the probe)."""

    def initialize(self, deep: DeepCheck) -> None:
        self.deep = deep

    @require_scope(*DEEP_CHECK_SCOPES, refusal=DEEP_CHECK_REFUSED)
    async def post(self) -> None:
        run = self.deep.start(trigger="request")
        self.log.info("deep check %d requested by %s", run["id"], self.current_user["name"])
        self.write_json({"status": "running", "run": run}, status=202)

    async def get(self) -> None:
        self.write_json(self.deep.public())


class MetricsHandler(SecurityHeaders):
    def initialize(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(self.registry))


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


class StatusPage(BaseHandler):
    """For people: 200 whatever the checks say."""

    def initialize(self, schedule: Schedule, deep: DeepCheck, interval: float) -> None:
        self.schedule = schedule
        self.deep = deep
        #: seconds between two runs of a check, as the page says it
        self.interval = interval

    def check_xsrf_cookie(self) -> None:
        return None

    async def get(self) -> None:
        cached = self.schedule.cached()
        results = cached or [c.last for c in self.schedule.checks if c.last]
        now = time.time()
        rows = [
            {
                "name": r.name,
                "state": r.state,
                "ok": r.ok,
                "required": r.required,
                "message": r.message,
                "age": _age(now - r.at),
                "duration_ms": r.duration_ms,
                "about": CHECKS.get(r.name, ("", False))[0],
            }
            for r in results
        ]
        self.write(
            self.render_template(
                "service/health/index.html",
                rows=rows,
                # None until every check has run once
                status=overall(cached) if cached else None,
                failing=[r for r in rows if r["required"] and r["state"] == FAILING],
                waiting=[r for r in rows if r["required"] and r["state"] == STARTING],
                deep=self.deep.public(),
                interval=self.interval,
            )
        )

    def head(self) -> None:
        self.set_status(200)


#: how the log says that a check changed to each state
_CHANGES = {
    OK: "passes",
    FAILING: "fails",
    STARTING: "waits for the hub to finish starting",
    SKIPPED: "is skipped",
}


class HealthService(ServiceApp):
    service_name = "health"
    title = "Health"

    def init_service(self) -> None:
        #: the hub's health options, as the checks read them
        self.health_config = health_options(self.managed_hub)
        config = self.health_config
        self.hub_api = CountingHubAPI()
        self.metrics = Metrics(self.hub_api)
        self.deep = DeepCheck(
            self.hub_api,
            check_user=config.get("check_user", DEFAULT_CHECK_USER),
            timeout=float(config["deep_check_timeout"]),
            token=self.hub_api.token,
            log=self.log,
            on_finish=self._deep_check_finished,
        )
        self.context = CheckContext(config, self.hub_api, self.deep, self.managed_hub.db_url)
        self.start_phase = StartPhase(float(config["start_grace"]))
        required = set(config["required"])
        intervals = config.get("intervals") or {}
        checks = []
        for name, func in CHECK_FUNCTIONS.items():
            checks.append(
                ScheduledCheck(
                    name=name,
                    func=lambda func=func: func(self.context),
                    required=name in required,
                    interval=float(intervals.get(name) or config["interval"]),
                    timeout=self.context.timeout_of(name),
                    on_result=self._check_finished,
                    starting=self.start_phase,
                )
            )
        self._last_state: dict[str, str] = {}
        self.schedule = Schedule(checks)
        self.answer = Answer(self.schedule)
        self._deep_task: asyncio.Task | None = None

    def _check_finished(self, result: Result) -> None:
        if result.name == "proxy-routes" and result.ok and self.start_phase.finish():
            self.log.info("the hub has finished starting: the proxy routes to it and its services")
            # what waited for the start runs again now, and says ok or failing
            for check in self.schedule.checks:
                if check.last is not None and check.last.state == STARTING:
                    check.refresh()
                    check.run()
        self.metrics.on_result(result)
        cached = self.schedule.cached()
        if cached is not None:
            self.metrics.on_status(overall(cached))
        previous = self._last_state.get(result.name)
        self._last_state[result.name] = result.state
        if result.state != previous and (previous is not None or result.state != OK):
            # logged when it changes, not at every run
            self.log.log(
                logging.WARNING if result.state == FAILING else logging.INFO,
                "health check %s %s: %s",
                result.name,
                _CHANGES[result.state],
                result.message,
                extra={
                    "check": result.name,
                    "required": result.required,
                    "ok": result.ok,
                    "state": result.state,
                },
            )

    def _deep_check_finished(self, record: dict) -> None:
        self.metrics.on_deep_check(record)
        # the deep-check entry of the answer follows at once, not at its next interval
        for check in self.schedule.checks:
            if check.name == "deep-check":
                check.refresh()
                check.run()

    def handlers(self):
        # every route gets what it uses, and nothing else, through its initialize()
        status = {
            "schedule": self.schedule,
            "deep": self.deep,
            "interval": self.health_config.get("interval", 30),
        }
        probe = {"answer": self.answer, "schedule": self.schedule, "log": self.log}
        return [
            ("", StatusPage, status),
            ("api/health", HealthAPIHandler, probe),
            ("api/deep-check", DeepCheckHandler, {"deep": self.deep}),
            ("metrics", MetricsHandler, {"registry": self.metrics.registry}),
        ]

    async def _deep_check_loop(self, interval: float) -> None:
        if "deep-check" not in self.health_config["required"]:
            await asyncio.sleep(interval)
        while True:
            self.deep.start(trigger="schedule")
            await self.deep.wait()
            await asyncio.sleep(interval)

    async def run(self) -> None:
        self.schedule.start()
        interval = float(self.health_config.get("deep_check_interval") or 0)
        if interval > 0:
            self._deep_task = asyncio.ensure_future(self._deep_check_loop(interval))
        await super().run()

    async def cleanup(self) -> None:
        await self.schedule.stop()
        if self._deep_task is not None:
            self._deep_task.cancel()
        self.context.dispose()
