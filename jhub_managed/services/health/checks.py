"""The health checks, one function each.

A check is ``async def check(ctx) -> str``: it returns what it saw when it passes and raises
:class:`CheckFailed` (or :class:`NotConfigured`) with a message for operators when it does
not. Messages never carry tokens, database URLs or server paths (:func:`scrub`). Timeouts
and schedules are :mod:`.schedule`'s business.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlparse

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from .schedule import CheckFailed, NotConfigured

_CREDENTIALS = re.compile(r"(\w+://)[^/\s:@]+(:[^@\s]*)?@")
_TOKEN = re.compile(r"\b(token|bearer)\s+\S+", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w:/.])/(?:[\w.@+-]+/)+[\w.@+-]*")


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """One line of ``text`` with no secret, credential or file-system path in it."""
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = text.strip().split("\n")[0]
    for cut in ("(Background on this error", "[SQL:"):
        text = text.split(cut)[0]
    text = _CREDENTIALS.sub(r"\1***@", text)
    text = _TOKEN.sub(r"\1 ***", text)
    text = _PATH.sub("<path>", text)
    return text.strip()[:300]


def describe(error: BaseException) -> str:
    """A short, safe reason for an error of a request or a query."""
    if isinstance(error, HTTPClientError):
        if error.code == 599:
            inner = error.__cause__ or error.__context__
            return scrub(f"no answer ({inner or error.message})")
        return f"HTTP {error.code}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError) and error.strerror:
        return scrub(error.strerror)
    orig = getattr(error, "orig", None)  # SQLAlchemy wraps the driver's error
    if orig is not None:
        return scrub(f"{type(orig).__name__}: {orig}")
    return scrub(f"{type(error).__name__}: {error}")


class ThreadGuard:
    """Blocking work in a thread, at most one per check: a query stuck past its timeout
    keeps its thread, and the next run says so instead of starting another."""

    def __init__(self):
        self._busy: dict[str, threading.Thread] = {}

    async def run(self, name: str, func: Callable[[], Any]) -> Any:
        busy = self._busy.get(name)
        if busy is not None and busy.is_alive():
            raise CheckFailed("the previous run has not finished yet (no answer)")
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()

        def work():
            try:
                result = func()
            except BaseException as e:
                loop.call_soon_threadsafe(_settle, future, None, e)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

        thread = threading.Thread(target=work, name=f"health-{name}", daemon=True)
        self._busy[name] = thread
        thread.start()
        return await future


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


# -- the checks -------------------------------------------------------------------------------


async def check_hub_api(ctx) -> str:
    try:
        info = await ctx.hub.get("", timeout=ctx.timeout_of("hub-api"))
    except Exception as e:
        raise CheckFailed(f"the hub API does not answer: {describe(e)}") from None
    return f"the hub API answers (JupyterHub {info.get('version', '?')})"


async def check_hub_database(ctx) -> str:
    """A real write: the check user's ``last_activity``, then read back."""
    user = quote(ctx.check_user, safe="")
    now = datetime.now(timezone.utc)
    stamp = now.isoformat(timespec="microseconds").replace("+00:00", "Z")
    timeout = ctx.timeout_of("hub-database")
    try:
        await ctx.hub.request(
            "POST", f"users/{user}/activity", {"last_activity": stamp}, timeout=timeout
        )
        model = await ctx.hub.get(f"users/{user}", timeout=timeout)
    except HTTPClientError as e:
        if e.code == 404:
            raise CheckFailed(
                f"the check user {ctx.check_user} does not exist (the hub makes it at start)"
            ) from None
        if e.code >= 500 and e.code != 599:
            raise CheckFailed(
                f"the hub could not write to its database (HTTP {e.code} on an activity update)"
            ) from None
        raise CheckFailed(f"the hub API does not answer: {describe(e)}") from None
    seen = model.get("last_activity")
    if not seen or _parse_time(seen) < now - timedelta(seconds=1):
        raise CheckFailed("the hub accepted a write to its database but did not keep it")
    return "the hub wrote the check user's activity to its database and read it back"


async def check_proxy_routes(ctx) -> str:
    timeout = ctx.timeout_of("proxy-routes")
    try:
        routes = await ctx.hub.get("proxy", timeout=timeout)
        services = await ctx.hub.get("services", timeout=timeout)
    except Exception as e:
        raise CheckFailed(f"could not read the routing table: {describe(e)}") from None
    data = [(route or {}).get("data") or {} for route in (routes or {}).values()]
    problems = []
    if not any(d.get("hub") for d in data):
        problems.append("the hub")
    routed = {d.get("service") for d in data}
    with_url = sorted(name for name, model in (services or {}).items() if model.get("url"))
    problems += [f"service {name}" for name in with_url if name not in routed]
    if problems:
        raise CheckFailed("the proxy has no route for " + ", ".join(problems))
    return f"the proxy routes to the hub and {len(with_url)} services"


async def check_settings_store(ctx) -> str:
    def look() -> tuple[str | None, str, int]:
        from alembic.runtime.migration import MigrationContext
        from sqlalchemy import text

        with ctx.store_engine().connect() as connection:
            migration = MigrationContext.configure(
                connection, opts={"version_table": "jhm_alembic_version"}
            )
            current = migration.get_current_revision()
            version = 0
            if current is not None:
                version = connection.execute(
                    text("SELECT MAX(version) FROM jhm_settings_versions")
                ).scalar()
        return current, ctx.migration_head(), version or 0

    try:
        current, head, version = await ctx.threads.run("settings-store", look)
    except CheckFailed:
        raise
    except Exception as e:
        raise CheckFailed(f"the store cannot be read: {describe(e)}") from None
    if current is None:
        raise CheckFailed(f"the store has no tables yet: it is not at migration {head}")
    if current != head:
        raise CheckFailed(f"the store is at migration {current}, this version needs {head}")
    ctx.last_settings_version = version
    return f"the store answers, at migration {head}, settings version {version}"


async def check_spawner_settings(ctx) -> str:
    from ...shared import spawner_report as spawnreport

    report = await ctx.threads.run(
        "spawner-settings", lambda: spawnreport.read(ctx.config["spawner_report"])
    )
    if report is None:
        return "no spawn yet since the hub's data directory was made"
    used = report.get("version", 0)
    if report.get("fallback"):
        raise CheckFailed(
            f"the last spawn used the last-known-good settings (version {used}): the store "
            f"could not be read ({scrub(report['fallback'], ctx.secrets())})"
        )
    current = ctx.last_settings_version if ctx.last_settings_version is not None else used
    refused = [r for r in report.get("refusals", []) if r.get("version") == current]
    if refused:
        last = refused[-1]
        raise CheckFailed(
            f"the stored profile {last['profile']!r} (settings version {current}) was "
            f"refused at spawn: {scrub(last['why'], ctx.secrets())}"
        )
    message = f"the last spawn used settings version {used}"
    if current != used:
        message += f" (version {current} was saved since; the next spawn uses it)"
    return message


async def check_usage_collector(ctx) -> str:
    try:
        services = await ctx.hub.get("services", timeout=ctx.timeout_of("usage-collector"))
    except Exception as e:
        raise CheckFailed(f"could not list the hub's services: {describe(e)}") from None
    usage = (services or {}).get("usage")
    if usage is None:
        raise NotConfigured("not configured: this hub runs no usage service")
    last_poll = await ctx.usage_last_poll(usage)
    if last_poll is None:
        raise CheckFailed("the usage collector has not polled the hub yet")
    age = (datetime.now(timezone.utc) - last_poll).total_seconds()
    if age > ctx.config["usage_max_age"]:
        raise CheckFailed(f"the usage collector's last successful poll was {age:.0f} s ago")
    return f"the usage collector polled {age:.0f} s ago"


async def check_spawner_backend(ctx) -> str:
    if ctx.config.get("spawner") != "kube":
        raise NotConfigured(
            "not configured: servers run as local processes of the hub, no backend to reach"
        )
    import json

    try:
        api = await ctx.kube_version_api()
        response = await api.get_code(
            _preload_content=False, _request_timeout=ctx.timeout_of("spawner-backend")
        )
        info = json.loads(await response.read())
    except Exception as e:
        raise CheckFailed(f"the Kubernetes API does not answer: {describe(e)}") from None
    return f"the Kubernetes API answers (Kubernetes {info.get('gitVersion', '?')})"


async def check_identity_provider(ctx) -> str:
    url = ctx.config.get("idp_url") or ""
    if not url:
        raise NotConfigured("not configured: password logins, no identity provider to reach")
    host = urlparse(url).hostname or "?"
    try:
        response = await AsyncHTTPClient().fetch(
            url,
            raise_error=False,
            request_timeout=ctx.timeout_of("identity-provider"),
            headers={"Accept": "application/json"},
        )
    except Exception as e:
        raise CheckFailed(
            f"the identity provider ({host}) does not answer: {describe(e)}"
        ) from None
    if response.code >= 500:
        reason = describe(response.error) if response.error else f"HTTP {response.code}"
        raise CheckFailed(f"the identity provider ({host}) does not answer: {reason}")
    return f"the identity provider ({host}) answers (HTTP {response.code})"


def _disk_check(name: str, what: str, path_key: str) -> Callable[[Any], Awaitable[str]]:
    async def check(ctx) -> str:
        path = ctx.config.get(path_key) or ""
        if not path:
            raise NotConfigured(f"not configured: no {what} to look at")
        try:
            usage = await ctx.threads.run(name, lambda: shutil.disk_usage(path))
        except CheckFailed:
            raise
        except OSError as e:
            raise CheckFailed(f"the {what} cannot be read: {describe(e)}") from None
        free_percent = 100 * usage.free / usage.total if usage.total else 0.0
        min_percent = ctx.config["min_free_percent"]
        min_mib = ctx.config["min_free_mib"]
        said = f"{_format_bytes(usage.free)} free on the {what} ({free_percent:.1f}%)"
        if free_percent < min_percent or usage.free < min_mib * 1024 * 1024:
            raise CheckFailed(
                f"only {said}; the thresholds are {min_percent:g}% and {min_mib:g} MiB"
            )
        return said

    check.__name__ = f"check_{name.replace('-', '_')}"
    return check


check_data_disk = _disk_check("data-disk", "data directory", "data_dir")
check_home_disk = _disk_check("home-disk", "home volume", "home_volume")


async def check_idle_culler(ctx) -> str:
    if not ctx.config.get("culler"):
        raise NotConfigured(
            "not configured: the idle culler is off on this hub (idle_timeout is 0)"
        )
    try:
        model = await ctx.hub.get("services/idle-culler", timeout=ctx.timeout_of("idle-culler"))
    except Exception as e:
        raise CheckFailed(f"could not ask the hub about the idle culler: {describe(e)}") from None
    pid = model.get("pid") or 0
    if not pid:
        raise CheckFailed("the idle culler is not running")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise CheckFailed("the idle culler's process has exited") from None
    except PermissionError:
        pass  # it exists, as another user
    cmdline = f"/proc/{pid}/cmdline"
    if os.path.exists(cmdline):
        with open(cmdline, "rb") as f:
            if b"jupyterhub_idle_culler" not in f.read():
                raise CheckFailed("the idle culler's process has exited")
    return "the idle culler is running"


async def check_deep_check(ctx) -> str:
    last = ctx.deep.last()
    if last is None:
        running = " (one is running)" if ctx.deep.running() else ""
        raise CheckFailed(f"no deep check has finished yet{running}")
    age = (datetime.now(timezone.utc) - _parse_time(last["finished_at"])).total_seconds()
    if not last["ok"]:
        raise CheckFailed(
            f"the deep check {age:.0f} s ago failed at its {last['failed_step']} step: "
            f"{last['message']}"
        )
    return f"the deep check {age:.0f} s ago passed in {last['duration_s']:.1f} s"


#: check name -> function, in the order they are shown
CHECK_FUNCTIONS: dict[str, Callable[[Any], Awaitable[str]]] = {
    "hub-api": check_hub_api,
    "hub-database": check_hub_database,
    "proxy-routes": check_proxy_routes,
    "settings-store": check_settings_store,
    "spawner-settings": check_spawner_settings,
    "usage-collector": check_usage_collector,
    "spawner-backend": check_spawner_backend,
    "identity-provider": check_identity_provider,
    "data-disk": check_data_disk,
    "home-disk": check_home_disk,
    "idle-culler": check_idle_culler,
    "deep-check": check_deep_check,
}
