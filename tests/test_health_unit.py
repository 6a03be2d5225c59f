"""The health service's parts on their own: the schedule, messages without secrets, the
options of ``configure()``, the spawner report and the notice."""

from __future__ import annotations

import asyncio

import pytest
from traitlets.config import Config

from jhub_managed.hub import ConfigureError, ManagedHub, configure
from jhub_managed.services.health import spawnreport
from jhub_managed.services.health.catalog import CHECKS, DEFAULT_REQUIRED
from jhub_managed.services.health.checks import CHECK_FUNCTIONS, scrub
from jhub_managed.services.health.notice import HealthNotice
from jhub_managed.services.health.schedule import (
    CheckFailed,
    NotConfigured,
    Schedule,
    ScheduledCheck,
)
from jhub_managed.services.health.wiring import health_options


def test_every_check_has_a_function_and_a_description():
    assert list(CHECK_FUNCTIONS) == list(CHECKS)
    assert "hub-api" in DEFAULT_REQUIRED and "deep-check" not in DEFAULT_REQUIRED


async def test_one_run_in_flight_however_many_ask_and_cached_in_between():
    calls = 0
    release = asyncio.Event()

    async def slow() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return f"run {calls}"

    check = ScheduledCheck("hub-api", slow, required=True, interval=3600, timeout=10)
    waiting = [asyncio.ensure_future(check.result()) for _ in range(50)]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.gather(*waiting)
    assert calls == 1
    assert {r.message for r in results} == {"run 1"}
    # fresh: cached, no new run
    assert (await check.result()).message == "run 1"
    assert calls == 1


async def test_a_due_check_runs_again():
    calls = 0

    async def count() -> str:
        nonlocal calls
        calls += 1
        return "ok"

    check = ScheduledCheck("hub-api", count, required=True, interval=0.05, timeout=1)
    await check.result()
    await asyncio.sleep(0.1)
    await check.result()
    assert calls == 2


@pytest.mark.parametrize(
    "behaviour, ok, required, message",
    [
        ("pass", True, True, "fine"),
        ("fail", False, True, "broken"),
        ("unconfigured", False, False, "not configured: nothing"),
        ("hang", False, True, "no answer within 0.2 s"),
        ("bug", False, True, "the check itself failed (ZeroDivisionError)"),
    ],
)
async def test_results_of_each_outcome(behaviour, ok, required, message):
    async def check() -> str:
        if behaviour == "fail":
            raise CheckFailed("broken")
        if behaviour == "unconfigured":
            raise NotConfigured("not configured: nothing")
        if behaviour == "hang":
            await asyncio.sleep(60)
        if behaviour == "bug":
            return str(1 / 0)
        return "fine"

    result = await ScheduledCheck("x", check, required=True, interval=1, timeout=0.2).result()
    assert (result.ok, result.required, result.message) == (ok, required, message)
    assert set(result.public()) == {
        "name",
        "ok",
        "required",
        "message",
        "duration_ms",
        "checked_at",
    }


async def test_schedule_caches_until_every_check_ran_once_and_counts_changes():
    async def fine() -> str:
        return "ok"

    schedule = Schedule(
        [ScheduledCheck(n, fine, required=True, interval=60, timeout=1) for n in ("a", "b")]
    )
    assert schedule.cached() is None
    await schedule.run_due()
    assert [r.name for r in schedule.cached()] == ["a", "b"]
    assert schedule.generation == 2
    await schedule.run_due()  # fresh: nothing ran
    assert schedule.generation == 2


@pytest.mark.parametrize(
    "text, secret, absent",
    [
        ("connection to postgresql://jhm:s3cret@db:5432/x failed", "", "s3cret"),
        ("(sqlite3.OperationalError) unable to open /srv/data/jhub.sqlite", "", "/srv/data"),
        ("header Authorization: token abcdef0123 refused", "", "abcdef0123"),
        ("the hub said 42-secret-token", "42-secret-token", "42-secret-token"),
        ("first line\nTraceback (most recent call last): secret", "", "Traceback"),
    ],
)
def test_messages_carry_no_secrets_or_paths(text, secret, absent):
    assert absent not in scrub(text, (secret,))


def _services(c: Config) -> dict:
    return {s["name"]: s for s in c.JupyterHub.services}


def test_configure_passes_health_options_to_the_service(tmp_path):
    c = Config()
    c.KubeSpawner.k8s_api_host = "https://10.0.0.1:6443"
    configure(
        c,
        spawner="kube",
        data_dir=str(tmp_path),
        health_required=["hub-api", "spawner-backend"],
        health_interval=15,
        health_timeouts={"spawner-backend": 2},
        health_min_free_percent=12.5,
        health_idp_url="https://idp.example.org/.well-known/openid-configuration",
    )
    # as the health service reads its options from its environment
    hub = ManagedHub.from_environment(_services(c)["health"]["environment"])
    health = health_options(hub)
    assert health["required"] == ["hub-api", "spawner-backend"]
    assert health["interval"] == 15 and health["timeouts"] == {"spawner-backend": 2}
    assert health["min_free_percent"] == 12.5
    assert health["kube"]["host"] == "https://10.0.0.1:6443"
    assert health["idp_url"].startswith("https://idp.example.org/")
    assert hub.health_check_user == "jhub-managed-health-check"
    assert c.ManagedAuthenticatorMixin.health_check_user == "jhub-managed-health-check"
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    service_scopes = roles["jhub-managed-health-service"]["scopes"]
    assert "servers!user=jhub-managed-health-check" in service_scopes
    # the service may start and stop only its check user's server
    assert not [s for s in service_scopes if s.startswith("servers") and "!user=" not in s]
    assert roles["jhub-managed-health-check-user"]["users"] == ["jhub-managed-health-check"]
    assert "custom:jhub-managed:health" in c.JupyterHub.custom_scopes
    assert "jhm_health_notice" in c.JupyterHub.template_vars


@pytest.mark.parametrize(
    "authenticator, section, settings, expected",
    [
        ("github", "GitHubOAuthenticator", {}, "https://api.github.com/user"),
        (
            "github",
            "GitHubOAuthenticator",
            {"github_url": "https://ghe.example.org"},
            "https://ghe.example.org/api/v3/user",
        ),
        (
            "generic",
            "GenericOAuthenticator",
            {"userdata_url": "https://sso.example.org/userinfo"},
            "https://sso.example.org/userinfo",
        ),
        ("cilogon", "CILogonOAuthenticator", {}, "https://cilogon.org/oauth2/userinfo"),
        ("demo", "DemoPasswordAuthenticator", {}, ""),
    ],
)
def test_identity_provider_url_from_the_authenticator(
    tmp_path, authenticator, section, settings, expected
):
    c = Config()
    for key, value in settings.items():
        c[section][key] = value
    configure(c, spawner="local", authenticator=authenticator, data_dir=str(tmp_path))
    hub = ManagedHub.from_environment(_services(c)["health"]["environment"])
    assert hub.identity_provider_url == expected


@pytest.mark.parametrize(
    "options, message",
    [
        ({"health_required": ["hub-api", "nonsense"]}, "unknown health check 'nonsense'"),
        ({"health_intervals": {"kubernetes-ish": 3}}, "unknown health check"),
        ({"health_timeouts": {"hub-api": 0}}, "seconds must be positive"),
        ({"health_interval": 0}, "health_interval must be positive"),
        ({"health_min_free_percent": 101}, "at most 100"),
    ],
)
def test_wrong_health_options_are_refused_with_a_clear_message(tmp_path, options, message):
    c = Config()
    with pytest.raises(ConfigureError, match=message):
        configure(c, data_dir=str(tmp_path), **options)
    assert not c.JupyterHub.get("services")


class _Source:
    def __init__(self, version, error=None):
        self.last_read = type("C", (), {"version": version})()
        self.last_error = error
        self.last_error_at = 1.0 if error else None


def test_spawner_report_records_fallbacks_and_refusals_and_writes_only_changes(tmp_path):
    spawnreport.configure(str(tmp_path))
    path = spawnreport.report_path(str(tmp_path))
    assert spawnreport.read(path) is None
    spawnreport.note_spawn(_Source(3))
    first = spawnreport.read(path)
    assert first["version"] == 3 and first["fallback"] == ""
    spawnreport.note_spawn(_Source(3))
    assert spawnreport.read(path)["written_at"] == first["written_at"]  # nothing changed
    spawnreport.note_spawn(_Source(3, "OperationalError: gone"), profile="gpu", refused="too big")
    report = spawnreport.read(path)
    assert report["fallback"] == "OperationalError: gone"
    assert report["refusals"][0]["profile"] == "gpu" and report["refusals"][0]["version"] == 3


async def test_notice_starts_its_refresh_on_the_first_render_and_shows_only_text():
    notice = HealthNotice(url="http://127.0.0.1:1", interval=60, settings=None)
    assert notice(None) == ""  # nothing known yet: no notice, and no wait
    assert notice._task is not None
    notice._task.cancel()


def test_every_check_is_in_the_reference():
    from pathlib import Path

    reference = (Path(__file__).parent.parent / "docs/reference/health-checks.md").read_text()
    for name, (_, required) in CHECKS.items():
        row = next(
            (line for line in reference.splitlines() if line.startswith(f"| `{name}` |")), ""
        )
        assert row, f"{name} is not in docs/reference/health-checks.md"
        assert row.split("|")[2].strip() == ("yes" if required else "no"), name
