"""The health probe right after a hub starts, on a demo hub (``jhub-managed demo``: real
JupyterHub, proxy and services) with one more service of the operator's own that takes a
moment to answer, as real hubs have. JupyterHub adds its routes to the proxy only once that
last service answers, so the health service's first checks meet a hub without routes.

- While the hub starts, the probe says ``starting`` (503), not ``failing``, and the status
  page shows it so (Chromium).
- The probe answers 200 within seconds of the hub's ``/hub/health``, not one check interval
  (30 s on the demo) later.
- Checks with nothing to look at on this hub are ``skipped``: on the page, in the JSON and in
  the metrics, and never a 503 (the local spawner has no backend for the required
  ``spawner-backend`` check, the demo's password logins no identity provider).
- A real failure after the start (the hub process frozen) still turns the probe to 503 at its
  first failing result, and it is 200 again within seconds of the fault going.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from jhub_managed.fleet import probe

from .fixtures.axe import assert_accessible
from .fixtures.demo import DemoHub, launch_demo
from .fixtures.processes import descendants, free_port
from .fixtures.waiting import NotYet, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

#: deadlines for conditions on this shared machine (never timed assertions)
DEADLINE = 180
#: the issue's bound: from /hub/health answering to the probe answering 200
START_GAP = 15

#: a service of the operator's own: it takes its port at once and answers once the test
#: opens its gate (at most 25 s later: JupyterHub 6 waits 30 s for a service by default)
GATED_SERVICE = r"""
import os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

port, gate = int(sys.argv[1]), sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", port), Handler)
deadline = time.monotonic() + 25
while not os.path.exists(gate) and time.monotonic() < deadline:
    time.sleep(0.05)
server.serve_forever()
"""

EXTRA_CONFIG = """
import sys

c = get_config()  # noqa: F821
c.JupyterHub.services.append(
    {{
        "name": "reports",
        "url": "http://127.0.0.1:{port}",
        "command": [sys.executable, "-c", {code!r}, "{port}", {gate!r}],
    }}
)
"""

SKIPPED_HERE = {"spawner-backend", "identity-provider", "home-disk"}


def fetch(url: str) -> tuple[int, bytes]:
    """Status and body; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def probe_answer(hub: DemoHub) -> tuple[int, dict]:
    status, body = fetch(hub.url + "services/health/api/health")
    assert status in (200, 503), f"the probe answered {status}"
    return status, json.loads(body)


def states(body: dict) -> dict[str, str]:
    return {c["name"]: c["state"] for c in body["checks"]}


def found(pattern: str, path: Path) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    match = re.search(pattern, text)
    return match.group(1) if match else ""


def jupyterhub_process(hub: DemoHub):
    for child in descendants(hub.process.pid):
        if "jupyterhub" in " ".join(child.cmdline()[:3]):
            return child
    raise AssertionError("no jupyterhub process under the demo command")


#: clears every timer of the page, its reload among them
STOP_RELOADING = (
    "() => { const last = setTimeout(() => {}, 0);"
    " for (let i = 0; i <= last; i++) clearTimeout(i); }"
)


def status_page_while_starting(page: Page, service_url: str) -> None:
    """The status page, on the health service's own port (the proxy has no route to it yet)."""
    page.goto(service_url + "/services/health/")
    # while the hub starts the page reloads itself every few seconds; here it holds still,
    # so that a reload cuts neither the checks below nor the test's next visit
    page.evaluate(STOP_RELOADING)
    expect(page.locator(".jhm-health-summary")).to_contain_text("still starting")
    row = page.locator('.jhm-check[data-check="proxy-routes"]')
    expect(row).to_have_attribute("data-state", "starting")
    expect(row.locator("td").first).to_have_text("starting")
    expect(row).not_to_have_class(re.compile(r"table-(danger|warning)"))
    assert_accessible(page, "the health page while the hub starts")


def watch_the_start(hub: DemoHub, gate: Path, page: Page) -> dict:
    """Poll from the hub's start, every 0.1 s: the hub's own ``/hub/health`` (on its API
    port, as a Kubernetes readiness probe asks it), ``/hub/health`` and the probe through
    the proxy, and the health service on its own port, which the fleet probe reads: when it
    first answers, the status page is looked at and the gate of the last service opened.
    Returns when each first answered (monotonic seconds) and the health service's first
    answer."""
    hub_log = hub.data_dir / "hub.log"
    seen: dict = {}
    own_hub = service = ""

    def look() -> dict | NotYet:
        nonlocal own_hub, service
        assert hub.process.popen.poll() is None, "the demo exited:\n" + hub.process.log()
        own_hub = own_hub or found(r"Hub API listening on (http://\S+/hub/)", hub_log)
        service = service or found(r"Starting managed service health at (http://\S+)", hub_log)
        now = time.monotonic()
        if own_hub and "own hub" not in seen and fetch(own_hub + "health")[0] == 200:
            seen["own hub"] = now
        if "hub" not in seen and fetch(hub.url + "hub/health")[0] == 200:
            seen["hub"] = now
        if service and "service" not in seen:
            state = probe.health(service + "/", timeout=5)
            if state.status is not None:
                seen["service"], seen["first answer"] = now, state
                if state.state == "starting":
                    status_page_while_starting(page, service)
                gate.touch()
        if fetch(hub.url + "services/health/api/health")[0] == 200:
            seen["probe"] = time.monotonic()
        return seen if "probe" in seen else NotYet(dict(seen))

    return wait_until(look, DEADLINE, "the probe to answer 200")


def wait_probe(hub: DemoHub, condition, what: str) -> tuple[int, dict]:
    def answer():
        status, body = probe_answer(hub)
        return (status, body) if condition(status, body) else NotYet((status, body))

    return wait_until(answer, 120, what, interval=0.25)


@pytest.fixture
def demo_with_a_slow_service(tmp_path):
    gate = tmp_path / "gate"
    extra = tmp_path / "operator_services.py"
    extra.write_text(EXTRA_CONFIG.format(port=free_port(), code=GATED_SERVICE, gate=str(gate)))
    hub = launch_demo(tmp_path, ["--config", str(extra)])
    yield hub, gate
    hub.process.signal(signal.SIGINT)  # Ctrl-C, as a user stops it
    hub.process.stop(timeout=20)


def test_the_probe_says_starting_then_ok_within_seconds_and_503_on_a_real_failure(
    demo_with_a_slow_service, page: Page
):
    hub, gate = demo_with_a_slow_service
    seen = watch_the_start(hub, gate, page)

    # while the hub started, its health said so: starting (503), not failing
    first = seen["first answer"]
    assert first.status == 503 and first.state == "starting", first
    assert "proxy-routes" in first.starting, first
    assert "proxy-routes" not in " ".join(first.failing)

    gap = seen["probe"] - seen["hub"]
    print(
        f"probe 200 {gap:.1f} s after /hub/health through the proxy; "
        f"{seen['probe'] - seen['own hub']:.1f} s after the hub's own /hub/health "
        f"(its API port); health service's first answer "
        f"{seen['service'] - seen['own hub']:.1f} s after it"
    )
    assert gap <= START_GAP, f"the probe answered 200 {gap:.1f} s after /hub/health"

    # healthy: checks with nothing to look at here are skipped, never failing or required;
    # what waited for the start has run again at once and says ok or failing
    status, body = wait_probe(
        hub, lambda s, b: "starting" not in states(b).values(), "no check to say starting"
    )
    assert status == 200 and body["status"] == "ok"
    for check in body["checks"]:
        assert check["ok"] is (check["state"] == "ok")
    skipped = {c["name"]: c for c in body["checks"] if c["state"] == "skipped"}
    assert set(skipped) == SKIPPED_HERE, body
    assert not any(c["required"] for c in skipped.values())
    assert skipped["home-disk"]["message"].startswith("not configured:")

    # the status page says the same
    page.goto(hub.url + "services/health/")
    expect(page.locator(".jhm-health-summary")).to_have_text("Every required check passes.")
    for name in SKIPPED_HERE:
        row = page.locator(f'.jhm-check[data-check="{name}"]')
        expect(row).to_have_attribute("data-state", "skipped")
        expect(row.locator("td").first).to_have_text("skipped")
        expect(row).not_to_have_class(re.compile(r"table-(danger|warning|success)"))
        expect(row.locator("th .badge")).to_have_text("not configured here")
    assert_accessible(page, "the health page with skipped checks")

    # and the metrics: a skipped check is neither up nor down
    _, metrics = fetch(hub.url + "services/health/metrics")
    lines = metrics.decode().splitlines()
    assert 'jhub_managed_health_check_state{check="home-disk",state="skipped"} 1.0' in lines
    assert not [line for line in lines if 'check_up{check="home-disk"}' in line]
    assert 'jhub_managed_health_check_up{check="hub-api"} 1.0' in lines
    assert "jhub_managed_health_status_ok 1.0" in lines
    assert "jhub_managed_health_starting 0.0" in lines

    # a real failure: the hub process frozen. The first answer in which hub-api does not
    # pass is a 503 saying failing (the hub has started: not starting)
    frozen = jupyterhub_process(hub)
    frozen.suspend()
    frozen_at = time.monotonic()
    try:
        status, body = wait_probe(
            hub, lambda s, b: states(b)["hub-api"] != "ok", "the hub-api check not to pass"
        )
        failed_at = time.monotonic()
    finally:
        frozen.resume()
    thawed_at = time.monotonic()
    assert status == 503 and body["status"] == "failing", body
    assert states(body)["hub-api"] == "failing"
    wait_probe(hub, lambda s, b: s == 200, "the probe to answer 200 again")
    print(
        f"hub frozen: 503 after {failed_at - frozen_at:.1f} s (interval 30 s, timeout 5 s); "
        f"thawed: 200 after {time.monotonic() - thawed_at:.1f} s"
    )
