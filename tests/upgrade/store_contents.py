"""A store as an earlier release writes it, and the figures that release's reports give.

Run by the earlier release's own Python (a venv with that release installed, this checkout
not on the path)::

    python store_contents.py write SPEC.json OUT.json

It writes settings versions and usage sessions into the store at ``SPEC["url"]`` through
that release's public functions, the way its settings service, its spawners and its usage
collector write them (nothing here writes SQL), and puts in OUT.json what the store then
holds (:func:`dump`), the history and settings its settings API serves, and the figures of
its reports (:func:`figures`). The upgrade test calls :func:`dump` and :func:`figures` again
with this release's code, on the upgraded store, and compares.

Use only functions both releases have, called the same way.
"""

from __future__ import annotations

import json
import sys
import warnings
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

#: the moment the reports are made at: a Wednesday, with sessions still running
NOW = "2026-11-04T10:00:00"

#: each user's groups; ``staff`` is the operator's staff group, the last user is the health
#: service's check user (neither is billed)
USERS = {
    "ann": ["physics"],
    "ben": ["physics", "chemistry"],
    "cat": ["chemistry"],
    "dan": ["staff"],
    "eve": [],
    "fay": ["chemistry"],
    "jhub-managed-health-check": [],
}

IMAGE = "quay.io/jupyter/scipy-notebook:2025-01-06"
#: the hub's deployment, as both releases run it: its operator's layers, ceilings and the
#: allow-list of the settings service, the usage service's rate card and budgets
DEPLOYMENT: dict[str, Any] = {
    "operator_defaults": {"branding": {"contact": "hub-team@example.org"}},
    "hub_values": {
        "profiles": [
            {
                "display_name": "Minimal",
                "slug": "minimal",
                "default": True,
                "kubespawner_override": {"image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M"},
            }
        ],
        "branding": {"organization_name": "Physics"},
    },
    "ceilings": {
        "cpu_limit": 4,
        "mem_limit": "8G",
        "gpu_limit": 1,
        "image_patterns": [r"quay\.io/jupyter/[a-z-]+:[0-9a-z.-]+"],
    },
    "hub_admin_override_keys": ["lifecycle_hooks"],
    "rate_card": {
        "currency": "EUR",
        "server_hour": 0.01,
        "cpu_hour": 0.03,
        "memory_gib_hour": 0.004,
        "gpu_hour": 0.9,
        "profiles": {"physics": {"cpu_hour": 0.05}},
    },
    "operator_budgets": {"physics": {"server_hours": 100}, "staff": {"server_hours": 5}},
}
PYTHON = {
    "display_name": "Python",
    "slug": "python",
    "description": "For everyone.",
    "default": True,
    "kubespawner_override": {"image": IMAGE, "cpu_limit": 1, "mem_limit": "1G"},
}
PHYSICS = {
    "display_name": "Physics lab",
    "slug": "physics",
    "allowed_groups": ["physics"],
    "kubespawner_override": {
        "image": IMAGE,
        "cpu_guarantee": 1,
        "cpu_limit": 2,
        "mem_guarantee": "2G",
        "mem_limit": "4G",
    },
}
COURSE = {
    "display_name": "Shared course",
    "slug": "course",
    "allowed_groups": ["physics", "chemistry"],
    "kubespawner_override": {"image": IMAGE, "cpu_limit": 0.5, "mem_limit": "1G"},
    "profile_options": {
        "size": {
            "display_name": "Size",
            "choices": {
                "small": {"display_name": "Small", "default": True},
                "chem-large": {
                    "display_name": "Large (chemistry)",
                    "allowed_groups": ["chemistry"],
                    "kubespawner_override": {"cpu_limit": 2, "mem_limit": "4G"},
                },
            },
        }
    },
}
ANNOUNCEMENT = {"text": "Welcome, **physicists**", "level": "info", "show_on": ["home"]}

#: the settings versions, oldest first, as hub admins saved them: (author, what, comment);
#: ``what`` is the admin-edits layer, or ``("restore", version)``
VERSIONS: list[tuple[str, Any, str]] = [
    ("admin", {"profiles": [PYTHON, PHYSICS], "announcement": ANNOUNCEMENT}, "First profiles"),
    (
        "carol",
        {
            "profiles": [PYTHON, PHYSICS, COURSE],
            "announcement": ANNOUNCEMENT,
            "budgets": {"physics": {"server_hours": 40}, "chemistry": {"cost": 25}},
        },
        "Course profile and budgets for the term",
    ),
    (
        "service:fleet-sync",
        {
            "profiles": [PYTHON, PHYSICS, COURSE],
            "announcement": ANNOUNCEMENT,
            "budgets": {"physics": {"server_hours": 40}, "chemistry": {"cost": 25}},
            "branding": {"organization_name": "Universität Beispiel, Physik"},
        },
        "",
    ),
    ("admin", ("restore", 1), ""),
    (
        "carol",
        {
            "profiles": [PYTHON, PHYSICS, COURSE],
            "announcement": {**ANNOUNCEMENT, "level": "warning"},
            "budgets": {
                "physics": {"server_hours": 12.5},
                "chemistry": {"cost": 25},
                "eve-lab": {"server_hours": 3},
            },
            "branding": {"organization_name": "Universität Beispiel, Physik"},
        },
        "Budgets → spring term\nphysics halved",
    ),
]

#: server sessions, each written the way it was seen:
#:
#: - ``spawner``: the managed spawner's start and stop events;
#: - ``running``: its start event; it still runs;
#: - ``stop-only``: only its stop event (the start was never written);
#: - ``guessed``: its start, then found gone and closed at its last activity
#:   (``last_activity``), then its exact stop;
#: - ``poll``: first seen by the usage collector's poll, gone by a later one (closed at
#:   its last activity).
#:
#: The collector polls at :data:`POLLS` and sees every server running then.
SESSIONS: list[dict[str, Any]] = [
    # across the end of September and of the month
    dict(user="ann", profile="physics", start="2026-09-30T23:00", stop="2026-10-01T02:00"),
    dict(user="ann", profile="python", start="2026-10-20T09:00", stop="2026-10-20T17:30"),
    dict(
        user="ann",
        profile="python",
        start="2026-10-28T10:00",
        stop="2026-10-28T12:30",
        how="guessed",
        last_activity="2026-10-28T12:00",
    ),
    dict(
        user="eve",
        profile="python",
        start="2026-10-29T14:00",
        stop="2026-10-29T15:15",
        how="stop-only",
    ),
    # across midnight, the end of October and the end of an ISO week (Sunday 1 November)
    dict(user="ann", profile="physics", start="2026-10-31T22:00", stop="2026-11-02T01:00"),
    # two groups let ben in: billed to "multiple", or split evenly
    dict(user="ben", profile="course", start="2026-11-01T10:00", stop="2026-11-01T12:00"),
    dict(
        user="cat",
        server="analysis",
        profile="course",
        options={"size": "chem-large"},
        start="2026-11-02T09:00",
        stop="2026-11-02T15:00",
        last_activity="2026-11-02T11:00",
        how="poll",
    ),
    dict(
        user="jhub-managed-health-check",
        profile="python",
        start="2026-11-03T03:00",
        stop="2026-11-03T03:01",
    ),
    dict(user="ben", profile="course", options={"size": "chem-large"}, start="2026-11-03T08:00"),
    dict(user="dan", profile="python", start="2026-11-03T09:00", stop="2026-11-03T10:00"),
    dict(
        user="fay",
        server="gpu",
        profile="course",
        options={"size": "chem-large"},
        gpus=1,
        start="2026-11-04T08:00",
    ),
]
for _session in SESSIONS:
    _session.setdefault("how", "spawner" if _session.get("stop") else "running")
    _session.setdefault("server", "")
    _session.setdefault("options", {})

POLLS = ["2026-11-02T12:00", "2026-11-02T18:00", "2026-11-04T09:30"]

#: report ranges: a whole month, this month, several months cut mid-week, one ISO week
RANGES = [
    ("2026-10-01", "2026-10-31"),
    ("2026-11-01", "2026-11-30"),
    ("2026-09-28", "2026-11-04"),
    ("2026-11-02", "2026-11-08"),
]


def at(moment: str) -> float:
    """UTC seconds since the epoch of ``YYYY-MM-DDTHH:MM[:SS]`` (UTC)."""
    return datetime.fromisoformat(moment).replace(tzinfo=timezone.utc).timestamp()


def _iso(moment: str) -> str:
    return datetime.fromisoformat(moment).isoformat() + "Z"


# -- writing, with the earlier release's code -------------------------------------------------


def write_settings(spec: dict) -> tuple[dict, list[dict], dict[int, dict]]:
    """Every version of :data:`VERSIONS`, saved and restored as the settings service does
    (checked against the schema, the ceilings and the hub admins' allow-list first)."""
    from jhub_managed.services.config.editor import SettingsEditor
    from jhub_managed.settings import Ceilings
    from jhub_managed.settings.allowlist import AdminAllowList
    from jhub_managed.store.source import SettingsSource

    source = SettingsSource(
        spec["url"], operator_defaults=spec["operator_defaults"], hub_values=spec["hub_values"]
    )
    editor = SettingsEditor(
        source,
        Ceilings.from_config(spec["ceilings"]),
        allow=AdminAllowList.from_config(spec["hub_admin_override_keys"]),
    )
    try:
        for author, what, comment in VERSIONS:
            expected = editor.store.current_version()
            if isinstance(what, tuple):
                editor.restore(what[1], author=author, comment=comment, expected_version=expected)
            else:
                editor.save(what, author=author, comment=comment, expected_version=expected)
        current = source.current()
        return (
            {"version": current.version, "settings": current.document},
            [record.summary() for record in editor.store.history(limit=100)],
            {v: editor.stored_layer(v) for v in range(1, current.version + 1)},
        )
    finally:
        editor.store.dispose()


def _selection(profiles: list[dict], session: dict):
    from jhub_managed.settings.profiles import select_profile

    options = {"profile": session["profile"], **session["options"]}
    return select_profile(profiles, USERS[session["user"]], options)


def _facts(profiles: list[dict], session: dict):
    """What the managed spawner reports of the session when it starts."""
    from jhub_managed.spawner.usage_events import session_facts

    selection = _selection(profiles, session)
    spawner_resources = {"cpu_limit": None, "mem_limit": None}
    if session.get("gpus"):
        spawner_resources["extra_resource_limits"] = {"nvidia.com/gpu": session["gpus"]}
    return session_facts(
        user_name=session["user"],
        server_name=session["server"],
        started=at(session["start"]),
        groups=USERS[session["user"]],
        user_options=selection.user_options(),
        profile=selection.profile,
        spawner_resources=spawner_resources,
        override=selection.override,
    )


def _poll(recorder, profiles: list[dict], moment: str) -> None:
    """One poll of the usage collector: the hub's ``GET /users`` answer at ``moment``."""
    from jhub_managed.services.usage.collector import facts_from_api, observed_servers

    now = at(moment)
    users: dict[str, dict] = {}
    for session in SESSIONS:
        gone = at(session["stop"]) if session.get("stop") else float("inf")
        if not at(session["start"]) <= now < gone:
            continue
        last = session.get("last_activity")
        users.setdefault(
            session["user"],
            {"name": session["user"], "groups": USERS[session["user"]], "servers": {}},
        )["servers"][session["server"]] = {
            "started": _iso(session["start"]),
            "last_activity": _iso(last) if last else _iso(moment),
            "user_options": _selection(profiles, session).user_options(),
        }
    seen = observed_servers(list(users.values()))
    extra = {(s.user_name, s.server_name, s.started_at): info for s, info in seen}

    def facts_for(server):
        info = extra[(server.user_name, server.server_name, server.started_at)]
        return facts_from_api(server, info["groups"], info["server"].get("user_options"), profiles)

    recorder.reconcile([s for s, _ in seen], facts_for, snapshot_at=now)


def write_sessions(url: str, profiles: list[dict]) -> None:
    """Every session of :data:`SESSIONS`, its events and the polls in the order of time."""
    from jhub_managed.store import create_engine_for
    from jhub_managed.store.usage import LAST_ACTIVITY, UsageRecorder

    events: list[tuple[float, int, Any]] = [(at(p), 1, p) for p in POLLS]
    for s in SESSIONS:
        how = s["how"]
        if how in ("spawner", "running", "guessed"):
            events.append((at(s["start"]), 0, ("start", s)))
        if how == "guessed":
            events.append((at(s["last_activity"]) + 60, 0, ("found-gone", s)))
        if how in ("spawner", "stop-only", "guessed"):
            events.append((at(s["stop"]), 0, ("stop", s)))
    engine = create_engine_for(url)
    recorder = UsageRecorder(engine)
    try:
        for _, _, event in sorted(events, key=lambda e: e[:2]):
            if isinstance(event, str):
                _poll(recorder, profiles, event)
                continue
            kind, session = event
            facts = _facts(profiles, session)
            if kind == "start":
                recorder.record_start(facts)
            elif kind == "stop":
                recorder.record_stop(facts, at(session["stop"]))
            else:
                last = at(session["last_activity"])
                recorder.record_stop(facts, last, source=LAST_ACTIVITY, last_activity_at=last)
    finally:
        engine.dispose()


# -- reading, with either release's code --------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def dump(url: str) -> dict[str, dict[str, dict]]:
    """Every row of every table of the store as JSON values, by table and by the row's
    primary key (its values as a JSON list)."""
    from sqlalchemy import MetaData, select

    from jhub_managed.store import create_engine_for

    engine = create_engine_for(url)
    try:
        metadata = MetaData()
        with warnings.catch_warnings():
            # expression indexes are not reflected; the rows are what is compared
            warnings.simplefilter("ignore")
            metadata.reflect(engine)
        tables = {}
        with engine.connect() as connection:
            for name, table in sorted(metadata.tables.items()):
                key = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
                rows = connection.execute(select(table)).mappings()
                plain = [{k: _plain(v) for k, v in row.items()} for row in rows]
                tables[name] = {json.dumps([row[k] for k in key]): row for row in plain}
        return json.loads(json.dumps(tables))
    finally:
        engine.dispose()


def figures(url: str, spec: dict) -> dict[str, Any]:
    """The figures of the usage reports, the budgets and the charts over the store at
    :data:`NOW`, by name."""
    from jhub_managed.services.usage.budgets import budget_use, budgets_in_force
    from jhub_managed.services.usage.rates import RateCard
    from jhub_managed.services.usage.reports import (
        ReportQuery,
        active_users,
        active_users_series,
        daily_usage,
        report_csv,
        usage_report,
        user_usage,
    )
    from jhub_managed.store import SettingsStore, create_engine_for

    now = at(NOW)
    card = RateCard.from_config(spec["rate_card"])
    engine = create_engine_for(url)
    result: dict[str, Any] = {}
    try:
        for first, last in RANGES:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
            span = f"{first}..{last}"
            for group_by in ("user", "group", "profile"):
                for split in (False, True) if group_by == "group" else (False,):
                    for rate_card in (None, card):
                        name = f"report {span} by {group_by}" + " split" * split
                        name += " priced" * (rate_card is not None)
                        report = usage_report(
                            engine,
                            ReportQuery(start, end, group_by),
                            now=now,
                            rate_card=rate_card,
                            split=split,
                        )
                        result[name] = report
                        result[name + " csv"] = report_csv(report)
                    result[f"daily {span} by {group_by}" + " split" * split] = daily_usage(
                        engine, start, end, now=now, group_by=group_by, split=split
                    )
            result[f"daily {span} by user, not billable too"] = daily_usage(
                engine, start, end, now=now, group_by="user", billable_only=False
            )
            result[f"active users {span}"] = active_users(engine, start, end, now=now)
            for period in ("day", "week", "month"):
                result[f"active users {span} per {period}"] = active_users_series(
                    engine, start, end, now=now, period=period
                )
        for user in USERS:
            result[f"own use of {user}"] = user_usage(engine, user, now=now, rate_card=card)
        latest = SettingsStore(engine, migrate=False).latest()
        budgets = budgets_in_force(spec["operator_budgets"], latest.document.get("budgets"))
        result["budgets in force"] = budgets
        for split in (False, True):
            for month in (None, date(2026, 10, 1)):
                name = "budget use" + " split" * split + f" {month or 'this month'}"
                result[name] = budget_use(
                    engine, budgets, now=now, rate_card=card, split=split, month=month
                )
        return json.loads(json.dumps(result))
    finally:
        engine.dispose()


def write(spec: dict) -> dict[str, Any]:
    """Write the store of ``spec`` and say what it holds and what its reports give."""
    import jhub_managed

    served, history, layers = write_settings(spec)
    write_sessions(spec["url"], served["settings"]["profiles"])
    return json.loads(
        json.dumps(
            {
                "package": jhub_managed.__file__,
                "served": served,
                "history": history,
                "layers": layers,
                "dump": dump(spec["url"]),
                "figures": figures(spec["url"], spec),
            }
        )
    )


def main(argv: list[str]) -> None:
    command, spec_file, out_file = argv
    if command != "write":
        raise SystemExit(f"unknown command {command!r}")
    import jhub_managed

    # the earlier release, installed in this venv: never a checkout on the path
    if not Path(jhub_managed.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()):
        raise SystemExit(f"jhub_managed comes from {jhub_managed.__file__}, not {sys.prefix}")
    spec = json.loads(Path(spec_file).read_text())
    Path(out_file).write_text(json.dumps(write(spec)))


if __name__ == "__main__":
    main(sys.argv[1:])
