"""The health service's parts on their own: the schedule, messages without secrets, the
options of ``configure()``, the spawner report and the notice."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from jhub_managed.hub import ConfigureError, ManagedHub, configure
from jhub_managed.hubside.health_notice import HealthNotice, is_failing
from jhub_managed.hubside.spawn_report import SpawnReport
from jhub_managed.services.health.app import Answer, overall
from jhub_managed.services.health.checks import CHECK_FUNCTIONS, scrub
from jhub_managed.services.health.metrics import Metrics
from jhub_managed.services.health.options import health_options
from jhub_managed.services.health.schedule import (
    CheckFailed,
    NotConfigured,
    Schedule,
    ScheduledCheck,
    StartPhase,
    retry_delay,
)
from jhub_managed.shared import spawner_report
from jhub_managed.shared.health_checks import CHECKS, DEFAULT_REQUIRED

from .fixtures.clock import ManualClock
from .fixtures.waiting import settle


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
    await settle()  # all of them asked while the first run is under way
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

    clock = ManualClock()
    check = ScheduledCheck("hub-api", count, required=True, interval=60, timeout=1, clock=clock)
    await check.result()
    clock.advance(59)
    await check.result()
    assert calls == 1  # still fresh
    clock.advance(1)
    await check.result()
    assert calls == 2


@pytest.mark.parametrize(
    "behaviour, state, required, message",
    [
        ("pass", "ok", True, "fine"),
        ("fail", "failing", True, "broken"),
        # nothing to look at: skipped, and so never required
        ("unconfigured", "skipped", False, "not configured: nothing"),
        ("hang", "failing", True, "no answer within 0.2 s"),
        ("bug", "failing", True, "the check itself failed (ZeroDivisionError)"),
    ],
)
async def test_results_of_each_outcome(behaviour, state, required, message):
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
    assert (result.state, result.required, result.message) == (state, required, message)
    assert result.ok is (state == "ok")
    public = result.public()
    assert list(public) == "name state ok required message duration_ms checked_at".split()
    assert public["state"] == state


class Scripted:
    """A check that fails until told to pass, counting its runs."""

    def __init__(self, passing: bool = False):
        self.passing = passing
        self.runs = 0

    async def __call__(self) -> str:
        self.runs += 1
        if not self.passing:
            raise CheckFailed("the proxy has no route for the hub")
        return "fine"


@pytest.mark.parametrize(
    "streak, interval, delay",
    [
        (1, 30, 1),
        (2, 30, 2),
        (3, 30, 4),
        (4, 30, 7.5),  # at most a quarter of the interval
        (9, 30, 7.5),
        (5, 3600, 10),  # and at most RETRY_MAX
        (30, 3600, 10),
        (1, 2, 1),
        (3, 2, 1),  # a short interval: every second
        (1, 0.5, 0.5),  # never more than the interval itself
    ],
)
def test_retry_delay_backs_off_and_stays_well_under_the_interval(streak, interval, delay):
    assert retry_delay(streak, interval) == delay


async def runs_at(check: ScheduledCheck, clock: ManualClock, times: list[float]) -> list[float]:
    """Ask ``check`` for its result at each of ``times`` (seconds from now); the times at
    which it ran."""
    start, ran = clock.now, []
    for t in times:
        clock.now = start + t
        before = check.func.runs
        await check.result()
        if check.func.runs > before:
            ran.append(t)
    return ran


async def test_a_failing_check_is_tried_again_with_backoff_not_held_for_its_interval():
    clock, func = ManualClock(), Scripted()
    check = ScheduledCheck("proxy-routes", func, True, interval=30, timeout=5, clock=clock)
    asked = [0, 0.5, 0.99, 1, 2.9, 3, 6.9, 7, 14.4, 14.5, 21.9, 22]
    assert await runs_at(check, clock, asked) == [0, 1, 3, 7, 14.5, 22]
    assert check.last.state == "failing" and check.streak == 6
    # it passes: held for its interval again, and the backoff starts over
    func.passing = True
    clock.now += 7.5
    await check.result()
    assert check.last.state == "ok" and check.streak == 0
    assert await runs_at(check, clock, [0, 29.9, 30]) == [30]
    func.passing = False
    assert await runs_at(check, clock, [60, 60.5, 61, 63]) == [60, 61, 63]


async def test_a_check_that_does_not_pass_while_the_hub_starts_says_starting():
    clock, func = ManualClock(), Scripted()
    start = StartPhase(grace=300, clock=clock)
    check = ScheduledCheck(
        "proxy-routes", func, True, interval=30, timeout=5, starting=start, clock=clock
    )
    # tried again every second, no backoff: the end of the start is seen at once
    assert await runs_at(check, clock, [0, 0.5, 1, 2, 3, 4, 4.5]) == [0, 1, 2, 3, 4]
    result = check.last
    assert (result.state, result.ok, result.required) == ("starting", False, True)
    assert result.counts  # the probe answers 503 while starting
    assert result.message == "the proxy has no route for the hub"
    # the hub has finished starting; what still does not pass is failing, with backoff
    assert start.finish() and not start.finish()
    assert await runs_at(check, clock, [5, 6, 7, 8, 9]) == [5, 6, 8]
    assert check.last.state == "failing"
    func.passing = True
    assert await runs_at(check, clock, [12]) == [12]
    assert check.last.state == "ok"


def test_the_start_ends_when_the_routes_are_there_or_after_its_grace():
    clock = ManualClock()
    start = StartPhase(grace=300, clock=clock)
    assert start()
    clock.now += 299
    assert start()
    clock.now += 1
    assert not start()  # routes never came: failing, not starting
    other = StartPhase(grace=300, clock=clock)
    other.finish()
    assert not other()


async def test_a_skipped_check_is_tried_at_its_interval_only():
    clock = ManualClock()
    runs = 0

    async def nothing_here() -> str:
        nonlocal runs
        runs += 1
        raise NotConfigured("not configured: no home volume to look at")

    check = ScheduledCheck("home-disk", nothing_here, True, interval=30, timeout=5, clock=clock)
    for t in (0, 1, 2, 29):
        clock.now = 1000 + t
        result = await check.result()
    assert runs == 1 and result.state == "skipped" and not result.counts


@pytest.mark.parametrize(
    "states, status",
    [
        ({"a": ("ok", True), "b": ("skipped", True)}, "ok"),
        ({"a": ("ok", True), "b": ("failing", False)}, "ok"),  # a warning
        ({"a": ("starting", True), "b": ("ok", True)}, "starting"),
        ({"a": ("starting", False), "b": ("ok", True)}, "ok"),
        ({"a": ("starting", True), "b": ("failing", True)}, "failing"),
        ({"a": ("failing", True), "b": ("skipped", True)}, "failing"),
    ],
)
async def test_the_answer_is_503_while_starting_or_failing_never_for_a_skipped_check(
    states, status
):
    def outcome(state):
        async def check() -> str:
            if state == "failing":
                raise CheckFailed("broken")
            if state == "skipped":
                raise NotConfigured("not configured: nothing")
            if state == "starting":
                raise CheckFailed("not routed yet")
            return "fine"

        return check

    checks = [
        ScheduledCheck(
            name,
            outcome(state),
            required,
            interval=30,
            timeout=1,
            starting=lambda state=state: state == "starting",
        )
        for name, (state, required) in states.items()
    ]
    schedule = Schedule(checks)
    await schedule.run_due()
    answer = Answer(schedule)
    code, body = answer.current()
    body = json.loads(body)
    assert (code, body["status"]) == (200 if status == "ok" else 503, status)
    assert [c["state"] for c in body["checks"]] == [state for state, _ in states.values()]
    assert overall(schedule.cached()) == status
    # the rule older clients apply still holds: 503 exactly when a required check is not ok
    assert (code == 503) == any(c["required"] and not c["ok"] for c in body["checks"])


async def test_a_slow_check_does_not_hold_up_another_checks_retries():
    clock, failing = ManualClock(), Scripted()
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "fine"

    schedule = Schedule(
        [
            ScheduledCheck("slow", slow, True, interval=30, timeout=60, clock=clock),
            ScheduledCheck("proxy-routes", failing, True, interval=30, timeout=5, clock=clock),
        ]
    )
    schedule.start_due()
    await settle()
    assert failing.runs == 1
    assert schedule.tick() == 1.0  # the retry, in a second
    clock.now += 1
    schedule.start_due()
    await settle()
    assert failing.runs == 2  # while the slow one still runs
    release.set()
    await schedule.stop()


def metric_lines(metrics: Metrics) -> list[str]:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode().splitlines()


async def test_metrics_leave_skipped_checks_out_of_up_and_say_each_state():
    metrics = Metrics(SimpleNamespace(requests=0))

    async def nothing_here() -> str:
        raise NotConfigured("not configured: no home volume to look at")

    async def fine() -> str:
        return "fine"

    for name, func in (("home-disk", nothing_here), ("hub-api", fine)):
        check = ScheduledCheck(name, func, True, 30, 1, on_result=metrics.on_result)
        await check.result()
    metrics.on_status("ok")
    lines = metric_lines(metrics)
    assert 'jhub_managed_health_check_up{check="hub-api"} 1.0' in lines
    assert not [
        line for line in lines if line.startswith('jhub_managed_health_check_up{check="home-disk"')
    ]
    assert 'jhub_managed_health_check_state{check="home-disk",state="skipped"} 1.0' in lines
    assert 'jhub_managed_health_check_state{check="home-disk",state="failing"} 0.0' in lines
    assert 'jhub_managed_health_check_required{check="home-disk"} 0.0' in lines
    assert "jhub_managed_health_status_ok 1.0" in lines
    metrics.on_status("starting")
    lines = metric_lines(metrics)
    assert "jhub_managed_health_status_ok 0.0" in lines
    assert "jhub_managed_health_starting 1.0" in lines


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
    spawns = SpawnReport(str(tmp_path))
    path = spawner_report.report_path(str(tmp_path))
    assert spawner_report.read(path) is None
    spawns.note_spawn(_Source(3))
    first = spawner_report.read(path)
    assert first["version"] == 3 and first["fallback"] == ""
    spawns.note_spawn(_Source(3))
    assert spawner_report.read(path)["written_at"] == first["written_at"]  # nothing changed
    spawns.note_spawn(_Source(3, "OperationalError: gone"), profile="gpu", refused="too big")
    report = spawner_report.read(path)
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


@pytest.mark.parametrize(
    "check, shown",
    [
        ({"required": True, "ok": False, "state": "failing"}, True),
        ({"required": True, "ok": False, "state": "starting"}, False),
        ({"required": False, "ok": False, "state": "failing"}, False),
        ({"required": False, "ok": False, "state": "skipped"}, False),
        ({"required": True, "ok": True, "state": "ok"}, False),
        ({"required": True, "ok": False}, True),  # an answer without states
    ],
)
def test_the_notice_shows_for_failing_required_checks_only(check, shown):
    assert is_failing(check) is shown


STARTING_ANSWER = {
    "status": "starting",
    "checks": [
        {"name": "hub-api", "state": "ok", "ok": True, "required": True},
        {"name": "proxy-routes", "state": "starting", "ok": False, "required": True},
        {"name": "home-disk", "state": "skipped", "ok": False, "required": False},
        {"name": "deep-check", "state": "failing", "ok": False, "required": False},
    ],
}
OK_ANSWER = {
    "status": "ok",
    "checks": [
        {"name": "hub-api", "state": "ok", "ok": True, "required": True},
        {"name": "home-disk", "state": "skipped", "ok": False, "required": False},
    ],
}
# a health service from before the states
OLD_FAILING_ANSWER = {
    "status": "failing",
    "checks": [
        {"name": "proxy-routes", "ok": False, "required": True},
        {"name": "home-disk", "ok": False, "required": False},
    ],
}


@pytest.fixture
def canned_health():
    """A local HTTP server answering the probe's path with what the test sets."""
    import http.server
    import threading

    answer = {"status": 200, "body": b""}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(answer["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer["body"])))
            self.end_headers()
            self.wfile.write(answer["body"])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(status: int, body: dict) -> str:
        answer.update(status=status, body=json.dumps(body).encode())
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    server.shutdown()
    server.server_close()


def test_the_fleet_probe_reads_the_states(canned_health):
    from jhub_managed.fleet.probe import health

    state = health(canned_health(503, STARTING_ANSWER))
    assert (state.ok, state.state, state.starting) == (False, "starting", ["proxy-routes"])
    assert state.failing == ["deep-check (optional)"]  # a skipped check is not failing
    assert state.reason == "answered 503: the hub is still starting (not passing yet: proxy-routes)"

    state = health(canned_health(200, OK_ANSWER))
    assert (state.ok, state.state, state.failing, state.starting) == (True, "ok", [], [])

    state = health(canned_health(503, OLD_FAILING_ANSWER))
    assert (state.ok, state.state) == (False, "failing")
    assert state.failing == ["proxy-routes", "home-disk (optional)"]
    assert state.reason == "answered 503: failing checks: proxy-routes, home-disk (optional)"
