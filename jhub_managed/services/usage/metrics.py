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
from sqlalchemy import Engine, Float, and_, case, func, literal, or_, select

from ...store.attribution import NONE
from ...store.models import UsageActiveDay, UsageSession, UsageShare

_T = UsageSession.__table__.c
_S = UsageShare.__table__.c
_D = UsageActiveDay.__table__.c

#: active-user periods: days counted back from today (UTC), today included
ACTIVE_PERIODS = (("1d", 1), ("7d", 7), ("30d", 30))
#: active users are counted again at most this often (seconds): they change by the day, and
#: counting 30 days of distinct users is the dearest part of a render
ACTIVE_USERS_REFRESH = 60.0


def count_active_users(connection, today: int) -> dict[str, int]:
    """Distinct users with billable time in each period, in one pass over the day table."""
    longest = max(days for _, days in ACTIVE_PERIODS)
    columns = [
        func.count(func.distinct(case((_D.day > today - days, _D.user_name))))
        for _, days in ACTIVE_PERIODS
    ]
    row = connection.execute(
        select(*columns).where(_D.day > today - longest, _D.day <= today)
    ).one()
    return {period: int(n or 0) for (period, _), n in zip(ACTIVE_PERIODS, row, strict=True)}


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

    def __init__(self, keys: list, *, join_shares: bool = False):
        self.keys = keys
        self.join_shares = join_shares
        self.watermark = 0.0
        self.base: dict[tuple, float] = {}
        self._lock = threading.Lock()

    def _query(self, condition, now: float):
        stop = func.coalesce(_T.stopped_at, literal(now, Float))
        share = _S.share if self.join_shares else literal(1.0, Float)
        table = UsageSession.__table__
        if self.join_shares:
            table = table.join(UsageShare.__table__, _S.session_id == _T.id)
        seconds = func.sum(case((stop > _T.started_at, stop - _T.started_at), else_=0.0) * share)
        return (
            select(*self.keys, seconds.label("seconds"))
            .select_from(table)
            .where(condition)
            .group_by(*self.keys)
        )

    def read(self, engine: Engine, now: float) -> dict[tuple, float]:
        with self._lock, engine.connect() as connection:
            mark = now - 3600
            if mark - self.watermark > 60:
                rows = connection.execute(
                    self._query(and_(_T.stopped_at >= self.watermark, _T.stopped_at < mark), now)
                )
                for row in rows:
                    key = tuple(row[:-1])
                    self.base[key] = self.base.get(key, 0.0) + float(row.seconds or 0.0)
                self.watermark = mark
            totals = dict(self.base)
            live = connection.execute(
                self._query(or_(_T.stopped_at >= self.watermark, _T.stopped_at.is_(None)), now)
            )
            for row in live:
                key = tuple(row[:-1])
                totals[key] = totals.get(key, 0.0) + float(row.seconds or 0.0)
        return totals


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
        group = _S.group_name if split else _T.billing_group
        self._group = group
        self._group_info: tuple[int, str] | None = None
        self.hours = HoursTotals([group, _T.profile, _T.billable], join_shares=split)
        #: (when counted, the day it was, the counts)
        self._active: tuple[float, int, dict[str, int]] | None = None
        self.user_hours = HoursTotals([_T.user_name]) if per_user else None

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
        ns = self.namespace
        families: list = [self._group_info_text(user_groups)]

        running = gauge(
            "jhub_managed_usage_running_servers",
            "Servers running now, by profile and by the group billed for them.",
            labels=["namespace", "profile", "usergroup"],
        )
        share = _S.share if self.split else literal(1.0, Float)
        table = UsageSession.__table__
        if self.split:
            table = table.join(UsageShare.__table__, _S.session_id == _T.id)
        query = (
            select(_T.profile, self._group, func.sum(share))
            .select_from(table)
            .where(_T.stopped_at.is_(None))
            .group_by(_T.profile, self._group)
        )
        with self.engine.connect() as connection:
            for profile, group, count in connection.execute(query):
                running.add_metric([ns, profile or "", group or ""], float(count or 0))
            active = gauge(
                "jhub_managed_usage_active_users",
                "Distinct users with billable server time today (UTC), in the last 7 or 30 days.",
                labels=["namespace", "period"],
            )
            today = int(now // 86400)
            kept = self._active
            if kept is None or kept[1] != today or not 0 <= now - kept[0] < ACTIVE_USERS_REFRESH:
                kept = self._active = (now, today, count_active_users(connection, today))
            for period, _ in ACTIVE_PERIODS:
                active.add_metric([ns, period], float(kept[2][period]))
            user_running = None
            if self.per_user:
                user_running = gauge(
                    "jhub_managed_usage_user_running_servers",
                    "Servers running now, by user.",
                    labels=["namespace", "username"],
                )
                rows = connection.execute(
                    select(_T.user_name, func.count())
                    .where(_T.stopped_at.is_(None))
                    .group_by(_T.user_name)
                )
                for user, count in rows:
                    user_running.add_metric([ns, user], float(count))
        families += [running, active]

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
                [ns, group or "", profile or "", "true" if billable else "false"], seconds / 3600
            )
        families.append(hours)
        if self.user_hours is not None and user_running is not None:
            user_hours = counter(
                "jhub_managed_usage_user_server_hours",
                "Server-hours of every recorded session, by user.",
                labels=["namespace", "username"],
            )
            for (user,), seconds in sorted(self.user_hours.read(self.engine, now).items()):
                user_hours.add_metric([ns, user], seconds / 3600)
            families += [user_running, user_hours]

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
            labels = [ns, entry["group"], entry["kind"]]
            budget.add_metric(labels, float(entry["budget"]))
            if entry.get("used") is not None:
                used.add_metric(labels, float(entry["used"]))
                ratio.add_metric(labels, float(entry["fraction"]))
        families += [budget, used, ratio]

        poll = gauge(
            "jhub_managed_usage_last_poll_timestamp_seconds",
            "When the collector last read the hub's servers (seconds since the epoch).",
            labels=["namespace"],
        )
        if last_poll_at is not None:
            poll.add_metric([ns], last_poll_at)
        failures = counter(
            "jhub_managed_usage_poll_failures",
            "Polls of the hub's REST API that failed since the service started.",
            labels=["namespace"],
        )
        failures.add_metric([ns], float(poll_failures))
        families += [poll, failures]
        return families

    def render(self, **kwargs: Any) -> bytes:
        started = time.perf_counter()
        families = self.families(**kwargs)
        body = "".join(f if isinstance(f, str) else f.text() for f in families).encode()
        self.last_render_seconds = time.perf_counter() - started
        return body
