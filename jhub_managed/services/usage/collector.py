"""The usage service's collector: polls the hub's REST API into the usage store.

The managed spawners record exact starts and stops; the collector is the safety net. Every
``poll_interval`` seconds it reads the users with active servers (paginated), updates the
last activity of the sessions that run, opens those it did not know (servers of other
spawners, a start the store missed) and closes at their last activity those that ended while
nobody watched. Less often it reads every user with their groups, for the
``jupyterhub_user_group_info`` metric. Store writes run in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ...settings import select_profile
from ...store.attribution import DEFAULT_CHECK_USER, STAFF, attribute, restricting_groups_of
from ...store.usage import (
    ObservedServer,
    ReconcileResult,
    SessionFacts,
    UsageRecorder,
    epoch,
    requested_resources,
)
from ..hubapi import HubAPI

#: the full list of users (for their groups) is read at most this often
GROUPS_EVERY = 300.0


def observed_servers(users: list[Mapping[str, Any]]) -> list[tuple[ObservedServer, Mapping]]:
    """The active servers in a ``GET /users`` answer, each with its user's model."""
    result = []
    for user in users:
        for name, server in (user.get("servers") or {}).items():
            started = epoch(server.get("started"))
            if started is None:
                continue
            result.append(
                (
                    ObservedServer(
                        user_name=user["name"],
                        server_name=name or "",
                        started_at=started,
                        last_activity_at=epoch(server.get("last_activity")),
                    ),
                    {"groups": user.get("groups") or [], "server": server},
                )
            )
    return result


def facts_from_api(
    server: ObservedServer,
    groups: list[str],
    user_options: Mapping[str, Any] | None,
    profiles: list[dict],
    *,
    staff_group: str = STAFF,
    check_user: str = DEFAULT_CHECK_USER,
) -> SessionFacts:
    """A session first seen in the hub's API: its profile and resources as the current
    settings resolve its options (the spawner's own defaults are not known here)."""
    options = dict(user_options or {})
    slug = options.get("profile") or ""
    profile = next((p for p in profiles if p.get("slug") == slug), None)
    override: Mapping[str, Any] = {}
    if profiles:
        try:
            override = select_profile(profiles, groups, options).override
        except Exception:
            override = (profile or {}).get("kubespawner_override") or {}
    return SessionFacts(
        user_name=server.user_name,
        server_name=server.server_name,
        started_at=server.started_at,
        attribution=attribute(
            server.user_name,
            groups,
            restricting_groups_of(profile, options),
            staff_group=staff_group,
            check_users=(check_user,),
        ),
        groups=list(groups),
        profile=str(slug),
        options=options,
        resources=requested_resources(override),
        last_activity_at=server.last_activity_at,
    )


@dataclass
class PollStats:
    polls: int = 0
    failures: int = 0
    last_poll_at: float | None = None
    last_error: str | None = None
    last_result: ReconcileResult = field(default_factory=ReconcileResult)


class Collector:
    def __init__(
        self,
        hub_api: HubAPI,
        recorder: UsageRecorder,
        profiles: Callable[[], list[dict]],
        *,
        poll_interval: float = 60,
        staff_group: str = STAFF,
        check_user: str = DEFAULT_CHECK_USER,
        log: logging.Logger | None = None,
        after_poll: Callable[[], None] | None = None,
    ):
        self.hub_api = hub_api
        self.recorder = recorder
        self.profiles = profiles
        self.poll_interval = poll_interval
        self.staff_group = staff_group
        self.check_user = check_user
        self.log = log or logging.getLogger(__name__)
        self.after_poll = after_poll
        self.stats = PollStats()
        #: every user's groups, from the last full read: {name: [groups]}
        self.user_groups: dict[str, list[str]] = {}
        self.user_groups_at: float | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage-collector")
        self._task: asyncio.Task | None = None

    async def read_user_groups(self) -> None:
        users = await self.hub_api.get_all("users")
        self.user_groups = {u["name"]: list(u.get("groups") or []) for u in users}
        self.user_groups_at = time.time()

    async def poll_once(self) -> ReconcileResult:
        snapshot_at = time.time()
        users = await self.hub_api.get_all("users", {"state": "active"})
        seen = observed_servers(users)
        extra = {(s.user_name, s.server_name, s.started_at): info for s, info in seen}
        profiles = self.profiles()

        def facts_for(server: ObservedServer) -> SessionFacts:
            info = extra[(server.user_name, server.server_name, server.started_at)]
            return facts_from_api(
                server,
                info["groups"],
                info["server"].get("user_options"),
                profiles,
                staff_group=self.staff_group,
                check_user=self.check_user,
            )

        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            self._writer,
            lambda: self.recorder.reconcile(
                [s for s, _ in seen], facts_for, snapshot_at=snapshot_at
            ),
        )
        self.stats.polls += 1
        self.stats.last_poll_at = snapshot_at
        self.stats.last_result = result
        if result.opened or result.closed:
            self.log.info(
                "Usage poll: %d servers running, %d sessions opened, %d closed at their "
                "last activity",
                len(seen),
                result.opened,
                result.closed,
                extra={"event": "usage.poll", "running": len(seen)},
            )
        return result

    async def run(self) -> None:
        while True:
            try:
                if self.user_groups_at is None or time.time() - self.user_groups_at > max(
                    GROUPS_EVERY, self.poll_interval
                ):
                    await self.read_user_groups()
                await self.poll_once()
                self.stats.last_error = None
                if self.after_poll is not None:
                    await loop_run(self._writer, self.after_poll)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stats.failures += 1
                if self.stats.last_error is None:
                    self.log.error("Usage poll failed (will retry): %s", e)
                self.stats.last_error = f"{type(e).__name__}: {e}"
            await asyncio.sleep(self.poll_interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._writer.shutdown(wait=True)


async def loop_run(executor, func: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(executor, func)
