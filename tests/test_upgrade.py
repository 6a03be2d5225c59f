"""Upgrading keeps the data: a store written by the previous release, upgraded by this one.

The previous release's own code (installed from git history into a venv of its own, see
:mod:`tests.fixtures.previous_release`) writes a store as its settings service, spawners and
usage collector do (:mod:`tests.upgrade.store_contents`): settings versions with authors,
comments and a restore, budgets, usage sessions stopped, running, polled and closed at their
last activity, split between groups, staff and health-check ones. It also works out its
reports' figures. This release then opens the store the way the hub and every service do at
start, which migrates it to this release's newest migration, whatever that is; every row,
every version, every session and every figure must be as they were, and a real hub on the
upgraded store serves the settings and their history. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from jhub_managed.store import create_engine_for
from jhub_managed.store.models import Base, UsageSession
from jhub_managed.store.source import SettingsSource
from jhub_managed.store.store import MIGRATIONS, SettingsStore

from .fixtures.config_hub import HUB_CONFIG, running_hub
from .fixtures.db import BACKENDS, fresh_database
from .fixtures.previous_release import Release
from .upgrade import store_contents
from .upgrade.store_contents import DEPLOYMENT, SESSIONS, USERS, VERSIONS

# making the previous release's venv (one to two minutes, once) counts against the first test
pytestmark = [pytest.mark.timeout(900)]

VERSION_TABLE = "jhm_alembic_version"


@dataclass
class UpgradedStore:
    kind: str
    url: str
    #: what the previous release wrote and worked out (``store_contents.write``)
    before: dict[str, Any]
    #: the migrations the store was at before the upgrade
    revision_before: list[str]
    #: what the hub's settings source read at start, after migrating
    served_after: tuple[int, dict]


@pytest.fixture(scope="module", params=BACKENDS)
def upgraded(request, tmp_path_factory, previous_release: Release):
    """A store the previous release wrote, then opened by this release as the hub opens it."""
    tmp = tmp_path_factory.mktemp(f"upgrade-{request.param}")
    with fresh_database(request, tmp) as db:
        spec = {**DEPLOYMENT, "url": db.url}
        (tmp / "spec.json").write_text(json.dumps(spec))
        script = Path(store_contents.__file__)
        previous_release.run(["-I", str(script), "write", "spec.json", "out.json"], cwd=tmp)
        before = json.loads((tmp / "out.json").read_text())
        assert Path(before["package"]).is_relative_to(previous_release.python.parent.parent)
        revision_before = [r["version_num"] for r in before["dump"][VERSION_TABLE].values()]

        # what the hub does at start (jhub_managed.hub: ManagedHub.settings_snapshot), and
        # every service with it: the settings source's first read migrates the store
        source = SettingsSource(
            db.url,
            operator_defaults=DEPLOYMENT["operator_defaults"],
            hub_values=DEPLOYMENT["hub_values"],
        )
        try:
            current = source.current()
            assert source.last_error is None, source.last_error
        finally:
            source.store.dispose()
        yield UpgradedStore(
            request.param, db.url, before, revision_before, (current.version, current.document)
        )


def this_releases_heads() -> set[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return set(ScriptDirectory.from_config(config).get_heads())


def kept(old: Any, new: Any, path: str = "") -> list[str]:
    """Where ``new`` lost or changed what ``old`` holds (keys ``new`` adds are fine)."""
    if isinstance(old, dict) and isinstance(new, dict):
        problems = []
        for key, value in old.items():
            if key not in new:
                problems.append(f"{path}/{key}: gone (was {value!r:.200})")
            else:
                problems += kept(value, new[key], f"{path}/{key}")
        return problems
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path}: {len(old)} items before, {len(new)} after"]
        return [
            problem
            for i, (o, n) in enumerate(zip(old, new, strict=True))
            for problem in kept(o, n, f"{path}[{i}]")
        ]
    if old != new:
        return [f"{path}: {old!r:.200} before, {new!r:.200} after"]
    return []


def assert_kept(old: Any, new: Any, what: str) -> None:
    problems = kept(old, new, what)
    assert not problems, f"{len(problems)} differences, the first:\n" + "\n".join(problems[:20])


# -- the store ------------------------------------------------------------------------------


def test_the_store_was_written_by_the_previous_release_and_is_now_at_this_releases_head(
    upgraded,
):
    assert upgraded.revision_before, "the previous release's store has no revision"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # expression indexes can't be compared
        engine = create_engine_for(upgraded.url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
                )
                assert set(context.get_current_heads()) == this_releases_heads()
                # the migrated schema is the one this release's models describe
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()


def test_every_row_of_every_table_is_kept(upgraded):
    after = store_contents.dump(upgraded.url)
    before = upgraded.before["dump"]
    assert set(before) <= set(after)
    tables = set(before) - {VERSION_TABLE}
    assert [t for t in sorted(tables) if not before[t]] == [], "tables the release left empty"
    assert_kept({t: before[t] for t in tables}, after, "")


def test_every_settings_version_is_kept_with_its_author_comment_and_time(upgraded):
    store = SettingsStore(upgraded.url, migrate=False)
    try:
        history = [record.summary() for record in store.history(limit=100)]
        layers = {v: store.get(v).document for v in range(1, store.current_version() + 1)}
    finally:
        store.dispose()
    assert [v["version"] for v in history] == list(range(len(VERSIONS), 0, -1))
    assert_kept(upgraded.before["history"], history, "history")
    assert {str(v): layer for v, layer in layers.items()} == upgraded.before["layers"]
    # who wrote each, as the settings service recorded it, and the restore
    assert [(v["author"], v["comment"], v["restored_from"]) for v in reversed(history)] == [
        ("admin", "First profiles", None),
        ("carol", "Course profile and budgets for the term", None),
        ("service:fleet-sync", "", None),
        ("admin", "Restored version 1", 1),
        ("carol", "Budgets → spring term\nphysics halved", None),
    ]
    # the hub, at start, reads the newest version and resolves it as before
    version, document = upgraded.served_after
    assert version == upgraded.before["served"]["version"] == len(VERSIONS)
    assert_kept(upgraded.before["served"]["settings"], document, "settings")
    assert document["budgets"]["physics"] == {"server_hours": 12.5}


def test_every_session_is_kept_running_ones_still_running(upgraded):
    engine = create_engine_for(upgraded.url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                UsageSession.__table__.select().order_by(UsageSession.started_at)
            ).all()
    finally:
        engine.dispose()
    by_key = {(r.user_name, r.server_name, r.started_at): r for r in rows}
    assert len(rows) == len(SESSIONS)
    for session in SESSIONS:
        row = by_key[(session["user"], session["server"], store_contents.at(session["start"]))]
        assert row.profile == session["profile"]
        assert row.groups == USERS[session["user"]]
        if session["how"] == "running":
            assert row.stopped_at is None and row.stop_source == ""
            assert row.seconds is None  # its figures are kept when it stops
        elif session["how"] == "poll":
            assert (row.start_source, row.stop_source) == ("poll", "last_activity")
            assert row.stopped_at == store_contents.at(session["last_activity"])
        else:
            assert row.stopped_at == store_contents.at(session["stop"])
            assert row.seconds == row.stopped_at - row.started_at
    billing = {(r.user_name, r.billing_group, r.billable) for r in rows}
    assert {
        ("ben", "multiple", True),
        ("dan", "staff", False),
        ("eve", "none", True),
        ("jhub-managed-health-check", "health-check", False),
    } <= billing


def test_reports_give_the_figures_the_previous_release_gave(upgraded):
    before = upgraded.before["figures"]
    after = store_contents.figures(upgraded.url, DEPLOYMENT)
    # the figures are there to compare: some use, a running server, a budget used up
    assert before["report 2026-10-01..2026-10-31 by group"]["totals"]["server_hours"] > 0
    assert before["report 2026-11-01..2026-11-30 by user"]["totals"]["running"] == 2
    assert {b["level"] for b in before["budget use this month"]} >= {"ok", "exceeded"}
    for name, figures in before.items():
        if name.endswith(" csv"):  # compared by column: a column added later is fine
            before[name], after[name] = (
                list(csv.DictReader(io.StringIO(text))) for text in (figures, after[name])
            )
    assert_kept(before, after, "")


# -- a hub on the upgraded store ------------------------------------------------------------


def upgraded_hub_config() -> str:
    """The settings service's test hub (``HUB_CONFIG``), deployed as :data:`DEPLOYMENT`
    says and on the upgraded store."""
    config = HUB_CONFIG
    for old, new in (
        ('env["JHM_TEST_HUB_VALUES"]', 'env["JHM_UPGRADE_HUB_VALUES"]'),
        ('env["JHM_TEST_CEILINGS"]', 'env["JHM_UPGRADE_CEILINGS"]'),
        (
            'hub_admin_override_keys=["lifecycle_hooks"]',
            'hub_admin_override_keys=json.loads(env["JHM_UPGRADE_OVERRIDE_KEYS"])',
        ),
        (
            "\nconfigure(\n",
            '\nc.ManagedHub.db_url = env["JHM_UPGRADE_DB_URL"]\n'
            'c.ManagedHub.operator_defaults = json.loads(env["JHM_UPGRADE_OPERATOR_DEFAULTS"])\n'
            "configure(\n",
        ),
    ):
        assert config.count(old) == 1, f"the settings service's test hub no longer has {old}"
        config = config.replace(old, new)
    return config


@pytest.mark.e2e
def test_a_hub_starts_on_the_upgraded_store_and_serves_its_settings_and_history(upgraded, tmp_path):
    with running_hub(
        tmp_path,
        upgraded_hub_config(),
        JHM_UPGRADE_DB_URL=upgraded.url,
        JHM_UPGRADE_OPERATOR_DEFAULTS=json.dumps(DEPLOYMENT["operator_defaults"]),
        JHM_UPGRADE_HUB_VALUES=json.dumps(DEPLOYMENT["hub_values"]),
        JHM_UPGRADE_CEILINGS=json.dumps(DEPLOYMENT["ceilings"]),
        JHM_UPGRADE_OVERRIDE_KEYS=json.dumps(DEPLOYMENT["hub_admin_override_keys"]),
    ) as hub:
        r = hub.api("admin", "GET", "api/settings")
        assert r.status_code == 200, r.text
        served = r.json()
        assert r.headers["ETag"] == f'"{len(VERSIONS)}"'
        assert served["version"] == len(VERSIONS)
        assert_kept(upgraded.before["served"]["settings"], served["settings"], "settings")

        history = hub.api("admin", "GET", "api/history").json()
        assert history["current_version"] == len(VERSIONS)
        assert_kept(upgraded.before["history"], history["versions"], "history")
        detail = hub.api("admin", "GET", "api/history/2").json()
        assert detail["stored"] == upgraded.before["layers"]["2"]

        # hub admins go on where they were: the served settings save back as a new version
        settings = copy.deepcopy(served["settings"])
        r = hub.api(
            "carol", "PUT", "api/settings",
            json={"settings": settings, "comment": "after the upgrade"},
            headers={"If-Match": r.headers["ETag"]},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["version"] == len(VERSIONS) + 1
        versions = hub.api("admin", "GET", "api/history").json()["versions"]
        assert [v["version"] for v in versions] == list(range(len(VERSIONS) + 1, 0, -1))
