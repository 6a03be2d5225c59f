"""Asking hubs over HTTP: health, versions, servers, settings and usage reports.

Plain ``urllib`` in a thread pool: each hub is asked in parallel, each request has its own
timeout, and a hub that does not answer is one row of the result, never the end of it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

HEALTH_PATH = "services/health/api/health"
USER_AGENT = "jhub-managed-fleet"


class ProbeError(Exception):
    """A request that got no usable answer; the message says why, for the operator."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise ProbeError(f"answered {self.status} with something that is not JSON") from None


def get(url: str, *, token: str = "", timeout: float = 10, accept: str = "") -> Answer:
    """GET ``url``; any HTTP status is an answer, a network failure a :class:`ProbeError`."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
    if token:
        request.add_header("Authorization", f"token {token}")
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Answer(response.status, response.read())
    except urllib.error.HTTPError as e:
        try:
            body = e.read()
        except OSError:
            body = b""
        return Answer(e.code, body)
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise ProbeError(f"no answer within {timeout:g}s") from None
        text = getattr(reason, "strerror", None) or str(reason)
        raise ProbeError(f"unreachable ({text})") from None
    except TimeoutError:
        raise ProbeError(f"no answer within {timeout:g}s") from None
    except OSError as e:
        raise ProbeError(f"unreachable ({e.strerror or e})") from None


def error_detail(answer: Answer) -> str:
    """What a hub said in a 4xx/5xx answer, shortly."""
    try:
        data = json.loads(answer.body)
    except ValueError:
        text = answer.body.decode(errors="replace").strip()
        return text[:120]
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors[:3]
            )
        if data.get("message"):
            return str(data["message"])
    return ""


def join(base_url: str, path: str, query: dict[str, str] | None = None) -> str:
    url = base_url.rstrip("/") + "/" + path.lstrip("/")
    if query:
        url += "?" + urllib.parse.urlencode(query)
    return url


# -- health --------------------------------------------------------------------------------


@dataclass
class Health:
    ok: bool
    status: int | None
    #: required checks that fail, and optional ones as ``name (optional)``
    failing: list[str]
    reason: str = ""
    #: ``ok``, ``starting`` (the hub has not finished starting), ``failing`` or
    #: ``unreachable``
    state: str = ""
    #: checks that do not pass yet while the hub is still starting
    starting: list[str] = field(default_factory=list)


def _check_state(check: dict) -> str:
    """A check's state; from ``ok`` alone in the answer of a health service without states."""
    state = check.get("state")
    if state in ("ok", "failing", "starting", "skipped"):
        return state
    return "ok" if check.get("ok") else "failing"


def health(base_url: str, timeout: float = 10) -> Health:
    try:
        answer = get(join(base_url, HEALTH_PATH), timeout=timeout)
    except ProbeError as e:
        return Health(False, None, [], str(e), state="unreachable")
    failing: list[str] = []
    starting: list[str] = []
    status = ""
    try:
        data = answer.json()
        status = str(data.get("status") or "")
        for check in data.get("checks") or []:
            if not isinstance(check, dict):
                continue
            name, state = str(check.get("name", "?")), _check_state(check)
            if state == "starting":
                starting.append(name)
            elif state == "failing":
                failing.append(name if check.get("required", True) else f"{name} (optional)")
    except (ProbeError, AttributeError):
        if answer.status == 200:
            return Health(
                False, 200, [], "the health endpoint did not answer its JSON", state="failing"
            )
    if answer.status == 200:
        return Health(True, 200, failing, state="ok")
    reason = f"answered {answer.status}"
    if status == "starting":
        reason += ": the hub is still starting"
        if starting:
            reason += f" (not passing yet: {', '.join(starting)})"
        return Health(False, answer.status, failing, reason, "starting", starting)
    if failing:
        reason += f": failing checks: {', '.join(failing)}"
    return Health(False, answer.status, failing, reason, "failing", starting)


def wait_healthy(
    base_url: str,
    timeout: float,
    *,
    interval: float = 2.0,
    on_wait: Callable[[Health], None] | None = None,
) -> Health:
    """Poll until the hub answers 200 or ``timeout`` seconds have passed; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        result = health(base_url, timeout=max(1.0, min(10.0, remaining)))
        if result.ok or time.monotonic() + interval > deadline:
            return result
        if on_wait:
            on_wait(result)
        time.sleep(interval)


# -- a progress bar on stderr ----------------------------------------------------------------


class Progress:
    """``[####......] 2/5 name: what``: redrawn in place on a terminal, one line per step else."""

    def __init__(self, total: int, label: str, stream: IO[str] | None = None, width: int = 24):
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._last = ""

    def _line(self, note: str) -> str:
        filled = round(self.width * self.done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total} {note}".rstrip()

    def show(self, note: str = "") -> None:
        with self._lock:
            line = self._line(note)
            if line == self._last:
                return
            self._last = line
            if self.tty:
                self.stream.write("\r\x1b[2K" + line)
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def advance(self, note: str = "") -> None:
        with self._lock:
            self.done = min(self.total, self.done + 1)
        self.show(note)

    def close(self) -> None:
        if self.tty:
            with self._lock:
                self.stream.write("\n")
                self.stream.flush()
