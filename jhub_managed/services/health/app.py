"""The health service application.

- ``GET|HEAD api/health``: 200 when every required check passes, 503 otherwise, with every
  check's cached result (public: uptime monitors have no hub login; no secrets in it).
- ``GET /`` (the service's root): the status page, 200 whatever the checks say: JupyterHub
  waits for every managed service at its root when it starts and exits on a 5xx.
- ``POST api/deep-check``: start (or join) a deep check; the custom health scope or
  ``admin:servers`` on the request's token.
- ``GET metrics``: Prometheus.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from functools import cached_property
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.pool import NullPool
from tornado import web
from tornado.httpclient import HTTPRequest

from ...store.attribution import DEFAULT_CHECK_USER
from ...store.store import MIGRATIONS, create_engine_for
from ..base import APIHandler, BaseHandler, ServiceApp
from ..hubapi import HubAPI
from .catalog import CHECKS
from .checks import CHECK_FUNCTIONS, ThreadGuard
from .deep import DeepCheck
from .schedule import (
    FAILING,
    OK,
    SKIPPED,
    STARTING,
    STATES,
    Result,
    Schedule,
    ScheduledCheck,
    StartPhase,
)
from .wiring import health_options

HEALTH_SCOPE = "custom:jhub-managed:health"
#: scopes on a request's token that allow starting a deep check
DEEP_CHECK_SCOPES = (HEALTH_SCOPE, "admin:servers")


class CountingHubAPI(HubAPI):
    """The hub client, counting its requests (for the metrics and the load test)."""

    requests = 0

    async def request(self, method: str, path: str, body: Any = None, timeout: float = 10):
        self.requests += 1
        return await super().request(method, path, body=body, timeout=timeout)

    async def raw(self, method: str, path: str, timeout: float = 10) -> bytes:
        from jupyterhub.utils import url_path_join

        self.requests += 1
        response = await self.client.fetch(
            HTTPRequest(
                url_path_join(self.api_url, path),
                method=method,
                headers={"Authorization": f"token {self.token}"},
                request_timeout=timeout,
            )
        )
        return response.body


class CheckContext:
    """What the checks need: the hub client, the store, options; built once."""

    def __init__(self, service: HealthService):
        self.service = service
        self.config: dict[str, Any] = service.health_config
        self.hub: CountingHubAPI = service.hub_api
        self.check_user: str = self.config.get("check_user", DEFAULT_CHECK_USER)
        self.threads = ThreadGuard()
        self.deep: DeepCheck = service.deep
        self.last_settings_version: int | None = None
        self._engine = None
        self._kube_api = None

    def timeout_of(self, name: str) -> float:
        return float(self.config.get("timeouts", {}).get(name) or self.config.get("timeout", 5))

    def secrets(self) -> tuple[str, ...]:
        return (self.hub.token, self.service.managed_hub.db_url)

    def store_engine(self):
        if self._engine is None:
            url = self.service.managed_hub.db_url
            kwargs: dict[str, Any] = {"poolclass": NullPool}
            if url.startswith("postgres"):
                kwargs["connect_args"] = {
                    "connect_timeout": max(1, int(self.timeout_of("settings-store")))
                }
            self._engine = create_engine_for(url, **kwargs)
        return self._engine

    @cached_property
    def _head(self) -> str:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(config).get_current_head()

    def migration_head(self) -> str:
        return self._head

    async def kube_version_api(self):
        if self._kube_api is None:
            from kubespawner.clients import load_config, shared_client

            kube = {k: v for k, v in (self.config.get("kube") or {}).items() if v is not None}
            await asyncio.to_thread(load_config, **kube)
            self._kube_api = shared_client("VersionApi")
        return self._kube_api

    async def usage_last_poll(self, usage: dict):
        """The usage collector's last successful poll, from the usage service's metrics
        (``jhub_managed_usage_last_poll_timestamp_seconds``), or ``None`` before the first."""
        from datetime import datetime, timezone

        from jupyterhub.utils import url_path_join
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        from .checks import describe
        from .schedule import CheckFailed

        if not usage.get("url"):
            raise CheckFailed("the usage service has no URL to ask")
        url = url_path_join(usage["url"], usage.get("prefix") or "/services/usage/", "metrics")
        try:
            response = await AsyncHTTPClient().fetch(
                url,
                headers={"Authorization": f"token {self.hub.token}"},
                request_timeout=self.timeout_of("usage-collector"),
            )
        except HTTPClientError as e:
            raise CheckFailed(f"the usage service's metrics: {describe(e)}") from None
        for line in response.body.decode("utf8", "replace").splitlines():
            if line.startswith("jhub_managed_usage_last_poll_timestamp_seconds"):
                return datetime.fromtimestamp(float(line.split()[-1]), timezone.utc)
        return None

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


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


class HealthAPIHandler(web.RequestHandler):
    """The probe: cached results only; the first probe waits for the first run."""

    def check_xsrf_cookie(self) -> None:
        return None

    def _log(self) -> None:
        # monitors probe all day and the service logs every change of a check itself: the
        # answers are logged at debug level only (and cost nothing at info)
        if self.application.settings["service_app"].log.isEnabledFor(logging.DEBUG):
            super()._log()

    async def _answer(self, include_body: bool) -> None:
        service: HealthService = self.settings["service_app"]
        answer = service.answer.current()
        if answer is None:
            await service.schedule.run_due()
            answer = service.answer.current()
        status, body = answer
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
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
    def check_token_scope(self) -> None:
        model = self.current_user
        if model is None:
            raise web.HTTPError(403, f"Running a deep check needs a token with {HEALTH_SCOPE}.")
        scopes = set(model.get("scopes") or ())
        if not scopes.intersection(DEEP_CHECK_SCOPES):
            raise web.HTTPError(
                403, f"Running a deep check needs {HEALTH_SCOPE} (or admin:servers) on the token."
            )

    async def post(self) -> None:
        self.check_token_scope()
        run = self.service.deep.start(trigger="request")
        self.log.info("deep check %d requested by %s", run["id"], self.current_user["name"])
        self.write_json({"status": "running", "run": run}, status=202)

    async def get(self) -> None:
        self.write_json(self.service.deep.public())


class MetricsHandler(web.RequestHandler):
    def get(self) -> None:
        service: HealthService = self.settings["service_app"]
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(service.metrics.registry))


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


class StatusPage(BaseHandler):
    """For people: 200 whatever the checks say."""

    def check_xsrf_cookie(self) -> None:
        return None

    async def get(self) -> None:
        service: HealthService = self.service
        cached = service.schedule.cached()
        results = cached or [c.last for c in service.schedule.checks if c.last]
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
                deep=service.deep.public(),
                interval=service.health_config.get("interval", 30),
            )
        )

    def head(self) -> None:
        self.set_status(200)


class Metrics:
    def __init__(self, service: HealthService):
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
        hub_api = service.hub_api
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
        self.metrics = Metrics(self)
        self.deep = DeepCheck(
            self.hub_api,
            check_user=config.get("check_user", DEFAULT_CHECK_USER),
            timeout=float(config["deep_check_timeout"]),
            token=self.hub_api.token,
            log=self.log,
            on_finish=self._deep_check_finished,
        )
        self.context = CheckContext(self)
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
        return [
            ("", StatusPage),
            ("api/health", HealthAPIHandler),
            ("api/deep-check", DeepCheckHandler),
            ("metrics", MetricsHandler),
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
