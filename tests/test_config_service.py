"""The settings service behind a real hub: REST API, pages, who may use them, XSRF, escaping,
redirects, the log, and fuzzing from its own OpenAPI document.

One JupyterHub per module, as a subprocess with the real proxy and the real ``config``
service (the only service it runs, so it starts quickly), demo users with a shared password,
operator ceilings, and ``carol``: no admin, but in the ``editors`` group that holds the
settings scope (``tests/fixtures/config_hub.py``). Requests go through the proxy, as a
browser's or a script's would.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from urllib.parse import urlparse

import pytest
import requests

from jhub_managed.hub import SETTINGS_SCOPE
from jhub_managed.settings.forms import profiles as profile_forms

from .fixtures.config_hub import Hub, create_token, running_hub, service_session, xsrf_of
from .fixtures.forms import post_fields
from .fixtures.refusals import REFUSED, REFUSED_IDS
from .fixtures.waiting import wait_until

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("config-hub")) as hub:
        yield hub


# -- the REST API ---------------------------------------------------------------------------


def test_get_answers_the_resolved_settings_with_their_version_as_etag(hub):
    r = hub.api("admin", "GET", "api/settings")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"version", "settings"}
    assert r.headers["ETag"] == f'"{body["version"]}"'
    assert {p["slug"] for p in body["settings"]["profiles"]} >= {"python", "research"}
    again = hub.api("admin", "GET", "api/settings", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_a_put_without_if_match_is_refused_with_428_and_stores_nothing(hub):
    version, settings = hub.settings()
    r = hub.api("admin", "PUT", "api/settings", json={"settings": settings})
    assert r.status_code == 428
    assert "If-Match" in r.json()["message"]
    assert hub.settings()[0] == version


def test_a_put_saves_a_new_version_that_the_hub_shows_within_its_refresh_interval(hub):
    version, settings = hub.settings()
    settings = copy.deepcopy(settings)
    settings["branding"]["organization_name"] = "Institute of Testing"
    r = hub.api(
        "admin",
        "PUT",
        "api/settings",
        json={"settings": settings, "comment": "our name"},
        headers={"If-Match": f'"{version}"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == version + 1
    assert r.headers["ETag"] == f'"{version + 1}"'
    assert r.json()["settings"]["branding"]["organization_name"] == "Institute of Testing"
    # the hub's login page shows the save within its settings refresh interval: no restart
    wait_until(
        lambda: "Institute of Testing" in requests.get(hub.url + "hub/login", timeout=30).text,
        60,
        "the hub's login page to show the saved organization name",
        interval=0.5,
    )
    history = hub.api("admin", "GET", "api/history").json()
    assert history["versions"][0]["comment"] == "our name"
    assert history["versions"][0]["author"] == "admin"


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda s: s["profiles"][0]["kubespawner_override"].update(cpu_limit=16),
         "/profiles/0/kubespawner_override/cpu_limit", "ceiling of 4 CPUs"),
        (lambda s: s["profiles"][0]["kubespawner_override"].update(image="docker.io/evil:1"),
         "/profiles/0/kubespawner_override/image", "not allowed by the operator"),
        (lambda s: s["profiles"][1].update(slug="python"), "/profiles/1/slug", "already used"),
        (lambda s: s["profiles"][2]["profile_options"]["interface"].update(
            unlisted_choice={"enabled": True, "validation_regex": "(["}),
         "/profiles/2/profile_options/interface/unlisted_choice/validation_regex",
         "regular expression"),
        (lambda s: s["announcement"].update(text="x" * 5001), "/announcement/text", "long"),
        (lambda s: s["branding"].update(logo_url="javascript:alert(1)"),
         "/branding/logo_url", "does not match"),
        (lambda s: s.update(surprise=1), "", "Additional properties"),
        (lambda s: s["profiles"][0].pop("slug"), "/profiles/0", "'slug' is a required"),
    ],
    ids=["ceiling", "image", "slug", "regex", "announcement", "url", "extra-key", "required"],
)  # fmt: skip
def test_an_invalid_put_answers_400_with_every_error_and_stores_nothing(hub, change, path, words):
    version, settings = hub.settings()
    settings = copy.deepcopy(settings)
    change(settings)
    r = hub.api(
        "admin", "PUT", "api/settings", json={"settings": settings},
        headers={"If-Match": f'"{version}"'},
    )  # fmt: skip
    assert r.status_code == 400, r.text
    errors = r.json()["errors"]
    assert any(e["path"] == path and words in e["message"] for e in errors), errors
    assert hub.settings()[0] == version


def test_several_errors_are_answered_together(hub):
    version, settings = hub.settings()
    settings = copy.deepcopy(settings)
    settings["profiles"][0]["kubespawner_override"]["cpu_limit"] = 16
    settings["profiles"][1]["slug"] = "python"
    r = hub.api(
        "admin", "PUT", "api/settings", json={"settings": settings},
        headers={"If-Match": str(version)},
    )  # fmt: skip
    paths = {e["path"] for e in r.json()["errors"]}
    assert {"/profiles/0/kubespawner_override/cpu_limit", "/profiles/1/slug"} <= paths


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (b"{not json", {}, 400, "not JSON"),
        (b"[1, 2]", {}, 400, "must be a JSON object"),
        (b'{"settings": {}, "extra": 1}', {}, 400, "Unknown key"),
        (b'{"settings": [], "comment": ""}', {}, 400, "must be an object"),
        (b'{"settings": {}, "comment": 5}', {}, 400, "comment must be text"),
        (b'{"settings": {"announcement": {"text": NaN}}}', {}, 400, "NaN"),
        (b"[" * 100_000 + b"]" * 100_000, {}, 400, "not JSON"),
        (b'{"settings": {"profiles": [' + b'{"x": ' * 5000 + b"1" + b"}" * 5000 + b"]}}",
         {}, 400, ""),
        (b" " * 2_100_000, {}, 413, "larger"),
        (b'{"settings": {}}', {"If-Match": "yesterday"}, 400, "If-Match"),
    ],
    ids=["not-json", "array", "unknown-key", "settings-array", "comment", "nan", "deep",
         "deep-object", "huge", "bad-if-match"],
)  # fmt: skip
def test_bad_bodies_get_clear_errors_never_500(hub, body, headers, status, words):
    version, _ = hub.settings()
    headers = {"If-Match": f'"{version}"', "Content-Type": "application/json", **headers}
    r = hub.api("admin", "PUT", "api/settings", data=body, headers=headers)
    assert r.status_code == status, r.text[:500]
    assert words in r.json()["message"] or any(
        words in e["message"] for e in r.json().get("errors", [])
    ), r.text[:500]
    assert hub.settings()[0] == version


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_services_limit_gets_413_from_the_service_not_the_hubs_503(hub, chunked):
    """Far over the service's limit: tornado alone would drop the connection, and the proxy
    would show the hub's "Your server appears to be down" page."""
    version, _ = hub.settings()
    size = 10 * 1024 * 1024 + 1
    block = b" " * (1024 * 1024)

    def body():
        for _ in range(10):
            yield block
        yield b" "

    r = hub.api(
        "admin", "PUT", "api/settings", data=body() if chunked else b" " * size,
        headers={"If-Match": f'"{version}"', "Content-Type": "application/json"},
    )  # fmt: skip
    assert r.status_code == 413, r.text[:500]
    message = r.json()["message"]
    assert "at most 4194304 bytes (4 MB)" in message and "Nothing was changed" in message
    assert hub.settings()[0] == version
    # the service goes on answering
    assert hub.api("admin", "GET", "api/settings").status_code == 200


def test_two_editors_saving_from_the_same_version_one_200_one_409_nothing_lost(hub):
    """admin (a hub admin) and carol (in a group with the settings scope) both start from
    the same version; whoever saves second is told, and saves again without losing
    anything."""
    version, settings = hub.settings()
    changes = {
        "admin": ("organization_name", "Admin's name"),
        "carol": ("funded_by", "Carol's funder"),
    }
    responses: dict[str, requests.Response] = {}
    barrier = threading.Barrier(2)

    def save(user: str) -> None:
        document = copy.deepcopy(settings)
        key, value = changes[user]
        document["branding"][key] = value
        barrier.wait()
        responses[user] = hub.api(
            user,
            "PUT",
            "api/settings",
            json={"settings": document, "comment": f"{user}'s change"},
            headers={"If-Match": f'"{version}"'},
        )

    threads = [threading.Thread(target=save, args=(user,)) for user in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(r.status_code for r in responses.values())
    assert statuses == [200, 409], {u: r.text for u, r in responses.items()}
    loser = next(u for u, r in responses.items() if r.status_code == 409)
    winner = next(u for u in changes if u != loser)
    conflict = responses[loser].json()
    assert conflict["version"] == version + 1 and conflict["expected_version"] == version
    assert "Nothing was saved" in conflict["message"]
    # the winner's change is in force; the loser's is not, yet
    new_version, current = hub.settings()
    assert new_version == version + 1
    key, value = changes[winner]
    assert current["branding"][key] == value
    # the loser starts again from what is in force: both changes are kept
    key, value = changes[loser]
    current["branding"][key] = value
    r = hub.api(
        loser, "PUT", "api/settings", json={"settings": current},
        headers={"If-Match": responses[winner].headers["ETag"]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    final = r.json()["settings"]["branding"]
    for key, value in changes.values():
        assert final[key] == value
    authors = [v["author"] for v in hub.api("admin", "GET", "api/history").json()["versions"]]
    assert authors[:2] == [loser, winner]


def test_history_diff_and_restore_through_the_api(hub):
    version, settings = hub.settings()
    settings = copy.deepcopy(settings)
    settings["profiles"] = [p for p in settings["profiles"] if p["slug"] != "classic"]
    r = hub.api(
        "carol", "PUT", "api/settings", json={"settings": settings, "comment": "no classic"},
        headers={"If-Match": f'"{version}"'},
    )  # fmt: skip
    assert r.status_code == 200
    removed = r.json()["version"]

    detail = hub.api("admin", "GET", f"api/history/{removed}").json()
    assert detail["author"] == "carol" and detail["comment"] == "no classic"
    assert [p["slug"] for p in detail["stored"]["profiles"]] == ["python", "research"]

    diff = hub.api("admin", "GET", "api/diff", params={"from": version, "to": removed}).json()
    assert any(
        c["kind"] == "removed" and c["path"] == ["profiles", "classic"] for c in diff["changes"]
    ), diff

    r = hub.api(
        "admin", "POST", f"api/history/{version}/restore", json={"comment": "classic back"},
        headers={"If-Match": f'"{removed}"'},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    restored = r.json()
    assert restored["version"] == removed + 1 and restored["restored_from"] == version
    assert "classic" in [p["slug"] for p in restored["settings"]["profiles"]]
    # the removal is still in the history: nothing was overwritten
    history = hub.api("admin", "GET", "api/history", params={"limit": 3}).json()["versions"]
    assert [(v["version"], v["restored_from"]) for v in history[:2]] == [
        (removed + 1, version),
        (removed, None),
    ]
    # a stale restore is refused; restoring an unknown version is 404
    stale = hub.api(
        "admin", "POST", f"api/history/{version}/restore", headers={"If-Match": f'"{removed}"'}
    )
    assert stale.status_code == 409
    assert hub.api("admin", "POST", "api/history/99999/restore").status_code == 404
    assert hub.api("admin", "GET", "api/history/99999999999").status_code == 404
    assert hub.api("admin", "GET", "api/history", params={"limit": "lots"}).status_code == 400


# -- who may use it -------------------------------------------------------------------------

API_ROUTES = [
    ("GET", "api/settings"),
    ("PUT", "api/settings"),
    ("GET", "api/history"),
    ("GET", "api/history/1"),
    ("POST", "api/history/1/restore"),
    ("GET", "api/diff"),
    ("GET", "api/openapi.json"),
]
PAGE_ROUTES = [
    ("GET", ""),
    ("POST", ""),
    ("GET", "profiles"),
    ("GET", "profiles/new"),
    ("POST", "profiles/new"),
    ("GET", "profiles/edit/python"),
    ("POST", "profiles/edit/python"),
    ("GET", "announcement"),
    ("POST", "announcement"),
    ("GET", "branding"),
    ("POST", "branding"),
    ("GET", "preview"),
    ("GET", "history"),
    ("GET", "history/diff"),
    ("POST", "history/1/restore"),
]


WRITE_ROUTES = [(m, p) for m, p in API_ROUTES + PAGE_ROUTES if m != "GET"]


def refusal_of(method: str) -> str:
    """What a 403 says: reads name who may read, writes the permission the token lacks."""
    return "Only hub admins" if method == "GET" else SETTINGS_SCOPE


def test_a_non_editor_token_gets_403_on_every_route(hub):
    version, _ = hub.settings()
    for method, path in API_ROUTES + PAGE_ROUTES:
        r = hub.api(
            "bob", method, path, json={"settings": {}} if method != "GET" else None,
            headers={"If-Match": f'"{version}"'},
        )  # fmt: skip
        assert r.status_code == 403, (method, path, r.status_code)
        assert refusal_of(method) in r.text, (method, path, r.text[:300])
    # alice too, though she may use a restricted profile
    assert hub.api("alice", "GET", "api/settings").status_code == 403
    assert hub.settings()[0] == version


def test_a_non_editor_browser_session_gets_403_on_every_route(hub):
    version, _ = hub.settings()
    bob = service_session(hub, "bob")
    page = bob.get(hub.service, timeout=30)
    assert page.status_code == 403
    assert "Only hub admins" in page.text
    xsrf = bob.cookies.get("_xsrf", path="/services/config/") or ""
    for method, path in API_ROUTES + PAGE_ROUTES:
        r = bob.request(
            method,
            hub.service + path,
            data={"_xsrf": xsrf, "version": str(version), "do": "save"},
            headers={"X-XSRFToken": xsrf, "If-Match": f'"{version}"'},
            timeout=30,
            allow_redirects=False,
        )
        assert r.status_code == 403, (method, path, r.status_code)
        # refused for who bob is, not for a missing XSRF token
        assert refusal_of(method) in r.text, (method, path)
    assert hub.settings()[0] == version


def write_request(hub: Hub, token: str, method: str, path: str, version: int):
    """A write to ``path`` with ``token``: the API's JSON or a form's fields."""
    headers = {"Authorization": f"token {token}", "If-Match": f'"{version}"'}
    if path.startswith("api/"):
        body = {"settings": hub.settings()[1]} if method == "PUT" else {}
        return requests.request(
            method, hub.service + path, json=body, headers=headers, timeout=30,
            allow_redirects=False,
        )  # fmt: skip
    fields = {"version": str(version), "do": "save", "organization_name": "By token"}
    return requests.request(
        method, hub.service + path, data=fields, headers=headers, timeout=30,
        allow_redirects=False,
    )  # fmt: skip


def test_an_admins_token_without_the_settings_scope_gets_403_on_every_write(hub):
    """The token decides, not the user model's admin flag."""
    limited = create_token(hub, "admin", scopes=["access:services!service=config"])
    version, _ = hub.settings()
    for method, path in WRITE_ROUTES:
        r = write_request(hub, limited, method, path, version)
        assert r.status_code == 403, (method, path, r.status_code, r.text[:300])
        assert SETTINGS_SCOPE in r.text, (method, path, r.text[:300])
        assert "Log in" not in r.text
    assert hub.settings()[0] == version


def test_an_admins_token_with_the_settings_scope_writes(hub):
    token = create_token(hub, "admin", scopes=[SETTINGS_SCOPE, "access:services!service=config"])
    version, _ = hub.settings()
    r = write_request(hub, token, "PUT", "api/settings", version)
    assert r.status_code == 200, r.text
    r = write_request(hub, token, "POST", f"api/history/{version}/restore", version + 1)
    assert r.status_code == 200, r.text
    r = write_request(hub, token, "POST", "branding", version + 2)
    assert r.status_code == 302, r.text[:500]
    assert hub.settings()[0] == version + 3
    assert hub.settings()[1]["branding"]["organization_name"] == "By token"


def test_a_token_that_may_not_use_the_service_is_told_which_permission(hub):
    token = create_token(hub, "admin", scopes=["read:users:name!user=admin"])
    r = requests.get(
        hub.service + "api/settings", headers={"Authorization": f"token {token}"}, timeout=30
    )
    assert r.status_code == 403
    assert "'access:services!service=config'" in r.json()["message"]
    assert "Log in" not in r.json()["message"]


def test_a_member_of_a_settings_editor_group_may_use_the_pages(hub):
    """carol is no admin; her group's role gives her the settings scope, which the hub puts
    on the service's OAuth token."""
    carol = service_session(hub, "carol")
    page = carol.get(hub.service + "branding", timeout=30)
    assert page.status_code == 200
    version, _ = hub.settings()
    r = carol.post(
        hub.service + "branding",
        data={
            "_xsrf": xsrf_of(page.text),
            "version": str(version),
            "organization_name": "Carol's institute",
            "comment": "from the page",
        },
        allow_redirects=False,
    )
    assert r.status_code == 302
    latest = hub.api("admin", "GET", "api/history", params={"limit": 1}).json()["versions"][0]
    assert (latest["author"], latest["comment"]) == ("carol", "from the page")


def test_without_login_pages_send_you_to_log_in_and_the_api_refuses(hub):
    r = requests.get(hub.service + "branding", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]
    r = requests.get(hub.service + "api/settings", timeout=30)
    assert r.status_code == 403 and "Log in" in r.json()["message"]


def test_a_form_post_without_xsrf_is_refused_and_stores_nothing(hub):
    version, _ = hub.settings()
    admin = service_session(hub, "admin")
    page = admin.get(hub.service + "branding", timeout=30)
    assert page.status_code == 200
    form = {"version": str(version), "organization_name": "Forged", "do": "save"}
    for headers in ({}, {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Site": "cross-site"}):
        r = admin.post(hub.service + "branding", data=form, headers=headers, allow_redirects=False)
        assert r.status_code == 403, r.status_code
        assert "XSRF" in r.text
        # the refusal page still names who is logged in (read from the login cookie)
        assert '<span class="me-1">admin</span>' in r.text
    wrong = admin.post(
        hub.service + "branding",
        data={**form, "_xsrf": "2|forged|token"},
        allow_redirects=False,
    )
    assert wrong.status_code == 403
    # the API with the cookie alone is not accepted either
    put = admin.put(
        hub.service + "api/settings",
        json={"settings": {"branding": {"organization_name": "Forged"}}},
        headers={"If-Match": "*"},
        allow_redirects=False,
    )
    assert put.status_code == 403
    assert hub.settings()[0] == version
    assert hub.settings()[1]["branding"]["organization_name"] != "Forged"
    # with its token, the same form saves
    ok = admin.post(
        hub.service + "branding",
        data={**form, "organization_name": "Not forged", "_xsrf": xsrf_of(page.text)},
        allow_redirects=False,
    )
    assert ok.status_code == 302, ok.text[:2000]
    assert hub.settings()[1]["branding"]["organization_name"] == "Not forged"


# -- the pages ------------------------------------------------------------------------------


def test_a_refused_profile_form_shows_errors_next_to_fields_and_stores_nothing(hub):
    version, _ = hub.settings()
    admin = service_session(hub, "admin")
    page = admin.get(hub.service + "profiles/edit/research", timeout=30)
    assert page.status_code == 200
    assert "Operator ceiling: at most 4 CPUs" in page.text
    # the hub's groups are suggested, read with the service's own token
    assert 'data-group="editors"' in page.text and 'data-group="researchers"' in page.text
    form = {
        "_xsrf": xsrf_of(page.text),
        "version": str(version),
        "display_name": "Research environment",
        "slug": "research",
        "cpu_limit": "64",
        "mem_limit": "4",
        "o-count": "0",
        "do": "save",
    }
    r = admin.post(hub.service + "profiles/edit/research", data=form, allow_redirects=False)
    assert r.status_code == 400
    assert re.search(r'data-field="mem_limit">\s*say which unit', r.text), r.text
    form["mem_limit"] = "4G"
    r = admin.post(hub.service + "profiles/edit/research", data=form, allow_redirects=False)
    assert r.status_code == 400
    assert re.search(r'data-field="cpu_limit">\s*64 CPUs is above the operator', r.text)
    assert 'value="64"' in r.text  # what was typed is still there
    assert hub.settings()[0] == version


def test_a_profile_form_from_a_stale_version_keeps_both_editors_changes(hub):
    version, settings = hub.settings()
    admin = service_session(hub, "admin")
    page = admin.get(hub.service + "profiles/edit/python", timeout=30)
    python = next(p for p in settings["profiles"] if p["slug"] == "python")
    view = profile_forms.profile_to_view(python)
    view.update(display_name="Python 3", description="Words of the admin")
    form = {**post_fields(view), "_xsrf": xsrf_of(page.text), "version": str(version)}
    # meanwhile carol changes the same profile's description, and the branding
    document = copy.deepcopy(settings)
    next(p for p in document["profiles"] if p["slug"] == "python")["description"] = "Carol words"
    document["branding"]["contact"] = "carol@example.org"
    r = hub.api(
        "carol", "PUT", "api/settings", json={"settings": document},
        headers={"If-Match": f'"{version}"'},
    )  # fmt: skip
    assert r.status_code == 200
    r = admin.post(hub.service + "profiles/edit/python", data=form, allow_redirects=False)
    assert r.status_code == 409
    assert "the settings changed while you were editing" in r.text
    assert 'value="Python 3"' in r.text and "Words of the admin" in r.text
    assert re.search(
        r'data-field="description">\s*Also changed meanwhile, to “Carol words”', r.text
    )
    assert f'name="version" value="{version + 1}"' in r.text
    # saving the form again applies the admin's change on top of carol's
    form["version"] = str(version + 1)
    r = admin.post(hub.service + "profiles/edit/python", data=form, allow_redirects=False)
    assert r.status_code == 302
    _, now = hub.settings()
    assert now["branding"]["contact"] == "carol@example.org"
    python = next(p for p in now["profiles"] if p["slug"] == "python")
    assert (python["display_name"], python["description"]) == ("Python 3", "Words of the admin")


def test_next_cannot_send_anyone_to_another_site(hub):
    version, _ = hub.settings()
    admin = service_session(hub, "admin")
    evil = "//evil.example/services/config/"
    page = admin.get(hub.service + "profiles/edit/classic", params={"next": evil}, timeout=30)
    assert "evil.example" not in page.text
    form = {
        "_xsrf": xsrf_of(page.text),
        "version": str(version),
        "display_name": "Classic notebook",
        "slug": "classic",
        "o-count": "0",
        "do": "save",
    }
    for target in (evil, "https://evil.example/", "/\\evil.example", "/hub/logout"):
        r = admin.post(
            hub.service + "profiles/edit/classic", data={**form, "next": target},
            allow_redirects=False,
        )  # fmt: skip
        assert r.status_code == 302, r.text[:1000]
        location = urlparse(r.headers["Location"])
        assert not location.netloc and location.path.startswith("/services/config/")
        form["version"] = re.search(r"saved=(\d+)", r.headers["Location"])[1]
    r = admin.post(
        hub.service + "profiles/edit/classic",
        data={**form, "next": "/services/config/preview?group=researchers"},
        allow_redirects=False,
    )
    assert r.headers["Location"].startswith("/services/config/preview?group=researchers&saved=")


def test_unknown_profiles_and_versions_are_404_with_a_clear_page(hub):
    admin = service_session(hub, "admin")
    r = admin.get(hub.service + "profiles/new", params={"copy_of": "%s %d <b>"}, timeout=30)
    assert r.status_code == 404
    assert "There is no profile &#39;%s %d &lt;b&gt;&#39; to copy." in r.text
    assert admin.get(hub.service + "profiles/edit/nope", timeout=30).status_code == 404
    assert admin.get(hub.service + "history/diff?to=999999", timeout=30).status_code == 404
    assert admin.get(hub.service + "history/diff?to=abc", timeout=30).status_code == 400


XSS = '<img src=x onerror="alert(1)">'


# -- what hub admins may put in a profile (the table is in test_allowlist.py) ---------------

#: the key this test hub's operator allows its admins (hub_admin_override_keys)
WIDENED = "lifecycle_hooks"


def lab_profile(key: str, value, slug: str) -> dict:
    return {
        "display_name": "Lab",
        "slug": slug,
        "kubespawner_override": {"image": ALLOWED_IMAGE, "cpu_limit": 2, key: value},
    }


ALLOWED_IMAGE = "quay.io/jupyter/minimal-notebook:2025-01-06"


@pytest.mark.parametrize(("key", "value", "pointer"), [r[1:] for r in REFUSED], ids=REFUSED_IDS)
def test_a_hub_admin_put_of_a_key_outside_the_list_is_400_and_stores_nothing(
    hub, key, value, pointer
):
    version, settings = hub.settings()
    settings = copy.deepcopy(settings)
    index = len(settings["profiles"])
    settings["profiles"].append(lab_profile(key, value, f"lab-api-{index}"))
    r = hub.api(
        "admin", "PUT", "api/settings", json={"settings": settings},
        headers={"If-Match": f'"{version}"'},
    )  # fmt: skip
    if key == WIDENED:
        assert r.status_code == 200, r.text
        return
    assert r.status_code == 400, r.text
    errors = {e["path"]: e["message"] for e in r.json()["errors"]}
    path = f"/profiles/{index}/kubespawner_override{pointer}"
    assert path in errors, errors
    name = pointer.rsplit("/", 1)[1].replace("~1", "/")
    assert f"'{name}'" in errors[path] and "operator" in errors[path]
    assert hub.settings()[0] == version


@pytest.mark.parametrize(("key", "value", "pointer"), [r[1:] for r in REFUSED], ids=REFUSED_IDS)
def test_a_hub_admin_form_post_of_a_key_outside_the_list_is_400_and_stores_nothing(
    hub, key, value, pointer
):
    version, _ = hub.settings()
    admin = service_session(hub, "admin")
    page = admin.get(hub.service + "profiles/new", timeout=30)
    assert page.status_code == 200
    slug = f"lab-form-{version}"
    form = {
        "_xsrf": xsrf_of(page.text),
        "version": str(version),
        "display_name": "Lab",
        "slug": slug,
        "image": ALLOWED_IMAGE,
        "cpu_limit": "2",
        "extra": json.dumps({key: value}),
        "o-count": "0",
        "do": "save",
    }
    r = admin.post(hub.service + "profiles/new", data=form, allow_redirects=False)
    if key == WIDENED:
        assert r.status_code == 302, r.text[:2000]
        return
    assert r.status_code == 400, r.text[:2000]
    name = pointer.rsplit("/", 1)[1].replace("~1", "/")
    # next to the field it was typed in, naming it and who can allow it
    field = {
        "extra_resource_limits": "gpu_limit",
        "extra_resource_guarantees": "gpu_guarantee",
        # environment variables have a field of their own, even when typed in the JSON box
        "environment": "environment",
    }
    field = field.get(key, "extra")
    shown = re.search(rf'data-field="{field}">\s*([^<]*)', r.text)
    assert shown, r.text[:3000]
    assert f"&#39;{name}&#39;" in shown[1] and "operator" in shown[1], shown[1]
    assert hub.settings()[0] == version
    assert slug not in {p["slug"] for p in hub.settings()[1]["profiles"]}


def test_a_profile_written_into_the_store_with_a_refused_key_is_flagged_on_the_list(hub):
    """Such a version can't come through the service; the spawner leaves the profile out,
    and the profile list says so and why."""
    from jhub_managed.store import SettingsStore

    version, settings = hub.settings()
    settings = copy.deepcopy(settings)
    settings["profiles"].append(lab_profile("privileged", True, "rooted"))
    store = SettingsStore("sqlite:///" + str(hub.data_dir / "jhub-managed.sqlite"))
    try:
        store.save(settings, author="db", expected_version=version)
    finally:
        store.dispose()
    admin = service_session(hub, "admin")
    page = admin.get(hub.service, timeout=30)
    assert page.status_code == 200
    card = page.text.split('data-profile="rooted"', 1)[1].split("</li>", 1)[0]
    assert "Users are not offered this profile" in card
    assert "&#39;privileged&#39; is not among the settings hub admins may give" in card
    # the other profiles are not flagged
    assert page.text.count("jhm-not-offered") == 1
    # an edit that keeps the key is refused; the hub admin's way out is to remove it
    r = hub.api(
        "admin", "PUT", "api/settings", json={"settings": settings},
        headers={"If-Match": f'"{version + 1}"'},
    )  # fmt: skip
    assert r.status_code == 400
    settings["profiles"].pop()
    r = hub.api(
        "admin", "PUT", "api/settings", json={"settings": settings},
        headers={"If-Match": f'"{version + 1}"'},
    )  # fmt: skip
    assert r.status_code == 200, r.text


def test_html_in_settings_is_escaped_or_sanitised_wherever_it_is_shown(hub):
    version, settings = hub.settings()
    settings = copy.deepcopy(settings)
    python = next(p for p in settings["profiles"] if p["slug"] == "python")
    python["display_name"] = f"Py {XSS}"
    python["description"] = f"<script>alert(2)</script>{XSS}"
    python["allowed_groups"] = []
    research = next(p for p in settings["profiles"] if p["slug"] == "research")
    research["profile_options"]["interface"]["choices"]["lab"]["display_name"] = f"Lab {XSS}"
    settings["announcement"] = {
        "text": f"Hello {XSS} <script>alert(3)</script> [click](javascript:alert(4))",
        "show_on": ["login", "home", "spawn"],
    }
    settings["branding"].update(organization_name=f"Org {XSS}", funded_by=XSS, contact=XSS)
    r = hub.api(
        "admin", "PUT", "api/settings", json={"settings": settings, "comment": XSS},
        headers={"If-Match": f'"{version}"'},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    new = r.json()["version"]
    admin = service_session(hub, "admin")
    # the hub uses a save within its settings refresh interval
    wait_until(
        lambda: "Hello" in requests.get(hub.url + "hub/login", timeout=30).text,
        60,
        "the hub to show the saved announcement",
        interval=0.5,
    )
    pages = {
        "login": requests.get(hub.url + "hub/login", timeout=30).text,
        "home": admin.get(hub.url + "hub/home", timeout=30).text,
        "spawn": admin.get(hub.url + "hub/spawn", timeout=30).text,
    }
    for path in (
        "",
        "profiles/edit/python",
        "profiles/edit/research",
        "announcement",
        "branding",
        "preview",
        "history",
        f"history/diff?from={version}&to={new}",
    ):
        pages[path] = admin.get(hub.service + path, timeout=30).text
    for name, html in pages.items():
        assert XSS not in html, name
        assert "<script>alert" not in html, name
        assert 'href="javascript:' not in html, name
    assert "&lt;img src=x" in pages["branding"] and "&lt;img src=x" in pages[""]
    assert "Hello" in pages["login"] and "Hello" in pages["home"] and "Hello" in pages["spawn"]
    assert "Org &lt;img" in pages["login"]


def test_every_change_is_in_the_service_log_with_author_and_version(hub):
    version, settings = hub.settings()
    r = hub.api(
        "carol", "PUT", "api/settings", json={"settings": settings, "comment": "log me"},
        headers={"If-Match": f'"{version}"'},
    )  # fmt: skip
    assert r.status_code == 200

    def logged() -> dict | None:
        for line in hub.process.log().splitlines():
            if line.startswith("{") and '"settings.saved"' in line:
                entry = json.loads(line)
                if entry.get("version") == version + 1:
                    return entry
        return None

    wait_until(lambda: logged() is not None, 10, "the save to reach the hub's log")
    entry = logged()
    assert entry["author"] == "carol" and entry["comment"] == "log me"
    assert entry["logger"] == "jhub_managed.services.config"


# -- fuzzing from the OpenAPI document ------------------------------------------------------

import schemathesis  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jhub_managed.services.config.openapi import openapi_document  # noqa: E402

# the document the service serves (checked against the live one below); loaded here so that
# pytest collects one test per operation
API_SCHEMA = schemathesis.openapi.from_dict(openapi_document("/services/config/"))
# Header values with control characters are not HTTP: the proxy and Tornado's parser refuse
# them with an empty 400 before any handler runs, so the fuzzer keeps header values printable
# (bodies, paths and queries are still fuzzed with anything).
API_SCHEMA.config.generation.update(
    exclude_header_characters="".join(map(chr, [*range(9), *range(10, 32), 127]))
)


def test_the_service_serves_the_openapi_document_the_fuzzer_uses(hub):
    r = hub.api("admin", "GET", "api/openapi.json")
    assert r.status_code == 200
    assert r.json() == API_SCHEMA.raw_schema


@API_SCHEMA.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_fuzzing_the_api_from_its_openapi_document_finds_no_server_errors(case, hub):
    case.call_and_validate(
        base_url=hub.service.rstrip("/"),
        headers={"Authorization": f"token {hub.tokens['admin']}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        timeout=30,
    )
