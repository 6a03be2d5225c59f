"""The settings service while its store (PostgreSQL) can't be reached: the profile list
still answers (the hub waits for a service's root at start and gives up on a 5xx), showing
the last settings read and saying the store is down; other pages and every save get a clear
503 that changes nothing; the API reads from its cache. When the store is back, saving works.
"""

from __future__ import annotations

import os

import pytest

from .fixtures.config_hub import HUB_CONFIG, running_hub, service_session, xsrf_of
from .fixtures.db import DATABASE_URL_ENV
from .fixtures.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get(DATABASE_URL_ENV), reason=f"needs PostgreSQL in ${DATABASE_URL_ENV}"
    ),
]

OUTAGE_CONFIG = HUB_CONFIG.replace(
    "    data_dir=data_dir,\n", '    data_dir=data_dir,\n    db_url=env["JHM_TEST_DB_URL"],\n'
)


@pytest.fixture
def hub(tmp_path, throwaway_db):
    assert "JHM_TEST_DB_URL" in OUTAGE_CONFIG
    with running_hub(tmp_path, OUTAGE_CONFIG, JHM_TEST_DB_URL=throwaway_db.url) as hub:
        yield hub


@pytest.mark.parametrize("throwaway_db", ["postgresql"], indirect=True)
def test_with_the_store_down_pages_are_clear_saves_change_nothing(hub, throwaway_db):
    admin = service_session(hub, "admin")
    branding = admin.get(hub.service + "branding", timeout=30)
    assert branding.status_code == 200
    version, settings = hub.settings()
    form = {
        "_xsrf": xsrf_of(branding.text),
        "version": str(version),
        "organization_name": "While the store is down",
    }

    with throwaway_db.unreachable():
        root = admin.get(hub.service, timeout=60)
        assert root.status_code == 200, root.text[:2000]
        assert "jhm-store-down" in root.text and "can't be reached" in root.text
        # the last settings read are still listed
        assert 'data-profile="python"' in root.text

        history = admin.get(hub.service + "history", timeout=60)
        assert history.status_code == 503, history.text[:2000]
        assert "settings store can" in history.text and "nothing was" in history.text
        assert "Something went wrong" not in history.text

        saved = admin.post(hub.service + "branding", data=form, timeout=60, allow_redirects=False)
        assert saved.status_code == 503, saved.text[:2000]
        assert "settings store can" in saved.text and "nothing was" in saved.text

        api = hub.api("admin", "GET", "api/settings")
        assert api.status_code == 200 and api.json()["version"] == version
        put = hub.api(
            "admin", "PUT", "api/settings", json={"settings": settings},
            headers={"If-Match": f'"{version}"'},
        )  # fmt: skip
        assert put.status_code == 503, put.text
        assert "nothing was changed" in put.json()["message"]

    def store_back() -> bool:
        return "jhm-store-down" not in admin.get(hub.service, timeout=60).text

    wait_until(store_back, 120, "the service to read the store again")
    assert hub.settings()[0] == version  # nothing was saved meanwhile
    again = admin.post(hub.service + "branding", data=form, timeout=60, allow_redirects=False)
    assert again.status_code == 302, again.text[:2000]
    assert hub.settings()[1]["branding"]["organization_name"] == "While the store is down"
