"""The usage service's Prometheus metrics (``/services/usage/metrics``).

``jupyterhub_user_group_info`` is named and labelled exactly as jupyterhub-groups-exporter
does it, so that jupyterhub/grafana-dashboards' group panels and cost queries work
unchanged; the ``jhub_managed_usage_*`` series are the suite's own. The reference in the
docs lists each with its labels.
"""

from __future__ import annotations

import hashlib
import re
import string
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import escapism
from sqlalchemy import Engine

from ...store.attribution import NONE
from ...store.usage_active import count_recent
from ...store.usage_queries import running_count, seconds_by

#: active-user periods: days counted back from today (UTC), today included
ACTIVE_PERIODS = (("1d", 1), ("7d", 7), ("30d", 30))
#: active users are counted again at most this often (seconds): they change by the day, and
#: counting 30 days of distinct users is the dearest part of a render
ACTIVE_USERS_REFRESH = 60.0


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Family:
    """One metric in the Prometheus text format (written here: the client library's writer
    is too slow for 10,000 series within a scrape's budget)."""

    def __init__(self, name: str, kind: str, documentation: str, labels: list[str]):
        self.name = name
        self.kind = kind
        self.documentation = documentation
        self.labels = labels
        self.lines: list[str] = []

    def add_metric(self, values: list[str], value: float) -> None:
        pairs = ",".join(
            f'{label}="{_escape(v)}"' for label, v in zip(self.labels, values, strict=True)
        )
        sample = self.name + ("_total" if self.kind == "counter" else "")
        self.lines.append(f"{sample}{{{pairs}}} {float(value)!r}")

    def text(self) -> str:
        sample = self.name + ("_total" if self.kind == "counter" else "")
        head = f"# HELP {sample} {self.documentation}\n# TYPE {sample} {self.kind}\n"
        return head + "".join(line + "\n" for line in self.lines)


def gauge(name: str, documentation: str, labels: list[str]) -> Family:
    return Family(name, "gauge", documentation, labels)


def counter(name: str, documentation: str, labels: list[str]) -> Family:
    return Family(name, "counter", documentation, labels)


# -- usernames as kubespawner spells them in pod names and labels ----------------------------

_ESCAPE_SAFE = set(string.ascii_lowercase + string.digits)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_OBJECT_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")


def escaped_username(name: str) -> str:
    """kubespawner's legacy ``escape`` scheme: anything but a-z and 0-9 as ``-XX`` hex."""
    return escapism.escape(name, safe=_ESCAPE_SAFE, escape_char="-").lower()


def safe_username(name: str) -> str:
    """kubespawner's ``safe`` scheme: the name itself when it is a valid DNS label without
    ``--``, else a lowercase, dash-joined prefix of it and ``---`` with 8 hex digits of its
    SHA-256 (32 characters at most)."""
    if "--" not in name and _OBJECT_NAME.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode("utf8")).hexdigest()[:8]
    room = 32 - 11
    prefix = _NOT_ALNUM.sub("-", name.lower()).lstrip("-")[:room].rstrip("-")
    if prefix and not prefix[0].isalpha():
        prefix = "x-" + prefix[: room - 2]
    return f"{prefix or 'x'}---{digest}"


def user_group_info(user_groups: Mapping[str, Iterable[str]], namespace: str) -> Family:
    """``jupyterhub_user_group_info``: 1 for each user and each of their groups; users
    without a group under ``usergroup="none"``."""
    family = gauge(
        "jupyterhub_user_group_info",
        "JupyterHub username and user group membership information.",
        labels=["namespace", "usergroup", "username", "username_escaped", "username_safe"],
    )
    for user in sorted(user_groups):
        escaped, safe = escaped_username(user), safe_username(user)
        for group in sorted(set(user_groups[user])) or [NONE]:
            family.add_metric([namespace, group, user, escaped, safe], 1)
    return family


# -- server-hours as counters ----------------------------------------------------------------


class HoursTotals:
    """Server-hours of every session ever recorded, by some key, cheap to read often.

    Sessions that stopped before a watermark (an hour ago, moved forward as time goes) are
    summed once and kept; each read adds only the sessions stopped since, and the running
    ones up to ``now``. A counter never goes down: a stop corrected after it passed the
    watermark is not taken back.
    """

    def __init__(self, keys: tuple[str, ...], *, split: bool = False):
        #: the keys of a total (see :func:`~jhub_managed.store.usage_queries.key_column`)
        self.keys = keys
        self.split = split
        self.watermark = 0.0
        self.base: dict[tuple, float] = {}
        self._lock = threading.Lock()

    def read(self, engine: Engine, now: float) -> dict[tuple, float]:
        with self._lock, engine.connect() as connection:
            mark = now - 3600
            if mark - self.watermark > 60:
                rows = seconds_by(
                    connection,
                    self.keys,
                    now=now,
                    split=self.split,
                    stopped_from=self.watermark,
                    stopped_before=mark,
                )
                _add_up(self.base, rows)
                self.watermark = mark
            totals = dict(self.base)
            live = seconds_by(
                connection, self.keys, now=now, split=self.split, stopped_from=self.watermark
            )
            _add_up(totals, live)
        return totals


def _add_up(totals: dict[tuple, float], rows) -> None:
    for row in rows:
        key = tuple(row[:-1])
        totals[key] = totals.get(key, 0.0) + float(row.seconds or 0.0)


class UsageMetrics:
    """Builds the text of ``/metrics`` from the store and the collector's last reads."""

    def __init__(
        self,
        engine: Engine,
        *,
        namespace: str,
        split: bool = False,
        per_user: bool = False,
    ):
        self.engine = engine
        self.namespace = namespace
        self.split = split
        self.per_user = per_user
        self._group_info: tuple[int, str] | None = None
        self.hours = HoursTotals(("group", "profile", "billable"), split=split)
        #: (when counted, the day it was, the counts)
        self._active: tuple[float, int, dict[str, int]] | None = None
        self.user_hours = HoursTotals(("user",)) if per_user else None

    def _group_info_text(self, user_groups: Mapping[str, Iterable[str]]) -> str:
        """``jupyterhub_user_group_info``, made again only when the collector read the
        users' groups again (a new mapping)."""
        cached = self._group_info
        if cached is None or cached[0] != id(user_groups):
            cached = self._group_info = (
                id(user_groups),
                user_group_info(user_groups, self.namespace).text(),
            )
        return cached[1]

    def families(
        self,
        *,
        now: float,
        user_groups: Mapping[str, Iterable[str]],
        budget_use: list[dict[str, Any]],
        last_poll_at: float | None,
        poll_failures: int,
    ) -> list:
        families: list = [self._group_info_text(user_groups)]
        with self.engine.connect() as connection:
            running = self._running(connection)
            active = self._active_users(connection, now)
            user_running = self._user_running(connection) if self.per_user else None
        families += [running, active, self._hours(now)]
        if self.user_hours is not None and user_running is not None:
            families += [user_running, self._user_hours(now)]
        families += self._budgets(budget_use)
        families += self._poll(last_poll_at, poll_failures)
        return families

    def _running(self, connection) -> Family:
        running = gauge(
            "jhub_managed_usage_running_servers",
            "Servers running now, by profile and by the group billed for them.",
            labels=["namespace", "profile", "usergroup"],
        )
        for profile, group, count in running_count(
            connection, ("profile", "group"), split=self.split
        ):
            running.add_metric([self.namespace, profile or "", group or ""], float(count or 0))
        return running

    def _active_users(self, connection, now: float) -> Family:
        active = gauge(
            "jhub_managed_usage_active_users",
            "Distinct users with billable server time today (UTC), in the last 7 or 30 days.",
            labels=["namespace", "period"],
        )
        today = int(now // 86400)
        kept = self._active
        if kept is None or kept[1] != today or not 0 <= now - kept[0] < ACTIVE_USERS_REFRESH:
            kept = self._active = (now, today, count_recent(connection, today, ACTIVE_PERIODS))
        for period, _ in ACTIVE_PERIODS:
            active.add_metric([self.namespace, period], float(kept[2][period]))
        return active

    def _user_running(self, connection) -> Family:
        user_running = gauge(
            "jhub_managed_usage_user_running_servers",
            "Servers running now, by user.",
            labels=["namespace", "username"],
        )
        for user, count in running_count(connection, ("user",)):
            user_running.add_metric([self.namespace, user], float(count))
        return user_running

    def _hours(self, now: float) -> Family:
        hours = counter(
            "jhub_managed_usage_server_hours",
            "Server-hours of every recorded session (running ones up to now), by the group "
            "billed and by profile; billable=false for staff and the health-check user.",
            labels=["namespace", "usergroup", "profile", "billable"],
        )
        for (group, profile, billable), seconds in sorted(
            self.hours.read(self.engine, now).items(), key=lambda kv: tuple(map(str, kv[0]))
        ):
            hours.add_metric(
                [self.namespace, group or "", profile or "", "true" if billable else "false"],
                seconds / 3600,
            )
        return hours

    def _user_hours(self, now: float) -> Family:
        user_hours = counter(
            "jhub_managed_usage_user_server_hours",
            "Server-hours of every recorded session, by user.",
            labels=["namespace", "username"],
        )
        for (user,), seconds in sorted(self.user_hours.read(self.engine, now).items()):
            user_hours.add_metric([self.namespace, user], seconds / 3600)
        return user_hours

    def _budgets(self, budget_use: list[dict[str, Any]]) -> list[Family]:
        budget = gauge(
            "jhub_managed_usage_budget",
            "A group's monthly budget, in server-hours or in the rate card's currency.",
            labels=["namespace", "usergroup", "kind"],
        )
        used = gauge(
            "jhub_managed_usage_budget_used",
            "What the group used of its budget this month (UTC), in the budget's unit.",
            labels=["namespace", "usergroup", "kind"],
        )
        ratio = gauge(
            "jhub_managed_usage_budget_used_ratio",
            "Used divided by budget: 0.8 is when members are warned, 1 when it is used up.",
            labels=["namespace", "usergroup", "kind"],
        )
        for entry in budget_use:
            labels = [self.namespace, entry["group"], entry["kind"]]
            budget.add_metric(labels, float(entry["budget"]))
            if entry.get("used") is not None:
                used.add_metric(labels, float(entry["used"]))
                ratio.add_metric(labels, float(entry["fraction"]))
        return [budget, used, ratio]

    def _poll(self, last_poll_at: float | None, poll_failures: int) -> list[Family]:
        poll = gauge(
            "jhub_managed_usage_last_poll_timestamp_seconds",
            "When the collector last read the hub's servers (seconds since the epoch).",
            labels=["namespace"],
        )
        if last_poll_at is not None:
            poll.add_metric([self.namespace], last_poll_at)
        failures = counter(
            "jhub_managed_usage_poll_failures",
            "Polls of the hub's REST API that failed since the service started.",
            labels=["namespace"],
        )
        failures.add_metric([self.namespace], float(poll_failures))
        return [poll, failures]

    def render(self, **kwargs: Any) -> bytes:
        started = time.perf_counter()
        families = self.families(**kwargs)
        body = "".join(f if isinstance(f, str) else f.text() for f in families).encode()
        self.last_render_seconds = time.perf_counter() - started
        return body
