"""The usage metrics: jupyterhub_user_group_info exactly as jupyterhub-groups-exporter makes it
(usernames escaped as kubespawner does), and the suite's own series from a real store."""

from __future__ import annotations

import pytest
from kubespawner.slugs import escape_slug, safe_slug
from prometheus_client.parser import text_string_to_metric_families

from jhub_managed.services.usage.metrics import (
    UsageMetrics,
    escaped_username,
    safe_username,
    user_group_info,
)
from jhub_managed.store import create_engine_for, upgrade
from jhub_managed.store.usage import UsageRecorder

from .fixtures.usage_data import add, ts

ODD_NAMES = [
    "ann",
    "Ann",
    "a.b@example.org",
    "ünïcødé",
    "1user",
    "user--two",
    "-dash",
    "x" * 70,
    "",
    "名前",
    'quote"back\\slash',
    "a_b",
]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_usernames_are_escaped_as_kubespawner_does(name):
    assert escaped_username(name) == escape_slug(name)
    assert safe_username(name) == safe_slug(name)


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_user_group_info_has_the_exporters_name_labels_and_none():
    text = user_group_info({"ann": ["physics", "chem"], "bob": [], 'q"x': ["a"]}, "hub-ns").text()
    family = families(text)["jupyterhub_user_group_info"]
    assert family.type == "gauge"
    samples = {(s.labels["username"], s.labels["usergroup"]): s for s in family.samples}
    assert set(samples) == {("ann", "chem"), ("ann", "physics"), ("bob", "none"), ('q"x', "a")}
    bob = samples[("bob", "none")]
    assert bob.value == 1
    assert bob.labels == {
        "namespace": "hub-ns",
        "usergroup": "none",
        "username": "bob",
        "username_escaped": "bob",
        "username_safe": "bob",
    }


def test_the_suites_series_from_a_store(db_url):
    engine = create_engine_for(db_url)
    upgrade(engine)
    recorder = UsageRecorder(engine)
    now = ts("2026-11-20 12:00")
    add(recorder, "ann", ["physics"], "2026-11-20 10:00", "2026-11-20 11:00")
    add(recorder, "cy", ["physics", "chem"], "2026-11-20 11:00", profile="lab")
    add(recorder, "sam", ["staff"], "2026-11-20 09:00", "2026-11-20 10:00")
    metrics = UsageMetrics(engine, namespace="ns", per_user=True)
    budget = [
        {"group": "physics", "kind": "server_hours", "budget": 2.0, "used": 1.0, "fraction": 0.5}
    ]
    text = metrics.render(
        now=now, user_groups={"ann": ["physics"]}, budget_use=budget, last_poll_at=now,
        poll_failures=0,
    ).decode()  # fmt: skip
    got = families(text)
    running = {
        (s.labels["profile"], s.labels["usergroup"]): s.value
        for s in got["jhub_managed_usage_running_servers"].samples
    }
    assert running == {("lab", "multiple"): 1.0}
    hours = {
        (s.labels["usergroup"], s.labels["billable"]): s.value
        for s in got["jhub_managed_usage_server_hours"].samples
    }
    assert hours[("physics", "true")] == pytest.approx(1.0)
    assert hours[("multiple", "true")] == pytest.approx(1.0)  # running, up to now
    assert hours[("staff", "false")] == pytest.approx(1.0)
    active = {s.labels["period"]: s.value for s in got["jhub_managed_usage_active_users"].samples}
    assert active == {"1d": 2.0, "7d": 2.0, "30d": 2.0}  # ann and cy; sam is staff
    assert got["jhub_managed_usage_budget_used_ratio"].samples[0].value == 0.5
    users = {s.labels["username"] for s in got["jhub_managed_usage_user_server_hours"].samples}
    assert users == {"ann", "cy", "sam"}
    # a counter never goes down: read again later, more hours for the running session
    later = families(
        metrics.render(
            now=now + 3600, user_groups={}, budget_use=[], last_poll_at=now, poll_failures=1
        ).decode()
    )
    hours_later = {
        s.labels["usergroup"]: s.value for s in later["jhub_managed_usage_server_hours"].samples
    }
    assert hours_later["multiple"] == pytest.approx(2.0)
    assert hours_later["physics"] == pytest.approx(1.0)
    engine.dispose()


#: every family ``/metrics`` has, on an empty store too (counters by their family name)
ALWAYS = {
    "jupyterhub_user_group_info",
    "jhub_managed_usage_running_servers",
    "jhub_managed_usage_active_users",
    "jhub_managed_usage_server_hours",
    "jhub_managed_usage_budget",
    "jhub_managed_usage_budget_used",
    "jhub_managed_usage_budget_used_ratio",
    "jhub_managed_usage_last_poll_timestamp_seconds",
    "jhub_managed_usage_poll_failures",
}
#: the families ``usage_per_user_metrics=True`` adds, and only then
PER_USER = {"jhub_managed_usage_user_running_servers", "jhub_managed_usage_user_server_hours"}


@pytest.mark.parametrize("per_user", [False, True])
def test_an_empty_store_exports_every_family_and_per_user_ones_only_when_asked(tmp_path, per_user):
    engine = create_engine_for(f"sqlite:///{tmp_path / 's.sqlite'}")
    upgrade(engine)
    text = (
        UsageMetrics(engine, namespace="ns", per_user=per_user)
        .render(now=0.0, user_groups={"ann": []}, budget_use=[], last_poll_at=None, poll_failures=0)
        .decode()
    )
    got = families(text)
    assert set(got) == ALWAYS | (PER_USER if per_user else set())
    if per_user:  # typed, so dashboards know them before the first session
        assert "# TYPE jhub_managed_usage_user_running_servers gauge" in text
        assert "# TYPE jhub_managed_usage_user_server_hours_total counter" in text
    else:
        assert "jhub_managed_usage_user_" not in text
    samples = {name: [(s.labels, s.value) for s in f.samples] for name, f in got.items()}
    active = {
        labels["period"]: value for labels, value in samples.pop("jhub_managed_usage_active_users")
    }
    assert active == {"1d": 0.0, "7d": 0.0, "30d": 0.0}
    assert samples.pop("jhub_managed_usage_poll_failures") == [({"namespace": "ns"}, 0.0)]
    assert [labels["username"] for labels, _ in samples.pop("jupyterhub_user_group_info")] == [
        "ann"
    ]
    # nothing ran, nobody was polled and no budget is set: no sample, not a zero per user
    assert {name: s for name, s in samples.items() if s} == {}
    engine.dispose()


def test_active_users_are_counted_again_after_a_minute_or_on_a_new_day(db_url):
    engine = create_engine_for(db_url)
    upgrade(engine)
    recorder = UsageRecorder(engine)
    now = ts("2026-11-20 12:00")
    add(recorder, "ann", ["physics"], "2026-11-20 10:00", "2026-11-20 11:00")
    metrics = UsageMetrics(engine, namespace="ns")

    def active(at: float) -> dict:
        text = metrics.render(
            now=at, user_groups={}, budget_use=[], last_poll_at=at, poll_failures=0
        ).decode()
        samples = families(text)["jhub_managed_usage_active_users"].samples
        return {s.labels["period"]: s.value for s in samples}

    assert active(now) == {"1d": 1.0, "7d": 1.0, "30d": 1.0}
    add(recorder, "bob", ["chem"], "2026-11-20 11:00", "2026-11-20 11:30")
    assert active(now + 30)["30d"] == 1.0  # kept for a minute
    assert active(now + 61) == {"1d": 2.0, "7d": 2.0, "30d": 2.0}
    # a new day starts a new count, however recent the last one
    assert active(ts("2026-11-20 23:59") + 30)["1d"] == 2.0
    assert active(ts("2026-11-21 00:00") + 10) == {"1d": 0.0, "7d": 2.0, "30d": 2.0}
    engine.dispose()
