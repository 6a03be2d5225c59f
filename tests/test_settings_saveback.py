"""Hub admins save back what they are served, on a hub whose operator wrote its profile list
as real fleets write theirs.

One JupyterHub per module, as a subprocess with the real proxy and the real ``config``
service, configured as a zero-to-jupyterhub hub that switched to the managed spawner: its
``singleuser.profileList`` (``c.KubeSpawner.profile_list``) carries keys KubeSpawner does not
read (jupyterhub-fancy-profiles' and others), ``null`` limits and guarantees, ``default`` and
``enabled`` written as text and slugs derived from long names; ``operator_defaults`` adds an
announcement and branding; a ceiling bounds memory limits. A hub admin gets the document
(``GET /api/settings``) and puts it back (``PUT`` with ``If-Match``), unchanged or with one
field edited, and through the settings pages' forms as a browser posts them. Bad input from a
hub admin still gets 400 and changes nothing.
"""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser

import pytest
import requests

from .fixtures.config_hub import DEMO_LOGINS, Hub, running_hub, service_session
from .fixtures.processes import HUB_CONFIG_PREAMBLE
from .fixtures.profile_lists import COURSE_WITH_NOTES, FANCY_IMAGE_PICKER, GPU_AND_DATA
from .upstream.compare import THROWAWAY_KUBECONFIG

pytestmark = [pytest.mark.e2e]

HUB_CONFIG = (
    """
import json, os, sys
from jhub_managed.hub import configure

"""
    + HUB_CONFIG_PREAMBLE
    + """c.JupyterHub.cleanup_servers = True
# zero-to-jupyterhub's singleuser.profileList, as its jupyterhub_config.py sets it
c.KubeSpawner.profile_list = json.loads(env["JHM_TEST_PROFILE_LIST"])
configure(
    c,
    hub_name="saveback",
    spawner="kube",
    authenticator="demo",
    data_dir=data_dir,
    operator_defaults=json.loads(env["JHM_TEST_OPERATOR_DEFAULTS"]),
    ceilings=json.loads(env["JHM_TEST_OPERATOR_CEILINGS"]),
    services=["config"],
    idle_timeout=0,
    settings_refresh_interval=0.5,
)
"""
    + DEMO_LOGINS
)


def _operator_profiles() -> list[dict]:
    """The fleet-shaped lists as one list, with memory limits under the hub's ceiling (a
    ``null`` memory limit would be over it: the operator's own lists keep to the ceilings);
    CPU limits and guarantees stay ``null`` where the lists have them."""
    profiles = copy.deepcopy([*GPU_AND_DATA, *COURSE_WITH_NOTES, *FANCY_IMAGE_PICKER])
    profiles[0]["kubespawner_override"]["mem_limit"] = "8G"
    picker = profiles[-1]["profile_options"]["requests"]["choices"]
    picker["mem_29_7"]["kubespawner_override"]["mem_limit"] = "32G"
    return profiles


OPERATOR_PROFILES = _operator_profiles()
OPERATOR_DEFAULTS = {
    "announcement": {"text": "Welcome to the course hub.", "level": "info"},
    "branding": {"organization_name": "Example University", "contact": "help@example.org"},
}
CEILINGS = {"mem_limit": "64G", "gpu_limit": 1}
#: the slug KubeSpawner derives from the GPU profile's long display name
GPU = (
    "gpu-nvidia-t4-with-4-cpus-and-16-gb-of-memory-for-the-machine-learning-courses-of-the-"
    "spring-term"
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("saveback-hub")
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(THROWAWAY_KUBECONFIG)  # nothing spawns here
    with running_hub(
        tmp,
        HUB_CONFIG,
        JHM_TEST_PROFILE_LIST=json.dumps(OPERATOR_PROFILES),
        JHM_TEST_OPERATOR_DEFAULTS=json.dumps(OPERATOR_DEFAULTS),
        JHM_TEST_OPERATOR_CEILINGS=json.dumps(CEILINGS),
        KUBECONFIG=str(kubeconfig),
    ) as hub:
        yield hub


def served(hub: Hub) -> tuple[str, dict]:
    r = hub.api("admin", "GET", "api/settings")
    assert r.status_code == 200, r.text
    return r.headers["ETag"], r.json()["settings"]


def put(hub: Hub, etag: str, settings: dict, user: str = "admin") -> requests.Response:
    return hub.api(
        user, "PUT", "api/settings", json={"settings": settings}, headers={"If-Match": etag}
    )


def profile(settings: dict, slug: str) -> dict:
    return next(p for p in settings["profiles"] if p["slug"] == slug)


def fresh(hub: Hub) -> tuple[str, dict]:
    """The deployment's settings in force again (a restore of version 0: a new version),
    served: each case starts from what the operator wrote."""
    etag, _ = served(hub)
    r = hub.api("admin", "POST", "api/history/0/restore", headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    return served(hub)


# -- the document served ----------------------------------------------------------------------


def test_the_operators_keys_and_values_are_served_as_written(hub):
    _, settings = served(hub)
    assert [p["slug"] for p in settings["profiles"]] == [
        "cpu-only",
        GPU,
        "data-science-with-the-shared-datasets",
        "course",
        "staff",
        "only-choice",
    ]
    course = profile(settings, "course")
    assert course["x-priority"] == 10 and course["tags"] == ["teaching", "intro"]
    assert course["default"] == "true"
    image = course["profile_options"]["image"]
    assert image["x-help-url"] == "https://docs.example.org/images"
    assert image["choices"]["nightly"]["x-badge"] == "experimental"
    assert image["unlisted_choice"]["enabled"] == "true"
    picker = profile(settings, "only-choice")["profile_options"]["image"]
    assert picker["dynamic_image_building"] == {"enabled": True}
    assert picker["choices"]["pangeo"]["slug"] == "pangeo"
    assert picker["unlisted_choice"]["description_in_choices"].startswith("Use a public image")
    cpu = profile(settings, "cpu-only")["kubespawner_override"]
    assert cpu["cpu_limit"] is None and cpu["mem_guarantee"] == "2G"
    staff = profile(settings, "staff")["kubespawner_override"]
    assert staff["cpu_guarantee"] is None and staff["mem_guarantee"] is None
    assert settings["announcement"]["text"] == "Welcome to the course hub."


def test_the_hub_named_the_keys_kubespawner_does_not_read_once(hub):
    warnings = [
        line for line in hub.process.log().splitlines() if "KubeSpawner does not read" in line
    ]
    assert len(warnings) == 1, warnings
    for entry, key in [
        ("profile", "x-priority"),
        ("profile", "tags"),
        ("profile option", "dynamic_image_building"),
        ("choice", "slug"),
        ("choice", "x-badge"),
        ("unlisted choice", "description_in_choices"),
        ("unlisted choice", "x-placeholder"),
    ]:
        assert re.search(rf"{entry}: [^;]*\b{re.escape(key)}\b", warnings[0]), (key, warnings)
    assert warnings[0].count("x-badge") == 1  # once, though two choices carry it


# -- saving back through the API --------------------------------------------------------------


def _unchanged(settings):
    pass


def _announcement(settings):
    settings["announcement"]["text"] = "The hub is down on Friday from 8 to 9."


def _branding(settings):
    settings["branding"]["organization_name"] = "Example University, Physics"


def _description(settings):
    profile(settings, "course")["description"] = "The course's own environment."


def _choice_name(settings):
    choices = profile(settings, "only-choice")["profile_options"]["image"]["choices"]
    choices["pangeo"]["display_name"] = "Pangeo (Dask, Xarray)"


def _descriptive_key(settings):
    unlisted = profile(settings, "only-choice")["profile_options"]["image"]["unlisted_choice"]
    unlisted["description_in_choices"] = "Any public image, with its tag"


def _add_descriptive_keys(settings):
    course = profile(settings, "course")["profile_options"]["image"]
    course["dynamic_image_building"] = {"enabled": False}
    course["choices"]["stable"]["slug"] = "stable"
    course["unlisted_choice"]["description"] = "A tag of the course image"


def _reorder(settings):
    settings["profiles"].reverse()


def _delete(settings):
    settings["profiles"] = [p for p in settings["profiles"] if p["slug"] != "staff"]


def _default(settings):
    for p in settings["profiles"]:
        p.pop("default", None)
    profile(settings, GPU)["default"] = True


def _null_guarantee(settings):
    profile(settings, "cpu-only")["kubespawner_override"]["mem_guarantee"] = None


def _own_profile_with_null_cpu_limit(settings):
    settings["profiles"].append(
        {
            "display_name": "Unbounded CPU",
            "slug": "unbounded-cpu",
            "kubespawner_override": {"cpu_limit": None, "mem_limit": "4G"},
        }
    )


SAVE_BACKS = {
    "unchanged": _unchanged,
    "announcement": _announcement,
    "branding": _branding,
    "profile-description": _description,
    "choice-name": _choice_name,
    "descriptive-key-edited": _descriptive_key,
    "descriptive-keys-added": _add_descriptive_keys,
    "reordered": _reorder,
    "profile-deleted": _delete,
    "another-default": _default,
    "null-guarantee": _null_guarantee,
    "own-profile-with-null-cpu-limit": _own_profile_with_null_cpu_limit,
}


@pytest.mark.parametrize("change", SAVE_BACKS)
def test_a_hub_admin_saves_back_what_the_api_served(hub, change):
    etag, settings = fresh(hub)
    sent = copy.deepcopy(settings)
    SAVE_BACKS[change](sent)
    r = put(hub, etag, sent)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == f'"{int(etag.strip(chr(34))) + 1}"'
    # what is in force now is what was sent, the operator's keys and values included
    assert served(hub)[1] == sent
    # and a save-back of that is fine too
    again_etag, again = served(hub)
    assert put(hub, again_etag, again).status_code == 200


def _new_key(settings):
    profile(settings, "course")["x-new"] = 1


def _operators_key_changed(settings):
    profile(settings, "course")["x-priority"] = 11


def _null_memory_limit(settings):
    profile(settings, "staff")["kubespawner_override"]["mem_limit"] = None


def _text_default(settings):
    for p in settings["profiles"]:
        p.pop("default", None)
    profile(settings, "staff")["default"] = "yes"


def _operator_only_setting(settings):
    profile(settings, "staff")["kubespawner_override"]["service_account"] = "default"


def _unknown_key_in_a_new_choice(settings):
    choices = profile(settings, "course")["profile_options"]["image"]["choices"]
    choices["beta"] = {"display_name": "Beta", "x-badge": "beta"}


BAD_INPUTS = {
    "new-key": (_new_key, "/profiles/3", "'x-new' was unexpected"),
    "operators-key-changed": (_operators_key_changed, "/profiles/3", "'x-priority'"),
    "null-memory-limit": (
        _null_memory_limit,
        "/profiles/4/kubespawner_override/mem_limit",
        "null means no memory limit, which is above the operator's ceiling of 64 GB",
    ),
    "default-as-text": (_text_default, "/profiles/4/default", "'yes' is not of type 'boolean'"),
    "operator-only-setting": (
        _operator_only_setting,
        "/profiles/4/kubespawner_override/service_account",
        "only the operator can set it",
    ),
    "unknown-key-in-a-new-choice": (
        _unknown_key_in_a_new_choice,
        "/profiles/3/profile_options/image/choices/beta",
        "'x-badge' was unexpected",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_what_a_hub_admin_adds_is_still_judged_400_and_nothing_changes(hub, case):
    change, path, words = BAD_INPUTS[case]
    etag, settings = fresh(hub)
    sent = copy.deepcopy(settings)
    change(sent)
    r = put(hub, etag, sent)
    assert r.status_code == 400, r.text
    errors = r.json()["errors"]
    assert any(e["path"] == path and words in e["message"] for e in errors), errors
    assert served(hub) == (etag, settings)


def test_restoring_a_version_that_holds_the_operators_profiles_saves_too(hub):
    etag, settings = fresh(hub)
    profile(settings, "course")["description"] = "Saved once."
    r = put(hub, etag, settings)
    assert r.status_code == 200, r.text
    saved = int(r.json()["version"])
    etag, _ = fresh(hub)
    r = hub.api("admin", "POST", f"api/history/{saved}/restore", headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    assert served(hub)[1] == settings


# -- saving back through the settings pages ---------------------------------------------------


class _Form(HTMLParser):
    """The fields a browser posts for the first form of a page with ``do=save`` in it:
    inputs (checked boxes and radios only), textareas, and the save button."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[list[tuple[str, str]]] = []
        self._in_form = False
        self._textarea: str | None = None
        #: the select being read: its name, its first option's value and its selected one
        self._select: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method") == "post":
            self._in_form = True
            self.forms.append([])
        elif tag == "option" and self._in_form:
            self._option(attrs)
        elif not self._in_form or "name" not in attrs or "disabled" in attrs:
            return
        elif tag == "input":
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.forms[-1].append((attrs["name"], attrs.get("value") or ""))
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.forms[-1].append((self._textarea, ""))
        elif tag == "select":
            self._select = [attrs["name"], None, None]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        if self._textarea is not None:
            name, text = self.forms[-1][-1]
            self.forms[-1][-1] = (name, text + data)

    def _option(self, attrs: dict) -> None:
        if self._select is not None:
            value = attrs.get("value") or ""
            if self._select[1] is None:
                self._select[1] = value
            if "selected" in attrs:
                self._select[2] = value

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            name, first, chosen = self._select
            self.forms[-1].append((name, chosen if chosen is not None else first or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, text = self.forms[-1][-1]
            # a browser drops the one new line right after <textarea>
            self.forms[-1][-1] = (name, text.removeprefix("\n"))
            self._textarea = None
        elif tag == "form":
            self._in_form = False


def form_of(html: str) -> dict[str, str | list[str]]:
    parser = _Form()
    parser.feed(html)
    fields: dict[str, str | list[str]] = {}
    for name, value in parser.forms[0]:
        if name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[name] = value
    fields["do"] = "save"
    return fields


def post_form(session: requests.Session, url: str, change=None) -> requests.Response:
    page = session.get(url, timeout=30)
    assert page.status_code == 200, page.text[:2000]
    fields = form_of(page.text)
    if change:
        change(fields)
    return session.post(url, data=fields, allow_redirects=False, timeout=30)


UI_SAVES = {
    "announcement-form": ("announcement", lambda f: f.update(text="Back on Monday.")),
    "branding-form": ("branding", lambda f: f.update(funded_by="The Example Foundation")),
    "fancy-profile-unchanged": ("profiles/edit/only-choice", None),
    "course-profile-description": (
        "profiles/edit/course",
        lambda f: f.update(description="Edited in the form."),
    ),
    "long-slug-profile-unchanged": (f"profiles/edit/{GPU}", None),
    "null-limits-profile-unchanged": ("profiles/edit/cpu-only", None),
}


@pytest.mark.parametrize("case", UI_SAVES)
def test_a_hub_admin_saves_through_the_settings_pages(hub, case):
    page, change = UI_SAVES[case]
    etag, before = fresh(hub)
    admin = service_session(hub, "admin")
    r = post_form(admin, hub.service + page, change)
    assert r.status_code == 302, r.text[:3000]
    etag_after, after = served(hub)
    assert etag_after != etag
    # everything of the operator's the pages do not show is kept as it was
    for slug in ("course", "only-choice"):
        old, new = profile(before, slug), profile(after, slug)
        for key in ("x-priority", "tags", "x-audience"):
            assert new.get(key) == old.get(key)
        for key, option in (old.get("profile_options") or {}).items():
            kept = new["profile_options"][key]
            for name in ("x-help-url", "dynamic_image_building"):
                assert kept.get(name) == option.get(name)
            for choice, value in (option.get("choices") or {}).items():
                for name in ("slug", "x-badge"):
                    assert kept["choices"][choice].get(name) == value.get(name)
            unlisted, was = kept.get("unlisted_choice") or {}, option.get("unlisted_choice") or {}
            for name in ("description", "description_in_choices", "x-placeholder"):
                assert unlisted.get(name) == was.get(name)
    assert profile(after, "cpu-only")["kubespawner_override"]["cpu_limit"] is None
    assert profile(after, "staff")["kubespawner_override"]["mem_guarantee"] is None


def test_the_profile_list_page_moves_a_profile_of_the_operators(hub):
    etag, before = fresh(hub)
    admin = service_session(hub, "admin")
    page = admin.get(hub.service, timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)[1]
    version = etag.strip('"')
    r = admin.post(
        hub.service + "profiles",
        data={"_xsrf": xsrf, "version": version, "slug": "course", "do": "down"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 302, r.text[:3000]
    _, after = served(hub)
    slugs = [p["slug"] for p in before["profiles"]]
    index = slugs.index("course")
    slugs.insert(index + 1, slugs.pop(index))
    assert [p["slug"] for p in after["profiles"]] == slugs
    assert profile(after, "course") == profile(before, "course")


def test_a_bad_form_post_is_400_and_changes_nothing(hub):
    etag, before = fresh(hub)
    admin = service_session(hub, "admin")

    def null_memory_limit(fields):
        extra = json.loads(fields["extra"] or "{}")
        fields["extra"] = json.dumps({**extra, "mem_limit": None})
        fields["mem_limit"] = ""

    r = post_form(admin, hub.service + "profiles/edit/staff", null_memory_limit)
    assert r.status_code == 400, r.text[:3000]
    assert "null means no memory limit" in r.text
    assert served(hub) == (etag, before)
