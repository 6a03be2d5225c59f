"""The usage pages when the hub's API or the store can't be read: a page that says so, never
a 500. A real usage service app with a real store; its hub API address is a port nobody
listens on."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import text
from tornado import web
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer

from jhub_managed.services.usage import pages
from jhub_managed.services.usage.app import UsageService
from jhub_managed.store import create_engine_for, upgrade
from jhub_managed.store.attribution import attribute
from jhub_managed.store.usage import SessionFacts, UsageRecorder

from .fixtures.processes import free_port
from .fixtures.waiting import wait_until


class AsAnn:
    """The logged-in user, as HubOAuth would give her (the hub is not there to ask)."""

    def get_current_user(self):
        return {"name": "ann", "admin": False, "groups": ["physics"], "scopes": ["self"]}


class AnnsPage(AsAnn, pages.MyUsagePage):
    pass


class ReadersReport(pages.ReportPage):
    def get_current_user(self):
        scope = "custom:jhub-managed:usage-reports"
        return {"name": "rita", "admin": False, "groups": [], "scopes": ["self", scope]}


@pytest.fixture
async def usage_app(tmp_path, monkeypatch):
    db_url = f"sqlite:///{tmp_path / 'usage.sqlite'}"
    config = {"db_url": db_url, "usage_budgets": {"physics": {"server_hours": 10}}}
    monkeypatch.setenv("JHUB_MANAGED_CONFIG", json.dumps(config))
    monkeypatch.setenv("JUPYTERHUB_API_URL", f"http://127.0.0.1:{free_port()}/hub/api")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "not-a-real-token")
    service = UsageService()
    service.init_logging()
    service.init_jinja()
    service.init_service()
    engine = create_engine_for(db_url)
    upgrade(engine)
    yield service, engine
    engine.dispose()
    service.readers.shutdown(wait=True)
    service.engine.dispose()


async def serve(service, handler, path=""):
    app = web.Application(
        [("/services/usage/" + path, handler, service.page_kwargs())],
        service_app=service,
        cookie_secret="x" * 32,
    )
    server = HTTPServer(app)
    port = free_port()
    server.listen(port, "127.0.0.1")
    return server, f"http://127.0.0.1:{port}/services/usage/{path}"


async def test_the_own_page_without_the_hub_still_shows_the_figures(usage_app):
    service, engine = usage_app
    now = time.time()
    facts = SessionFacts("ann", "", now - 7200, attribute("ann", ["physics"]), ["physics"])
    UsageRecorder(engine).record_start(facts)
    UsageRecorder(engine).record_stop(facts, now - 3600)
    server, url = await serve(service, AnnsPage)
    try:
        response = await AsyncHTTPClient().fetch(url, raise_error=False)
    finally:
        server.stop()
    body = response.body.decode()
    assert response.code == 200, body
    assert "The hub did not answer" in body
    assert 'data-figure="server_hours">1.00<' in body
    assert 'data-group="physics"' in body


async def test_a_store_that_cannot_be_read_gives_pages_that_say_so(usage_app):
    service, engine = usage_app
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE jhm_usage_sessions"))
    server, url = await serve(service, AnnsPage)
    report_server, report_url = await serve(service, ReadersReport, "report")
    try:
        own = await AsyncHTTPClient().fetch(url, raise_error=False)
        report = await AsyncHTTPClient().fetch(report_url, raise_error=False)
    finally:
        server.stop()
        report_server.stop()
    # the service's root answers 200 whatever happens (the hub checks it at start)
    assert own.code == 200
    assert "The usage figures can&#39;t be read right now" in own.body.decode()
    assert report.code == 503
    body = report.body.decode()
    assert "The usage figures can&#39;t be read right now" in body
    assert 'name="start"' in body  # the form stays, to try again


def test_a_store_unreachable_at_start_does_not_stop_the_service(tmp_path):
    """The hub asks a service's root when it starts: with its store unreachable, the usage
    service stays up, its root answers (the login redirect, no 5xx), and it says it will
    try the store again."""
    import http.client
    import os
    import subprocess
    import sys

    from jhub_managed.hub import CONFIG_ENV

    store = f"postgresql+psycopg://nobody:nothing@127.0.0.1:{free_port()}/gone"
    env = dict(
        os.environ,
        JUPYTERHUB_API_TOKEN="not-a-real-token",
        JUPYTERHUB_API_URL=f"http://127.0.0.1:{free_port()}/hub/api",
        **{CONFIG_ENV: json.dumps({"data_dir": str(tmp_path), "db_url": store})},
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "jhub_managed.services.usage", "--ip=127.0.0.1", f"--port={port}"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def answer() -> int | None:
            if process.poll() is not None:
                return -1  # it exited: stop waiting, say why below
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("GET", "/services/usage/")
                return connection.getresponse().status
            finally:
                connection.close()

        status = wait_until(answer, 60, "the service to answer", interval=0.2, ignore=OSError)
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert status == 302
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert "The usage store can't be reached" in err
