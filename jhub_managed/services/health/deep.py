"""The deep check: the check user starts a real server with the default profile, runs
``1 + 1`` in a kernel through the server's REST and WebSocket API, and stops it.

Each run records its duration, its result and, when it fails, the step that failed:
``start`` (the hub or the spawner refused or failed to start the server), ``ready`` (no
ready server within the timeout: a server that never becomes ready is a failure, never a
hang), ``kernel`` (no kernel could be started), ``execute`` (``1 + 1`` did not give ``2``),
``stop`` (the server could not be stopped). Runs never overlap: asking during a run joins it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from jupyterhub.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from .checks import describe, scrub

#: the longest the kernel and execute steps and the stop may take
STEP_TIMEOUT = 60.0


class StepFailed(Exception):
    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step = step
        self.message = message


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _error_message(error: HTTPClientError) -> str:
    body = getattr(error.response, "body", None)
    if body:
        try:
            message = json.loads(body).get("message")
            if message:
                return scrub(message)
        except (ValueError, AttributeError):
            pass
    return describe(error)


class DeepCheck:
    def __init__(
        self,
        hub,
        *,
        check_user: str,
        timeout: float,
        token: str,
        log: logging.Logger | None = None,
        history: int = 20,
        on_finish: Callable[[dict], None] | None = None,
    ):
        self.hub = hub
        self.check_user = check_user
        self.timeout = timeout
        self.token = token
        self.log = log or logging.getLogger(__name__)
        self.runs: deque[dict] = deque(maxlen=history)
        self.on_finish = on_finish
        self._current: asyncio.Task | None = None
        self._current_info: dict | None = None
        self._ids = itertools.count(1)
        self.poll_interval = 0.5

    # -- what others see ------------------------------------------------------------------

    def last(self) -> dict | None:
        return self.runs[-1] if self.runs else None

    def running(self) -> dict | None:
        if self._current is not None and not self._current.done():
            return self._current_info
        return None

    def start(self, trigger: str) -> dict:
        """Start a run, or join the one in flight; returns the run's id and start time."""
        running = self.running()
        if running is not None:
            return running
        self._current_info = {"id": next(self._ids), "started_at": _now(), "trigger": trigger}
        self._current = asyncio.ensure_future(self._run(dict(self._current_info)))
        return self._current_info

    async def wait(self) -> dict | None:
        if self._current is not None:
            await asyncio.shield(self._current)
        return self.last()

    # -- the run --------------------------------------------------------------------------

    async def _run(self, info: dict) -> dict:
        started = time.monotonic()
        steps = _Steps()
        failure = await self._check(steps)
        steps.restart()
        try:
            await asyncio.wait_for(self._stop_server(), STEP_TIMEOUT)
            steps.done("stop")
        except Exception as e:
            if failure is None:
                failure = ("stop", f"the server did not stop: {describe(e)}")
        record = {**info, "ok": False, "failed_step": "", "message": "", "steps": steps.steps}
        if failure is None:
            record["ok"] = True
            record["message"] = "1 + 1 = 2 on a fresh server"
        else:
            record["failed_step"], record["message"] = failure
        record["duration_s"] = round(time.monotonic() - started, 2)
        record["finished_at"] = _now()
        self._finished(record)
        return record

    async def _check(self, steps: _Steps) -> tuple[str, str] | None:
        """Start a server, start a kernel in it, run ``1 + 1``: ``None`` when all went
        well, else the step that failed and why. The server is left for the caller to stop."""
        try:
            await self._stop_server()  # one left over from a run that was cut short
            await self._request_server()
            steps.done("start", then="ready")
            server_url = await self._wait_ready()
            steps.done("ready", then="kernel")
            kernel_id = await asyncio.wait_for(self._start_kernel(server_url), STEP_TIMEOUT)
            steps.done("kernel", then="execute")
            answer = await asyncio.wait_for(
                self._execute(server_url, kernel_id, "1 + 1"), STEP_TIMEOUT
            )
            if answer != "2":
                raise StepFailed("execute", f"1 + 1 gave {scrub(answer)!r}, not '2'")
            steps.done("execute")
        except StepFailed as e:
            return e.step, e.message
        except asyncio.TimeoutError:
            return steps.current, f"no answer within {STEP_TIMEOUT:g} s"
        except Exception as e:
            return steps.current, describe(e)
        return None

    def _finished(self, record: dict) -> None:
        """Keep, log and hand on a finished run."""
        self.runs.append(record)
        level = logging.INFO if record["ok"] else logging.WARNING
        self.log.log(
            level,
            "deep check %s in %.1f s%s",
            "passed" if record["ok"] else "failed",
            record["duration_s"],
            f" at its {record['failed_step']} step: {record['message']}"
            if not record["ok"]
            else "",
        )
        if self.on_finish is not None:
            self.on_finish(record)

    def _user_path(self, *parts: str) -> str:
        return "/".join(["users", quote(self.check_user, safe=""), *parts])

    async def _server_model(self) -> dict | None:
        model = await self.hub.get(self._user_path(), timeout=10)
        return (model.get("servers") or {}).get("")

    async def _request_server(self) -> None:
        try:
            await self.hub.request("POST", self._user_path("server"), {}, timeout=STEP_TIMEOUT)
        except HTTPClientError as e:
            if e.code == 599:
                raise StepFailed("start", f"the hub did not answer: {describe(e)}") from None
            raise StepFailed("start", f"the hub refused: {_error_message(e)}") from None

    async def _spawn_failure(self) -> str:
        """Why the last spawn failed, from the hub's progress stream."""
        try:
            body = await self.hub.raw("GET", self._user_path("server", "progress"), timeout=10)
        except Exception:
            return "the server stopped while starting"
        for line in body.decode("utf8", "replace").splitlines():
            if line.startswith("data:"):
                try:
                    event = json.loads(line[5:])
                except ValueError:
                    continue
                if event.get("failed"):
                    return scrub(event.get("message") or "the spawn failed")
        return "the server stopped while starting"

    async def _wait_ready(self) -> str:
        deadline = time.monotonic() + self.timeout
        while True:
            server = await self._server_model()
            if server is None:
                why = await self._spawn_failure()
                step = "ready" if "didn't respond" in why else "start"
                raise StepFailed(step, why)
            if server.get("ready"):
                return await self._server_api_url(server["url"])
            if time.monotonic() > deadline:
                raise StepFailed("ready", f"the server was not ready within {self.timeout:g} s")
            await asyncio.sleep(self.poll_interval)

    async def _server_api_url(self, path: str) -> str:
        """Where the proxy sends this server's requests: the route's target."""
        routes = await self.hub.get("proxy", timeout=10)
        route = (routes or {}).get(path) or {}
        target = route.get("target")
        if not target:
            raise StepFailed("ready", "the proxy has no route to the check user's server")
        return url_path_join(target, path)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    async def _start_kernel(self, server_url: str) -> str:
        try:
            response = await AsyncHTTPClient().fetch(
                url_path_join(server_url, "api/kernels"),
                method="POST",
                body="{}",
                headers={**self._headers(), "Content-Type": "application/json"},
                request_timeout=STEP_TIMEOUT,
            )
        except Exception as e:
            raise StepFailed("kernel", f"no kernel: {describe(e)}") from None
        return json.loads(response.body)["id"]

    async def _execute(self, server_url: str, kernel_id: str, code: str) -> str:
        """Run ``code`` in the kernel through its WebSocket; its result as text. The kernel
        is shut down afterwards, whatever happened."""
        ws_url = url_path_join(server_url, "api/kernels", kernel_id, "channels")
        ws_url = "ws" + ws_url[len("http") :]
        try:
            connection = await websocket_connect(
                HTTPRequest(ws_url, headers=self._headers(), request_timeout=STEP_TIMEOUT)
            )
        except Exception as e:
            raise StepFailed("execute", f"no WebSocket to the kernel: {describe(e)}") from None
        msg_id = uuid.uuid4().hex
        try:
            await connection.write_message(json.dumps(execute_request(code, msg_id)))
            return await _execute_result(connection, msg_id)
        finally:
            connection.close()
            await self._delete_kernel(server_url, kernel_id)

    async def _delete_kernel(self, server_url: str, kernel_id: str) -> None:
        try:
            await AsyncHTTPClient().fetch(
                url_path_join(server_url, "api/kernels", kernel_id),
                method="DELETE",
                headers=self._headers(),
                request_timeout=10,
                raise_error=False,
            )
        except Exception:  # noqa: S110 - the server is stopped next anyway
            pass

    async def _stop_server(self) -> None:
        """Stop the check user's server if it has one, and wait until it is gone."""
        if await self._server_model() is None:
            return
        try:
            await self.hub.request("DELETE", self._user_path("server"), timeout=STEP_TIMEOUT)
        except HTTPClientError as e:
            if e.code != 400:  # 400: already stopping
                raise
        deadline = time.monotonic() + STEP_TIMEOUT
        while await self._server_model() is not None:
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not stop")
            await asyncio.sleep(self.poll_interval)

    def public(self) -> dict[str, Any]:
        return {"running": self.running(), "runs": list(reversed(self.runs))}


class _Steps:
    """The steps of a run as it goes: each one's name and duration, and the one under way."""

    def __init__(self) -> None:
        self.steps: list[dict] = []
        #: the step under way (the one that failed, when the run stops here)
        self.current = "start"
        self._started = time.monotonic()

    def done(self, name: str, then: str = "") -> None:
        now = time.monotonic()
        self.steps.append({"name": name, "duration_s": round(now - self._started, 2)})
        self._started = now
        self.current = then

    def restart(self) -> None:
        """The clock of the next step starts now."""
        self._started = time.monotonic()


def execute_request(code: str, msg_id: str) -> dict[str, Any]:
    """The kernel protocol's ``execute_request`` message for ``code``."""
    return {
        "header": {
            "msg_id": msg_id,
            "username": "health",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
            "date": _now(),
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "channel": "shell",
        "buffers": [],
    }


async def _execute_result(connection, msg_id: str) -> str:
    """The text of the result of the request ``msg_id``, read from the kernel's WebSocket."""
    while True:
        raw = await connection.read_message()
        if raw is None:
            raise StepFailed("execute", "the kernel's WebSocket closed")
        if not isinstance(raw, str):
            continue
        reply = json.loads(raw)
        if (reply.get("parent_header") or {}).get("msg_id") != msg_id:
            continue
        kind = reply.get("msg_type") or reply.get("header", {}).get("msg_type")
        content = reply.get("content") or {}
        if kind == "execute_result":
            return str((content.get("data") or {}).get("text/plain", ""))
        if kind == "error":
            raise StepFailed("execute", scrub(f"{content.get('ename')}: {content.get('evalue')}"))
