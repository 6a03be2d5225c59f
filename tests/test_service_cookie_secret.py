"""Each service's cookie secret is the same after a restart, so a restart logs no one out."""

from __future__ import annotations

import json
import os
import stat

import pytest
from tornado.web import create_signed_value, decode_signed_value

from jhub_managed.services.base import ServiceApp
from jhub_managed.services.cookies import CookieSecretError, cookie_secret_for


class PlainService(ServiceApp):
    service_name = "plain"

    def handlers(self):
        return []


def started_service(monkeypatch, data_dir, cls=PlainService):
    """A service application as the hub starts it (its environment), built to serve."""
    monkeypatch.setenv(
        "JHUB_MANAGED_CONFIG", json.dumps({"db_url": "sqlite://", "data_dir": str(data_dir)})
    )
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "test-token")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/plain/")
    cls.clear_instance()
    service = cls()
    return service.make_app()


def test_a_cookie_signed_before_a_restart_is_read_after_it(monkeypatch, tmp_path):
    before = started_service(monkeypatch, tmp_path)
    cookie = create_signed_value(before.settings["cookie_secret"], "jupyterhub-session", "x")
    after = started_service(monkeypatch, tmp_path)  # the service started again
    assert decode_signed_value(after.settings["cookie_secret"], "jupyterhub-session", cookie)
    # a fresh data directory (another hub) does not accept it
    (tmp_path / "other-hub").mkdir()
    other = started_service(monkeypatch, tmp_path / "other-hub")
    assert not decode_signed_value(other.settings["cookie_secret"], "jupyterhub-session", cookie)


def test_the_secret_file_is_made_once_and_readable_by_its_owner_only(tmp_path):
    first = cookie_secret_for("config", str(tmp_path), environ={})
    path = tmp_path / "jhub-managed-config-cookie-secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert cookie_secret_for("config", str(tmp_path), environ={}) == first
    # each service has its own
    assert cookie_secret_for("usage", str(tmp_path), environ={}) != first
    assert len(first) >= 32


def test_the_secret_from_the_hubs_environment_differs_per_service(tmp_path):
    environ = {"JHUB_MANAGED_COOKIE_SECRET": "ab" * 32}
    config = cookie_secret_for("config", str(tmp_path), environ=environ)
    assert config == cookie_secret_for("config", str(tmp_path / "elsewhere"), environ=environ)
    assert config != cookie_secret_for("usage", str(tmp_path), environ=environ)
    assert not list(tmp_path.iterdir())  # no file made


@pytest.mark.parametrize(
    ("value", "message"),
    [("not hex", "must be hexadecimal"), ("abcd", "at least 32 are needed")],
)
def test_a_wrong_secret_in_the_environment_is_a_clear_error(tmp_path, value, message):
    with pytest.raises(CookieSecretError, match=message):
        cookie_secret_for("config", str(tmp_path), environ={"JHUB_MANAGED_COOKIE_SECRET": value})


def test_a_damaged_secret_file_is_a_clear_error(tmp_path):
    (tmp_path / "jhub-managed-config-cookie-secret").write_text("short")
    with pytest.raises(CookieSecretError, match="remove it to have a new one made"):
        cookie_secret_for("config", str(tmp_path), environ={})
