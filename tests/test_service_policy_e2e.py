"""The three services' one policy and one set of security headers, behind a real hub.

One JupyterHub per module, as a subprocess with the real proxy and the ``config``, ``usage``
and ``health`` services. ``admin`` is a hub admin (its user model says ``admin: true``);
``dora`` is not. Requests go through the proxy with tokens made through the hub's own API:
the token's scopes decide what a request may do, never the admin flag alone.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from jhub_managed.hub import HEALTH_SCOPE, SETTINGS_SCOPE, USAGE_SCOPE
from jhub_managed.services.base import SECURITY_HEADERS

from .fixtures.processes import HUB_CONFIG_PREAMBLE, Process, hub_environment
from .fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e]

PASSWORD = "policy-test-password"
USERS = {"admin": {"admin": True, "groups": []}, "dora": {"groups": []}}
HUB_CONFIG = (
    """
import json, os
from jhub_managed.hub import configure

"""
    + HUB_CONFIG_PREAMBLE
    + """c.JupyterHub.cleanup_servers = True
configure(
    c,
    hub_name="policytest",
    spawner="local",
    authenticator="demo",
    data_dir=data_dir,
    services=["config", "usage", "health"],
    idle_timeout=0,
)
# no server needs to run here: a deep check that starts one fails at once
c.Spawner.cmd = ["/bin/false"]
c.ManagedDemoAuthenticator.password = env["JHM_TEST_PASSWORD"]
c.ManagedDemoAuthenticator.demo_users = json.loads(env["JHM_TEST_USERS"])
import jupyterhub
if jupyterhub.version_info >= (6,):
    # JupyterHub 6 gives up on a service after 30 s, which a loaded test machine can take
    for service in c.JupyterHub.services:
        service["timeout"] = 180
"""
)
#: the routes each service keeps for holders of a scope: (service, method, path, scopes)
PROTECTED = [
    ("config", "GET", "api/settings", [SETTINGS_SCOPE]),
    ("config", "GET", "api/history", [SETTINGS_SCOPE]),
    ("config", "GET", "history", [SETTINGS_SCOPE]),
    ("usage", "GET", "api/report", [USAGE_SCOPE]),
    ("usage", "GET", "metrics", [USAGE_SCOPE]),
    ("usage", "GET", "report", [USAGE_SCOPE]),
    ("health", "POST", "api/deep-check", [HEALTH_SCOPE, "admin:servers"]),
]
#: what a token may carry to reach each service at all
ACCESS = [f"access:services!service={name}" for name in ("config", "usage", "health")]


@dataclass
class Hub:
    url: str
    process: Process
    tokens: dict[str, str] = field(default_factory=dict)

    def request(self, token: str, method: str, service: str, path: str) -> requests.Response:
        headers = {"Authorization": f"token {token}"} if token else {}
        return requests.request(
            method,
            f"{self.url}services/{service}/{path}",
            headers=headers,
            json={} if method == "POST" else None,
            timeout=30,
            allow_redirects=False,
        )


def make_token(hub: Hub, user: str, scopes: list[str] | None = None) -> str:
    """A token of ``user``, made on the hub's token page as a person does: with all the
    user's permissions, or with only ``scopes``."""
    session = requests.Session()
    session.get(hub.url + "hub/login", timeout=30)
    xsrf = session.cookies.get("_xsrf", path="/hub/")
    fields = {"username": user, "password": PASSWORD, "_xsrf": xsrf}
    assert session.post(hub.url + "hub/login", data=fields, timeout=30).ok
    session.get(hub.url + "hub/token", timeout=30)
    body: dict = {"note": "policy test", **({"scopes": scopes} if scopes is not None else {})}
    r = session.post(
        f"{hub.url}hub/api/users/{user}/tokens",
        json=body,
        headers={"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/")},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return r.json()["token"]


@contextlib.contextmanager
def running_hub(tmp: Path) -> Iterator[Hub]:
    data_dir = tmp / "data"
    data_dir.mkdir()
    (tmp / "jupyterhub_config.py").write_text(HUB_CONFIG)
    port, env = hub_environment(
        data_dir, JHM_TEST_PASSWORD=PASSWORD, JHM_TEST_USERS=json.dumps(USERS)
    )
    process = Process(
        [sys.executable, "-m", "jupyterhub", "-f", str(tmp / "jupyterhub_config.py")],
        tmp / "hub.log",
        env=env,
        cwd=data_dir,
    )
    hub = Hub(url=f"http://127.0.0.1:{port}/", process=process)

    def services_up() -> bool:
        assert process.popen.poll() is None, "the hub exited:\n" + process.log()[-5000:]
        try:
            # each service's own JSON answer: it runs and the proxy routes to it
            answers = [
                hub.request("", "GET", "config", "api/openapi.json"),
                hub.request("", "GET", "usage", "api/me"),
                hub.request("", "GET", "health", "api/health"),
            ]
        except requests.RequestException:
            return False
        return all(r.headers.get("content-type", "").startswith("application/") for r in answers)

    try:
        wait_until(services_up, 180, "the hub and its three services to come up")
        hub.tokens = {
            "admin": make_token(hub, "admin"),
            # the admin's own token, made with access to the services and nothing else
            "admin-limited": make_token(hub, "admin", scopes=ACCESS),
            "dora": make_token(hub, "dora"),
        }
        yield hub
    finally:
        process.stop(timeout=20)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("policy-hub")) as hub:
        yield hub


# -- one policy: the token's scopes decide ---------------------------------------------------


@pytest.mark.parametrize(("service", "method", "path", "scopes"), PROTECTED)
def test_an_admins_token_without_the_scope_is_refused(hub, service, method, path, scopes):
    """The user model says admin; the token lacks the scope: 403 naming it."""
    r = hub.request(hub.tokens["admin-limited"], method, service, path)
    assert r.status_code == 403, (r.status_code, r.text[:300])
    assert scopes[0] in r.text, r.text[:300]
    assert "Log in" not in r.text
    # and someone who is no admin, with every permission of their own, is refused the same
    r = hub.request(hub.tokens["dora"], method, service, path)
    assert r.status_code == 403, (r.status_code, r.text[:300])


@pytest.mark.parametrize(("service", "method", "path", "scopes"), PROTECTED)
def test_an_admins_token_with_the_scope_is_admitted(hub, service, method, path, scopes):
    """Hub admins hold the scopes through their role, so a token with all their
    permissions carries them."""
    r = hub.request(hub.tokens["admin"], method, service, path)
    assert r.status_code == (202 if method == "POST" else 200), (r.status_code, r.text[:300])


# -- one set of security headers -------------------------------------------------------------

#: a page, an API answer and an error of each service: (service, path, status)
ANSWERS = [
    ("config", "", 200),
    ("config", "api/history", 200),
    ("config", "api/no-such-route", 404),
    ("config", "no-such-page", 404),
    ("usage", "", 200),
    ("usage", "report", 200),
    ("usage", "api/me", 200),
    ("usage", "metrics", 200),
    ("usage", "api/no-such-route", 404),
    ("health", "", 200),
    ("health", "api/health", None),  # 200 or 503, as the checks say
    ("health", "api/deep-check", 200),
    ("health", "metrics", 200),
    ("health", "no-such-page", 404),
]


def security_headers(response: requests.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in SECURITY_HEADERS}


@pytest.mark.parametrize(("service", "path", "status"), ANSWERS)
def test_every_answer_of_every_service_has_the_same_security_headers(hub, service, path, status):
    r = hub.request(hub.tokens["admin"], "GET", service, path)
    if status is not None:
        assert r.status_code == status, (r.status_code, r.text[:300])
    assert security_headers(r) == SECURITY_HEADERS


def test_refusals_and_the_settings_api_have_them_too(hub):
    refused = hub.request(hub.tokens["dora"], "GET", "config", "api/settings")
    assert refused.status_code == 403
    assert security_headers(refused) == SECURITY_HEADERS
    # the settings API alone asks clients to check again rather than keep nothing: its ETag
    # then answers 304 when the settings did not change
    settings = hub.request(hub.tokens["admin"], "GET", "config", "api/settings")
    assert settings.status_code == 200
    assert security_headers(settings) == {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    # a body over the limit is answered by the server before any handler: the same headers
    too_large = requests.post(
        hub.url + "services/health/api/deep-check",
        data=b"x" * (5 * 1024 * 1024),
        headers={"Authorization": f"token {hub.tokens['admin']}"},
        timeout=60,
    )
    assert too_large.status_code == 413
    assert security_headers(too_large) == SECURITY_HEADERS
