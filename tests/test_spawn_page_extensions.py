"""Spawn-page extensions with the managed spawner: the operator's own form template
(KubeSpawner's ``profile_form_template`` and ``additional_profile_form_template_paths``),
jupyterhub-fancy-profiles from PyPI set up by its own ``setup_ui(c)``.

The form is theirs, given the profiles this user may use; what it posts is checked as our
own form's post is, and gives the pod the real KubeSpawner gives for the same post (the
manifests are compared whole, less the labels and annotation the suite adds). The spawners
run against the Kubernetes API emulator; the browser test drives Chromium through a real
hub and the real proxy, and compares the pod that ran with plain KubeSpawner's for the
fields the page really posted.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import SimpleNamespace

import jupyterhub_fancy_profiles
import pytest
from jupyterhub.tests.utils import api_request, public_url
from kubespawner import KubeSpawner
from playwright.async_api import expect
from tornado import web
from tornado.httputil import parse_body_arguments
from traitlets.config import Config

from jhub_managed.spawn_form import operator_form_template, render_operator_form
from jhub_managed.spawner import ManagedKubeSpawner, ManagedLocalSpawner
from jhub_managed.spawner.kube import LABEL_HUB, LABEL_PROFILE
from jhub_managed.spawner.mixin import options_from_form

from .fixtures.kube import free_port
from .fixtures.parity import (
    DICT_LISTS,
    differences,
    managed_config,
    spawn_requests,
    without_suite_marks,
)
from .fixtures.parity import user as fleet_user
from .fixtures.profile_lists import LISTS as FLEET_LISTS
from .fixtures.profile_lists import profile_list as fleet_list
from .fixtures.waiting import wait_until_async

HUB_NAME = "physics-hub"
MINIMAL = "quay.io/jupyter/minimal-notebook:2025-01-06"
SCIPY = "quay.io/jupyter/scipy-notebook:2025-01-06"
PYTORCH = "quay.io/jupyter/pytorch-notebook:cuda12-2025-01-06"
GIB = 1024**3

#: an operator's list as a z2jh hub's ``singleuser.profileList`` has it, with the suite's
#: ``allowed_groups``; choices and free-text choices as fancy-profiles shows them, with the
#: keys only it reads (``slug`` on a choice, ``dynamic_image_building``, an unlisted choice's
#: ``description`` and ``description_in_choices``)
OPERATOR_PROFILES = [
    {
        "display_name": "Python",
        "slug": "python",
        "description": "JupyterLab with the scientific Python stack.",
        "default": True,
        "kubespawner_override": {"image": MINIMAL, "cpu_limit": 1, "mem_limit": "1G"},
        "profile_options": {
            "image": {
                "display_name": "Image",
                "dynamic_image_building": {"enabled": True},
                "choices": {
                    "minimal": {
                        "display_name": "Minimal",
                        "slug": "minimal",
                        "description": "Python and JupyterLab only",
                        "default": True,
                        "kubespawner_override": {"image": MINIMAL},
                    },
                    "scipy": {
                        "display_name": "SciPy",
                        "slug": "scipy",
                        "description": "NumPy, SciPy, pandas, matplotlib",
                        "kubespawner_override": {"image": SCIPY},
                    },
                    "pytorch": {
                        "display_name": "PyTorch with a GPU",
                        "allowed_groups": ["gpu"],
                        "kubespawner_override": {
                            "image": PYTORCH,
                            "extra_resource_limits": {"nvidia.com/gpu": "1"},
                            "tolerations": [
                                {
                                    "key": "nvidia.com/gpu",
                                    "operator": "Exists",
                                    "effect": "NoSchedule",
                                }
                            ],
                        },
                    },
                },
                "unlisted_choice": {
                    "enabled": True,
                    "display_name": "An image from quay.io/jupyter",
                    "display_name_in_choices": "Other image...",
                    "description_in_choices": "Any image of quay.io/jupyter, by its date tag",
                    "description": "e.g. quay.io/jupyter/r-notebook:2025-01-06",
                    "validation_regex": r"quay\.io/jupyter/[a-z-]+:[0-9-]+",
                    "validation_message": "an image from quay.io/jupyter, with a date tag",
                    "kubespawner_override": {"image": "{value}"},
                },
            }
        },
    },
    {
        "display_name": "Physics lab",
        "slug": "physics-lab",
        "description": "The physics group's environment, on its own nodes.",
        "allowed_groups": ["physics"],
        "kubespawner_override": {
            "image": SCIPY,
            "cpu_guarantee": 1,
            "cpu_limit": 2,
            "mem_guarantee": "2G",
            "mem_limit": "4G",
            "node_selector": {"hub.jupyter.org/node-purpose": "physics"},
            "environment": {"LAB": "physics"},
        },
        "profile_options": {
            "memory": {
                "display_name": "Memory",
                "choices": {
                    "4g": {"display_name": "4 GB", "default": True},
                    "8g": {"display_name": "8 GB", "kubespawner_override": {"mem_limit": "8G"}},
                    "16g": {
                        "display_name": "16 GB",
                        "kubespawner_override": {"mem_limit": "16G"},
                    },
                },
            },
            "dataset": {
                "display_name": "Dataset",
                "choices": {
                    "none": {"display_name": "None", "default": True},
                    "cosmology": {
                        "display_name": "Cosmology survey",
                        "kubespawner_override": {"environment": {"DATASET": "cosmology"}},
                    },
                },
                "unlisted_choice": {
                    "enabled": True,
                    "display_name": "Dataset name",
                    "validation_regex": "[a-z0-9-]+",
                    "validation_message": "lowercase letters, digits and -",
                    "kubespawner_override": {"environment": {"DATASET": "{value}"}},
                },
            },
        },
    },
]
#: the operator's ceiling; the 16 GB choice is over it (a hub started with configure() says
#: so at start; a spawner configured by hand refuses it at spawn)
CEILINGS = {"mem_limit": "8G"}
#: the users, their groups, and the profiles (and image choices) each may use
USERS = {
    "alice": ["physics", "gpu"],
    "bob": [],
}
VISIBLE = {
    "alice": {"python": ["minimal", "scipy", "pytorch"], "physics-lab": []},
    "bob": {"python": ["minimal", "scipy"]},
}


def _user(name: str):
    """What the spawner reads of JupyterHub's ``User``: name, id, url, groups, admin."""
    return SimpleNamespace(
        name=name,
        id=7,
        url=f"/user/{name}/",
        admin=False,
        groups=[SimpleNamespace(name=g) for g in USERS[name]],
    )


@pytest.fixture
def store(tmp_path):
    return f"sqlite:///{tmp_path / 'jhub-managed.sqlite'}"


def _config(kube_emulator, store, *, fancy: bool = True, **kubespawner) -> Config:
    """A hub's configuration with the operator's list in ``c.KubeSpawner.profile_list`` (as
    z2jh writes ``singleuser.profileList``) and, with ``fancy``, fancy-profiles'
    ``setup_ui(c)``."""
    c = Config()
    c.ManagedHub.db_url = store
    c.ManagedHub.hub_name = HUB_NAME
    c.ManagedHub.ceilings = CEILINGS
    c.KubeSpawner.update(kube_emulator.spawner_config())
    c.KubeSpawner.cmd = ["jupyterhub-singleuser"]
    c.KubeSpawner.profile_list = copy.deepcopy(OPERATOR_PROFILES)
    c.KubeSpawner.update(kubespawner)
    if fancy:
        jupyterhub_fancy_profiles.setup_ui(c)
    return c


def _plain_kubespawner(kube_emulator, user, profiles=OPERATOR_PROFILES) -> KubeSpawner:
    """KubeSpawner itself, with the same list (it ignores ``allowed_groups``)."""
    config = Config(
        {
            "KubeSpawner": {
                **kube_emulator.spawner_config(),
                "cmd": ["jupyterhub-singleuser"],
                "profile_list": copy.deepcopy(profiles),
            }
        }
    )
    return KubeSpawner(_mock=True, user=user, config=config)


def profile_list_of(html: str) -> list[dict]:
    """The ``profile_list`` fancy-profiles' template hands its script."""
    match = re.search(r"window\.profileList = (.*);\n", html)
    assert match, html[:500]
    return json.loads(match.group(1))


def fancy_post(profiles: list[dict], slug: str, chosen: dict[str, str]) -> dict[str, list[str]]:
    """The fields fancy-profiles 0.7 posts, as JupyterHub hands them to ``options_from_form``:
    ``profile`` (a hidden radio), ``select-profile`` (the visible radios, with more than one
    profile), every profile's lists at the value they show (their default unless chosen),
    and the free text of an option whose list says "Other" (``chosen`` holds
    ``option--unlisted-choice``). The browser test checks this against what the page posts.
    """
    fields: dict[str, list[str]] = {"profile": [slug]}
    if len(profiles) > 1:
        fields["select-profile"] = [slug]
    for profile in profiles:
        for key, option in (profile.get("profile_options") or {}).items():
            name = f"profile-option-{profile['slug']}--{key}"
            choices = option.get("choices") or {}
            default = next((k for k, c in choices.items() if c.get("default")), None)
            value = chosen.get(key) if profile["slug"] == slug and key in chosen else default
            if value is not None:
                fields[name] = [value]
            typed = chosen.get(f"{key}--unlisted-choice")
            if profile["slug"] == slug and value == "unlisted_choice" and typed:
                fields[f"{name}--unlisted-choice"] = [typed]
    fields["_xsrf"] = ["2|xsrf-token"]
    return fields


async def _pod(spawner) -> dict:
    pod = await spawner.get_pod_manifest()
    return spawner.api.api_client.sanitize_for_serialization(pod)


async def managed_pod(spawner: ManagedKubeSpawner, fields: dict) -> tuple[dict, dict]:
    """``user_options`` and pod of a form post, as JupyterHub and KubeSpawner's ``start``
    make them: the form read and checked, the options applied, then loaded."""
    options = await spawner.run_options_from_form(fields)
    spawner.user_options = options
    await spawner.apply_user_options(spawner, options)
    await spawner.load_user_options()
    return options, await _pod(spawner)


async def plain_pod(spawner: KubeSpawner, fields: dict) -> tuple[dict, dict]:
    options = spawner.options_from_form(fields)
    spawner.user_options = options
    await spawner.load_user_options()
    return options, await _pod(spawner)


# -- which form: the operator's template, else ours --------------------------------------------


def test_kubespawners_own_form_html_renders_with_its_includes(tmp_path):
    """An operator's template made from KubeSpawner's (it includes ``style.css`` from
    KubeSpawner's folder) renders; a folder without ``form.html`` is no template."""
    import kubespawner

    assert operator_form_template("", []) is None
    assert operator_form_template("", [str(tmp_path)]) is None
    shipped = Path(kubespawner.__file__).parent / "templates" / "form.html"
    (tmp_path / "form.html").write_text(shipped.read_text())
    template = operator_form_template("", [str(tmp_path)])
    assert template is not None
    html = render_operator_form(template, copy.deepcopy(OPERATOR_PROFILES[:1]), {})
    assert 'name="profile-option-python--image"' in html
    assert ".profile" in html.split("</style>")[0]  # KubeSpawner's style.css, included
    # the string wins over the folders, as in KubeSpawner
    assert operator_form_template("{{ 1 + 1 }}", [str(tmp_path)]).render() == "2"


def test_the_template_gets_this_users_profiles_escaped_without_group_names():
    template = operator_form_template(
        "{% for p in profile_list %}<h2>{{ p.display_name }}</h2>{% endfor %}"
        "<script>var l = {{ profile_list|tojson }};</script>",
        [],
    )
    profiles = copy.deepcopy(OPERATOR_PROFILES)
    profiles[0]["display_name"] = "<img src=x onerror=alert(1)>"
    html = render_operator_form(template, profiles, {})
    assert "<img" not in html and "&lt;img src=x" in html
    listed = json.loads(html.split("var l = ")[1].split(";</script>")[0])
    assert listed[0]["display_name"] == "<img src=x onerror=alert(1)>"
    assert "allowed_groups" not in json.dumps(listed)
    # filled in as KubeSpawner fills it in, every other key kept
    assert listed[0]["default"] is True
    assert listed[1]["profile_options"]["memory"]["unlisted_choice"] == {"enabled": False}
    assert listed[1]["profile_options"]["dataset"]["unlisted_choice"]["enabled"] is True
    assert (
        listed[1]["profile_options"]["dataset"]["unlisted_choice"]["display_name_in_choices"]
        == "Other..."
    )
    assert listed[0]["profile_options"]["image"]["choices"]["scipy"]["description"] == (
        "NumPy, SciPy, pandas, matplotlib"
    )


@pytest.mark.kube
async def test_a_fancy_profiles_post_reads_as_kubespawner_reads_it(kube_emulator):
    fields = fancy_post(OPERATOR_PROFILES, "physics-lab", {"memory": "8g"})
    assert "select-profile" in fields and "profile-option-python--image" in fields
    assert options_from_form(fields) == {
        "profile": "physics-lab",
        "memory": "8g",
        "dataset": "none",
    }
    plain = _plain_kubespawner(kube_emulator, _user("bob"))
    assert options_from_form(fields) == plain.options_from_form(fields)
    # launch links still take plain option names
    assert options_from_form({"profile": ["python"], "image": ["scipy"]}, plain_keys=True) == {
        "profile": "python",
        "image": "scipy",
    }


# -- the form a user gets ----------------------------------------------------------------------


@pytest.mark.kube
@pytest.mark.parametrize("name", sorted(USERS))
async def test_setup_ui_shows_fancy_profiles_with_the_profiles_this_user_may_use(
    kube_emulator, store, name
):
    c = _config(kube_emulator, store)
    handlers = c.JupyterHub.extra_handlers.get_value([])
    assert handlers == [jupyterhub_fancy_profiles.STATIC_HANDLER_TUPLE]
    spawner = ManagedKubeSpawner(_mock=True, user=_user(name), config=c)
    html = await spawner.get_options_form()

    assert '<script src="/hub/fancy-profiles/static/dist/form.js" defer></script>' in html
    assert "jhm-profiles" not in html  # not the suite's own form
    listed = profile_list_of(html)
    assert {
        p["slug"]: list(p["profile_options"].get("image", {}).get("choices", {})) for p in listed
    } == VISIBLE[name]
    # what KubeSpawner would hand the template for these profiles, less allowed_groups
    plain = KubeSpawner._get_initialized_profile_list(None, copy.deepcopy(OPERATOR_PROFILES))
    for profile in listed:
        original = next(p for p in plain if p["slug"] == profile["slug"])
        assert profile["kubespawner_override"] == original["kubespawner_override"]
        assert profile["description"] == original["description"]
    assert "allowed_groups" not in json.dumps(listed)
    # the keys only fancy-profiles reads
    image = listed[0]["profile_options"]["image"]
    assert image["dynamic_image_building"] == {"enabled": True}
    assert image["choices"]["scipy"]["slug"] == "scipy"
    assert image["unlisted_choice"]["description_in_choices"] == (
        "Any image of quay.io/jupyter, by its date tag"
    )


def _as_kubespawner_means_it(profiles: list[dict]) -> list[dict]:
    """``default`` as KubeSpawner reads it (truthy or not: ``"true"`` is a default), on
    profiles and choices; the suite hands the page the one default it settled on as
    ``true``, which is what fancy-profiles looks for (``default === true``)."""
    profiles = copy.deepcopy(profiles)
    entries = list(profiles)
    for profile in profiles:
        for option in (profile.get("profile_options") or {}).values():
            entries += (option.get("choices") or {}).values()
    for entry in entries:
        if entry.pop("default", None):
            entry["default"] = True
    return profiles


def _order(profiles: list[dict]) -> list:
    """The order a page shows profiles, options and choices in."""
    return [
        (p["slug"], [(k, list(o.get("choices") or {})) for k, o in options.items()])
        for p in profiles
        for options in [p.get("profile_options") or {}]
    ]


@pytest.mark.kube
@pytest.mark.parametrize("name", sorted(FLEET_LISTS))
async def test_each_fleet_list_reaches_fancy_profiles_as_kubespawner_hands_it(
    kube_emulator, store, name
):
    """Fleet-shaped lists (extension keys, ``null`` limits, text defaults, derived slugs,
    a dict by sort key) open to everyone: the page gets the list KubeSpawner gives it."""
    if isinstance(FLEET_LISTS[name], dict) and not DICT_LISTS:
        pytest.skip("KubeSpawner 7.0 takes a profile list, not a dict")
    c = Config()
    jupyterhub_fancy_profiles.setup_ui(c)
    c.ManagedHub.db_url = store
    c.KubeSpawner.update(kube_emulator.spawner_config())
    c.KubeSpawner.profile_list = fleet_list(name)
    managed = ManagedKubeSpawner(_mock=True, user=_user("bob"), config=c)
    plain = KubeSpawner(_mock=True, user=_user("bob"), config=c)

    ours = profile_list_of(await managed.get_options_form())
    theirs = profile_list_of(await plain.get_options_form())
    assert _as_kubespawner_means_it(ours) == _as_kubespawner_means_it(theirs)
    assert _order(ours) == _order(theirs)


@pytest.mark.kube
async def test_profile_form_template_gets_the_users_options_that_still_hold(kube_emulator, store):
    c = _config(
        kube_emulator,
        store,
        fancy=False,
        profile_form_template=(
            '{% for p in profile_list %}<label data-slug="{{ p.slug }}">'
            "{{ p.display_name }}</label>{% endfor %}"
            "<script>var last = {{ user_options|tojson }};</script>"
        ),
    )
    alice = ManagedKubeSpawner(_mock=True, user=_user("alice"), config=c)
    alice.user_options = {"profile": "physics-lab", "memory": "8g"}
    html = await alice.get_options_form()
    assert re.findall(r'data-slug="([^"]+)"', html) == ["python", "physics-lab"]
    assert 'var last = {"profile": "physics-lab", "memory": "8g"};' in html

    # options this user may not (or no longer) use are not handed on
    bob = ManagedKubeSpawner(_mock=True, user=_user("bob"), config=c)
    bob.user_options = {"profile": "physics-lab"}
    html = await bob.get_options_form()
    assert re.findall(r'data-slug="([^"]+)"', html) == ["python"]
    assert "var last = {};" in html


@pytest.mark.kube
async def test_without_a_template_of_the_operators_the_form_is_ours(kube_emulator, store, tmp_path):
    empty_folder = tmp_path / "no-form-here"
    empty_folder.mkdir()
    for config in (
        _config(kube_emulator, store, fancy=False),
        _config(
            kube_emulator,
            store,
            fancy=False,
            additional_profile_form_template_paths=[str(empty_folder)],
        ),
    ):
        spawner = ManagedKubeSpawner(_mock=True, user=_user("alice"), config=config)
        html = await spawner.get_options_form()
        assert "jhm-profiles" in html and "window.profileList" not in html


# -- what such a form posts ----------------------------------------------------------------------


POSTS = [
    pytest.param("bob", "python", {}, id="defaults"),
    pytest.param("bob", "python", {"image": "scipy"}, id="choice"),
    pytest.param(
        "bob",
        "python",
        {
            "image": "unlisted_choice",
            "image--unlisted-choice": "quay.io/jupyter/r-notebook:2025-01-06",
        },
        id="typed-image",
    ),
    pytest.param("alice", "python", {"image": "pytorch"}, id="gpu-choice-of-a-group"),
    pytest.param("alice", "physics-lab", {}, id="group-profile"),
    pytest.param("alice", "physics-lab", {"memory": "8g"}, id="group-profile-choice"),
    pytest.param(
        "alice",
        "physics-lab",
        {"memory": "8g", "dataset": "unlisted_choice", "dataset--unlisted-choice": "lensing-25"},
        id="typed-dataset",
    ),
]


@pytest.mark.kube
@pytest.mark.parametrize(("name", "slug", "chosen"), POSTS)
async def test_a_fancy_profiles_post_gives_the_pod_plain_kubespawner_gives(
    kube_emulator, store, name, slug, chosen
):
    c = _config(kube_emulator, store)
    managed = ManagedKubeSpawner(_mock=True, user=_user(name), config=c)
    listed = profile_list_of(await managed.get_options_form())
    fields = fancy_post(listed, slug, chosen)

    options, pod = await managed_pod(managed, fields)
    plain_options, plain = await plain_pod(_plain_kubespawner(kube_emulator, _user(name)), fields)

    assert options == plain_options
    assert options["profile"] == slug and chosen.items() <= options.items()
    assert pod["metadata"]["labels"][LABEL_PROFILE] == slug
    assert pod["metadata"]["labels"][LABEL_HUB] == HUB_NAME
    assert without_suite_marks(pod) == plain


@pytest.mark.kube
@pytest.mark.parametrize("name", sorted(FLEET_LISTS))
async def test_each_fleet_list_posted_from_fancy_profiles_gives_plain_kubespawners_pod(
    kube_emulator, tmp_path, name
):
    """Every profile, choice and free-text choice of the fleet-shaped lists, posted as
    fancy-profiles posts them to a hub made by ``configure()``: the pod of plain KubeSpawner
    for the same post."""
    value = fleet_list(name)
    if isinstance(value, dict) and not DICT_LISTS:
        pytest.skip("KubeSpawner 7.0 takes a profile list, not a dict")
    c = managed_config(kube_emulator, name, "profile_list", tmp_path)
    jupyterhub_fancy_profiles.setup_ui(c)
    try:
        page = ManagedKubeSpawner(_mock=True, user=fleet_user(), config=c)
        listed = profile_list_of(await page.get_options_form())
        mismatches = {}
        posts = [r for r in spawn_requests(listed) if r]
        for request in posts:
            slug = request.pop("profile")
            chosen = {}
            for key, choice in request.items():
                if key.endswith("--unlisted-choice"):
                    chosen[key.removesuffix("--unlisted-choice")] = "unlisted_choice"
                chosen[key] = choice
            fields = fancy_post(listed, slug, chosen)
            managed = ManagedKubeSpawner(_mock=True, user=fleet_user(), config=c)
            options, pod = await managed_pod(managed, fields)
            plain_spawner = _plain_kubespawner(kube_emulator, fleet_user(), value)
            plain_options, plain = await plain_pod(plain_spawner, fields)
            found = differences(plain, without_suite_marks(pod))
            if options != plain_options:
                found.append(f"user_options: plain {plain_options} | managed {options}")
            if found:
                mismatches[json.dumps(fields)] = found
        assert mismatches == {}
        POSTED[name] = len(posts)
    finally:
        c.ManagedKubeSpawner.settings_snapshot.close()


def image_builder_post(image: str) -> dict[str, list[str]]:
    """What fancy-profiles 0.7 posts after "Build your own image" on the fancy image
    picker: its own entry in the list, the built image as the typed value, and the builder's
    repository and ref fields under it (as its ImageBuilder names them)."""
    field = "profile-option-only-choice--image"
    return {
        "profile": ["only-choice"],
        field: ["--extra-selectable-item"],
        f"{field}--unlisted-choice": [image],
        f"{field}--unlisted-choice--repo": ["example-org/analysis"],
        f"{field}--unlisted-choice--ref": ["HEAD"],
        "profile-option-only-choice--requests": ["mem_1_9"],
        "_xsrf": ["2|xsrf-token"],
    }


@pytest.mark.kube
async def test_a_built_image_posted_by_fancy_profiles_starts_as_on_kubespawner(
    kube_emulator, tmp_path
):
    c = managed_config(kube_emulator, "fancy-image-picker", "profile_list", tmp_path)
    jupyterhub_fancy_profiles.setup_ui(c)
    built = "registry.example.org/binder/example-2danalysis:5f1c2e"
    try:
        managed = ManagedKubeSpawner(_mock=True, user=fleet_user(), config=c)
        options, pod = await managed_pod(managed, image_builder_post(built))
        plain_spawner = _plain_kubespawner(
            kube_emulator, fleet_user(), fleet_list("fancy-image-picker")
        )
        plain_options, plain = await plain_pod(plain_spawner, image_builder_post(built))
        assert differences(plain, without_suite_marks(pod)) == []
        assert pod["spec"]["containers"][0]["image"] == built
        # read as a typed value; the builder's own fields are not options
        assert options == {
            "profile": "only-choice",
            "image": "unlisted_choice",
            "image--unlisted-choice": built,
            "requests": "mem_1_9",
        }
        assert plain_options["image"] == "--extra-selectable-item"

        # and checked as one: a value the pattern does not take whole is refused
        refused_spawner = ManagedKubeSpawner(_mock=True, user=fleet_user(), config=c)
        with pytest.raises(web.HTTPError) as refused:
            await refused_spawner.run_options_from_form(image_builder_post("no-tag"))
        assert refused.value.status_code == 400
        assert "Must be a public image" in str(refused.value)
    finally:
        c.ManagedKubeSpawner.settings_snapshot.close()


#: fleet list -> how many form posts were compared
POSTED: dict[str, int] = {}


REFUSED = [
    pytest.param(
        "bob",
        "physics-lab",
        {},
        403,
        "only for members of the group 'physics'",
        id="profile-of-a-group",
    ),
    pytest.param(
        "bob",
        "python",
        {"image": "pytorch"},
        403,
        "only for members of the group 'gpu'",
        id="choice-of-a-group",
    ),
    pytest.param(
        "bob", "python", {"image": "root"}, 400, "Unknown choice 'root'", id="unknown-choice"
    ),
    pytest.param(
        "bob",
        "python",
        # KubeSpawner's re.match takes it; the suite matches the whole value
        {
            "image": "unlisted_choice",
            "image--unlisted-choice": "quay.io/jupyter/base-notebook:2025-01-06@evil",
        },
        400,
        "an image from quay.io/jupyter, with a date tag",
        id="typed-image-matching-only-its-start",
    ),
    pytest.param(
        "alice",
        "physics-lab",
        {"memory": "16g"},
        403,
        "beyond what the hub allows: mem_limit",
        id="choice-over-the-ceiling",
    ),
]


@pytest.mark.kube
@pytest.mark.parametrize(("name", "slug", "chosen", "status", "message"), REFUSED)
async def test_a_fancy_profiles_post_is_refused_as_our_forms_post_is(
    kube_emulator, store, name, slug, chosen, status, message
):
    c = _config(kube_emulator, store)
    spawner = ManagedKubeSpawner(_mock=True, user=_user(name), config=c)
    fields = fancy_post(OPERATOR_PROFILES, slug, chosen)
    image, mem_limit = spawner.image, spawner.mem_limit
    with pytest.raises(web.HTTPError) as refused:
        await spawner.run_options_from_form(fields)
    assert refused.value.status_code == status
    assert message in str(refused.value)
    # nothing changed, and a request straight to the hook is refused the same way
    assert (spawner.image, spawner.mem_limit, spawner.user_options) == (image, mem_limit, {})
    with pytest.raises(web.HTTPError) as again:
        await spawner.apply_user_options(spawner, options_from_form(fields))
    assert again.value.status_code == status
    assert LABEL_PROFILE not in spawner.extra_labels


# -- the local twin ------------------------------------------------------------------------------


async def test_the_local_spawner_takes_the_template_from_its_own_section(store):
    c = Config()
    c.ManagedHub.db_url = store
    c.ManagedHub.hub_values = {"profiles": copy.deepcopy(OPERATOR_PROFILES[1:])}
    # KubeSpawner's section (where setup_ui puts it) is not the local spawner's
    jupyterhub_fancy_profiles.setup_ui(c)
    spawner = ManagedLocalSpawner(user=_user("alice"), config=c)
    assert "jhm-profiles" in await spawner.get_options_form()

    c.ManagedLocalSpawner.additional_profile_form_template_paths = (
        jupyterhub_fancy_profiles.TEMPLATE_PATHS
    )
    spawner = ManagedLocalSpawner(user=_user("alice"), config=c)
    listed = profile_list_of(await spawner.get_options_form())
    assert [p["slug"] for p in listed] == ["physics-lab"]
    fields = fancy_post(listed, "physics-lab", {"memory": "8g"})
    options = await spawner.run_options_from_form(fields)
    await spawner.apply_user_options(spawner, options)
    assert (spawner.mem_limit, spawner.cpu_limit) == (8 * GIB, 2)
    assert spawner.environment["LAB"] == "physics"

    bob = ManagedLocalSpawner(user=_user("bob"), config=c)
    with pytest.raises(web.HTTPError) as refused:
        await bob.get_options_form()
    assert refused.value.status_code == 403


# -- in Chromium, through a real hub ------------------------------------------------------------

PASSWORD = "fancy-test-password"


def posted_fields(request) -> dict[str, list[str]]:
    """A form post's fields as JupyterHub reads them (tornado's own multipart parser)."""
    arguments: dict[str, list[bytes]] = {}
    parse_body_arguments(request.headers["content-type"], request.post_data_buffer, arguments, {})
    return {key: [v.decode() for v in values] for key, values in arguments.items()}


def essentials(pod: dict) -> dict:
    """What a profile decides in a pod: the container's image, resources and environment
    (less JupyterHub's own ``JUPYTERHUB_*`` and ``JPY_*`` variables, which carry the
    server's tokens and URLs), node selector, tolerations, volumes."""
    spec = pod["spec"]
    (container,) = spec["containers"]
    return {
        "image": container["image"],
        "resources": container.get("resources"),
        "env": sorted(
            (e["name"], e.get("value"))
            for e in container.get("env") or []
            if not e["name"].startswith(("JUPYTERHUB_", "JPY_"))
        ),
        "volumeMounts": container.get("volumeMounts"),
        "nodeSelector": spec.get("nodeSelector"),
        "tolerations": spec.get("tolerations"),
        "volumes": spec.get("volumes"),
    }


async def sign_in(page, app, name: str) -> None:
    await page.goto(public_url(app) + "hub/login")
    await page.get_by_label("Username:").fill(name)
    await page.get_by_label("Password:", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r".*/(hub/(home|spawn)|user/).*"), wait_until="commit")


async def fancy_spawn_page(page, app) -> list[str]:
    """Open the spawn page and wait for fancy-profiles to draw it; the profiles it shows."""
    await page.goto(public_url(app) + "hub/spawn")
    cards = page.locator("#form .profile-select")
    await expect(cards.first).to_be_visible()
    return await cards.locator("h2").all_inner_texts()


async def choices_shown(page, slug: str, option: str) -> dict[str, str]:
    """Open a profile's list in fancy-profiles' page; its entries and their descriptions."""
    card = page.locator(f"#profile-{slug}")
    await card.click()
    await card.get_by_label(option, exact=True).click()
    entries = page.locator(".select__menu .react-select-item-container")
    await expect(entries.first).to_be_visible()
    shown = {}
    for entry in await entries.all():
        title = await entry.locator(".react-select-item-title").inner_text()
        description = entry.locator(".react-select-item-description")
        shown[title] = await description.inner_text() if await description.count() else ""
    await page.keyboard.press("Escape")
    return shown


@pytest.fixture
async def fancy_hub(kube_emulator, test_kubelet, managed_hub):
    """A hub as a z2jh operator configures it: the managed spawner on Kubernetes, the
    operator's list in ``c.KubeSpawner.profile_list``, fancy-profiles' ``setup_ui(c)``."""
    c = Config()
    # fancy-profiles 0.7 loads its script from /hub/fancy-profiles/ whatever the base URL
    c.JupyterHub.bind_url = f"http://127.0.0.1:{free_port()}/"
    c.ManagedDemoAuthenticator.password = PASSWORD
    c.ManagedDemoAuthenticator.demo_users = {name: {"groups": gs} for name, gs in USERS.items()}
    c.ManagedKubeSpawner.update(
        {
            **kube_emulator.spawner_config(),
            **test_kubelet.spawner_config(),
            # bounds for a loaded machine; a spawn takes 5-15 s here
            "start_timeout": 60,
            "http_timeout": 60,
        }
    )
    c.KubeSpawner.profile_list = copy.deepcopy(OPERATOR_PROFILES)
    jupyterhub_fancy_profiles.setup_ui(c)
    return await managed_hub(config=c, spawner="kube", authenticator="demo", hub_name=HUB_NAME)


@pytest.mark.e2e
@pytest.mark.browser
@pytest.mark.kube
async def test_fancy_profiles_in_chromium_starts_the_pod_plain_kubespawner_makes(
    kube_emulator, test_kubelet, fancy_hub, async_page
):
    app, page = fancy_hub, async_page

    # bob: only the profile and choices open to everyone
    await sign_in(page, app, "bob")
    assert await fancy_spawn_page(page, app) == ["Python"]
    # the choices open to everyone, and what fancy-profiles makes of the keys only it reads:
    # the descriptions, and an entry to build an image (dynamic_image_building)
    assert await choices_shown(page, "python", "Image") == {
        "Minimal": "Python and JupyterLab only",
        "SciPy": "NumPy, SciPy, pandas, matplotlib",
        "Other image...": "Any image of quay.io/jupyter, by its date tag",
        "Build your own image": (
            "Use a mybinder.org compatible GitHub repo to build your own image"
        ),
    }
    # a post for a profile that is not his, from his own page: refused, nothing starts
    refused = await page.evaluate(
        """async () => {
            const form = document.querySelector("#spawn_form");
            const data = new FormData(form);
            data.set("profile", "physics-lab");
            const response = await fetch(form.action, {method: "POST", body: data});
            return {status: response.status, text: await response.text()};
        }"""
    )
    assert refused["status"] == 403
    assert "only for members of the group &#39;physics&#39;" in refused["text"]
    assert (await api_request(app, "users", "bob")).json()["servers"] == {}
    await page.goto(public_url(app) + "hub/logout")

    # alice: both profiles, the GPU image too; she starts the physics lab with 8 GB and a
    # dataset of her own
    await sign_in(page, app, "alice")
    assert await fancy_spawn_page(page, app) == ["Python", "Physics lab"]
    assert list(await choices_shown(page, "python", "Image")) == [
        "Minimal",
        "SciPy",
        "PyTorch with a GPU",
        "Other image...",
        "Build your own image",
    ]
    listed = profile_list_of(await page.content())
    card = page.locator("#profile-physics-lab")
    await card.click()
    await card.get_by_label("Memory", exact=True).click()
    await page.get_by_role("option", name="8 GB").click()
    await card.get_by_label("Dataset", exact=True).click()
    await page.get_by_role("option", name="Other...").click()
    await card.get_by_role("combobox", name="Dataset name").fill("lensing-25")
    async with page.expect_request(
        lambda r: r.method == "POST" and "/hub/spawn" in r.url
    ) as posting:
        await page.locator("#submit-slot button").click()
    fields = posted_fields(await posting.value)
    chosen = {
        "memory": "8g",
        "dataset": "unlisted_choice",
        "dataset--unlisted-choice": "lensing-25",
    }
    # what the page posted is what fancy_post() says it posts
    assert {k: v for k, v in fields.items() if k != "_xsrf"} == {
        k: v for k, v in fancy_post(listed, "physics-lab", chosen).items() if k != "_xsrf"
    }

    async def ready():
        r = await api_request(app, "users", "alice")
        server = r.json()["servers"].get("")
        return server if server and server["ready"] else None

    spawner = app.users["alice"].spawner
    try:
        server = await wait_until_async(ready, timeout=75, what="alice's server ready")
    except AssertionError as e:
        raise AssertionError(f"{e}; the pod's output:\n{test_kubelet.log(spawner.pod_name)}") from e
    assert server["user_options"] == {"profile": "physics-lab", **chosen}
    pod = kube_emulator.get_pod(spawner.pod_name)
    assert pod["metadata"]["labels"][LABEL_PROFILE] == "physics-lab"
    assert essentials(pod)["resources"]["limits"]["memory"] == 8 * GIB
    assert ("DATASET", "lensing-25") in essentials(pod)["env"]
    assert essentials(pod)["nodeSelector"] == {"hub.jupyter.org/node-purpose": "physics"}

    # the same post to KubeSpawner itself: the same pod
    _, plain = await plain_pod(_plain_kubespawner(kube_emulator, _user("alice")), fields)
    assert essentials(pod) == essentials(plain)

    r = await api_request(app, "users", "alice", "server", method="delete")
    assert r.status_code in (202, 204), r.text
    await wait_until_async(
        lambda: kube_emulator.get_pod(spawner.pod_name) is None, timeout=30, what="pod gone"
    )
    assert len(kube_emulator.pods_ever_created()) == 1
