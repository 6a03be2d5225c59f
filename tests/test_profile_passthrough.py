"""An operator's own profile list is taken as KubeSpawner takes it, and kept as it is.

The lists of ``tests/fixtures/profile_lists.py`` carry keys KubeSpawner does not read,
``null`` limits, ``default`` written as text and slugs derived from long names. Given to
``configure()`` the ways an operator gives them, they start the hub, reach the settings
service and the spawn page with every key, and the hub names the keys it does not know once.
A hub admin's save is judged on what it adds or changes (``settings/admin.py``); the profile
form keeps what it does not show.
"""

from __future__ import annotations

import copy
import json
import logging
from types import SimpleNamespace

import pytest
from kubespawner import KubeSpawner
from traitlets.config import Config

from jhub_managed.hub import ConfigureError, ManagedHub, configure
from jhub_managed.services.config.editor import SaveRefused, SettingsEditor
from jhub_managed.settings import Ceilings, select_profile
from jhub_managed.settings.admin import save_errors
from jhub_managed.settings.forms.profiles import profile_to_view, view_to_profile
from jhub_managed.settings.layers import operator_layer, resolve_layers
from jhub_managed.spawner import ManagedKubeSpawner
from jhub_managed.store.source import SettingsSource

from .fixtures.profile_lists import LISTS, profile_list


def as_list(value):
    return [value[key] for key in sorted(value)] if isinstance(value, dict) else value


def _configure(tmp_path, way: str, value, **options) -> tuple[Config, ManagedHub]:
    c = Config()
    if way == "profile_list":
        c.KubeSpawner.profile_list = value
    else:
        options[way] = {"profiles": as_list(value)}
    hub = configure(
        c, spawner="kube", data_dir=str(tmp_path), services=["config"], idle_timeout=0, **options
    )
    return c, hub


def _served(c: Config) -> dict:
    """The document the settings service serves (its options read from its environment)."""
    services = {s["name"]: s for s in c.JupyterHub.services}
    hub = ManagedHub.from_environment(services["config"]["environment"])
    source = SettingsSource(hub.db_url, operator_defaults=hub.operator_defaults,
                            hub_values=hub.hub_values)  # fmt: skip
    try:
        return source.current().document
    finally:
        source.store.dispose()


def _keys_everywhere(profiles) -> set[tuple]:
    """Every (path, key) of a profile list, to compare what is kept."""
    found = set()

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key != "kubespawner_override":
                    found.add((path, key))
                    walk(value, (*path, key))

    for profile in profiles:
        walk(profile, (profile["slug"],))
    return found


@pytest.mark.parametrize("way", ["profile_list", "operator_defaults", "hub_values"])
@pytest.mark.parametrize("name", LISTS)
def test_an_operators_list_starts_the_hub_and_is_served_with_every_key(tmp_path, name, way):
    c, _ = _configure(tmp_path, way, profile_list(name))
    try:
        served = _served(c)["profiles"]
        written = as_list(profile_list(name))
        # filled in as KubeSpawner fills in the list it is given: slugs, defaults and, from
        # the config, a disabled free-text choice for each option
        if way == "profile_list":
            written = KubeSpawner._get_initialized_profile_list(None, written)
        else:
            written = operator_layer({"profiles": written})["profiles"]
        # every key of every entry, KubeSpawner's, the suite's, the extensions' and unknown
        assert _keys_everywhere(written) <= _keys_everywhere(served)
        for before, after in zip(written, served, strict=True):
            assert {k: after[k] for k in before} == before
    finally:
        c.ManagedKubeSpawner.settings_snapshot.close()


def test_a_missing_slug_is_derived_as_kubespawner_derives_it_however_long(tmp_path):
    name = profile_list("gpu-and-data")[1]["display_name"]
    c, _ = _configure(tmp_path, "hub_values", profile_list("gpu-and-data"))
    try:
        slug = _served(c)["profiles"][1]["slug"]
        assert len(slug) > 63 and slug == (
            "gpu-nvidia-t4-with-4-cpus-and-16-gb-of-memory-for-the-machine-learning-courses-"
            "of-the-spring-term"
        )
        assert name.startswith("GPU: NVIDIA T4")
    finally:
        c.ManagedKubeSpawner.settings_snapshot.close()


async def test_the_spawn_page_is_given_every_key(tmp_path, kube_emulator):
    c, _ = _configure(tmp_path, "profile_list", profile_list("fancy-image-picker"))
    c.KubeSpawner.update(kube_emulator.spawner_config())
    try:
        user = SimpleNamespace(name="ada", id=1, url="/user/ada/", admin=False, groups=[])
        spawner = ManagedKubeSpawner(_mock=True, user=user, config=c)
        (offered,) = spawner.allowed_profiles()
        image = offered["profile_options"]["image"]
        assert image["dynamic_image_building"] == {"enabled": True}
        assert {c["slug"] for c in image["choices"].values()} == {"pangeo", "geospatial", "scipy"}
        unlisted = image["unlisted_choice"]
        assert unlisted["description_in_choices"] == "Use a public image from a registry"
        assert unlisted["description"].startswith("Any image with a tag")
    finally:
        c.ManagedKubeSpawner.settings_snapshot.close()


def test_the_keys_kubespawner_does_not_read_are_named_once_at_start(tmp_path, caplog):
    profiles = [*profile_list("course-with-notes"), *profile_list("fancy-image-picker")]
    with caplog.at_level(logging.WARNING, logger="JupyterHub"):
        c, _ = _configure(tmp_path, "profile_list", profiles)
    c.ManagedKubeSpawner.settings_snapshot.close()
    warnings = [r.getMessage() for r in caplog.records if "does not read" in r.getMessage()]
    assert warnings == [
        "The profile list has keys KubeSpawner does not read, kept as they are for spawn-page "
        "extensions (check them for typos): profile: tags, x-audience, x-priority; profile "
        "option: dynamic_image_building, x-help-url; choice: slug, x-badge; unlisted choice: "
        "description, description_in_choices, x-placeholder"
    ]


async def test_a_callable_lists_keys_are_named_at_the_first_spawn_only(
    tmp_path, kube_emulator, caplog
):
    c = Config()
    c.KubeSpawner.update(kube_emulator.spawner_config())
    c.KubeSpawner.profile_list = lambda spawner: profile_list("course-with-notes")
    configure(c, spawner="kube", data_dir=str(tmp_path), services=[], idle_timeout=0)
    try:
        user = SimpleNamespace(name="ada", id=1, url="/user/ada/", admin=False, groups=[])
        with caplog.at_level(logging.WARNING):
            for _ in range(2):
                spawner = ManagedKubeSpawner(_mock=True, user=user, config=c)
                await spawner.get_options_form()
        warnings = [r.getMessage() for r in caplog.records if "does not read" in r.getMessage()]
        assert len(warnings) == 1 and "x-priority" in warnings[0]
    finally:
        c.ManagedKubeSpawner.settings_snapshot.close()


@pytest.mark.parametrize(
    ("override", "words"),
    [
        (
            {"mem_limit": None},
            "null means no memory limit, which is above the operator's ceiling of 8 GB: set a "
            "limit of at most 8 GB",
        ),
        (
            {"cpu_limit": None},
            "null means no CPU limit, which is above the operator's ceiling of 2 CPUs: set a "
            "limit of at most 2 CPUs",
        ),
    ],
)
@pytest.mark.parametrize("way", ["profile_list", "hub_values"])
def test_null_for_a_limit_with_a_ceiling_is_a_clear_error_at_start(tmp_path, way, override, words):
    profiles = [{"display_name": "Unbounded", "kubespawner_override": override}]
    with pytest.raises(ConfigureError) as refused:
        _configure(tmp_path, way, profiles, ceilings={"mem_limit": "8G", "cpu_limit": 2})
    assert words in str(refused.value)


def test_null_guarantees_are_within_the_ceilings_and_null_limits_without_one(tmp_path):
    profiles = [
        {
            "display_name": "Open",
            "kubespawner_override": {
                "mem_guarantee": None,
                "cpu_guarantee": None,
                "cpu_limit": None,
                "mem_limit": "4G",
            },
        }
    ]
    c, hub = _configure(
        tmp_path, "hub_values", profiles, ceilings={"mem_limit": "8G", "mem_guarantee": "2G"}
    )
    c.ManagedKubeSpawner.settings_snapshot.close()
    assert hub.hub_values["profiles"] == profiles


def test_a_spawn_that_selects_no_limit_under_a_ceiling_is_refused():
    ceilings = Ceilings.from_config({"mem_limit": "8G"})
    profiles = [
        {
            "display_name": "Sizes",
            "slug": "sizes",
            "kubespawner_override": {"mem_limit": "4G"},
            "profile_options": {
                "size": {
                    "display_name": "Size",
                    "choices": {
                        "small": {"display_name": "Small"},
                        "all": {"display_name": "All", "kubespawner_override": {"mem_limit": None}},
                    },
                }
            },
        }
    ]
    from jhub_managed.settings import override_errors

    small = select_profile(profiles, [], {"profile": "sizes", "size": "small"})
    assert override_errors(small.override, ceilings, "") == []
    unbounded = select_profile(profiles, [], {"profile": "sizes", "size": "all"})
    (error,) = override_errors(unbounded.override, ceilings, "")
    assert error.path == "/mem_limit" and "null means no memory limit" in error.message


def test_a_typed_memory_is_judged_at_spawn_with_the_value_not_at_start(tmp_path):
    """``mem_limit: "{value}"`` in a free-text choice, as KubeSpawner takes it: the hub
    starts; the typed value meets the ceiling when a server is asked for."""
    from jhub_managed.settings import document_errors, override_errors

    ceilings = Ceilings.from_config({"mem_limit": "8G"})
    unlisted = {
        "enabled": True,
        "display_name": "Other",
        "validation_regex": "^[0-9]+G$",
        "kubespawner_override": {"mem_limit": "{value}", "mem_guarantee": "{value}"},
    }
    profiles = [
        {
            "display_name": "Memory",
            "slug": "memory",
            "profile_options": {"memory": {"display_name": "Memory", "unlisted_choice": unlisted}},
        }
    ]
    assert document_errors({"profiles": profiles}, ceilings) == []
    _configure(tmp_path, "profile_list", profiles, ceilings={"mem_limit": "8G"})
    chosen = {"profile": "memory", "memory--unlisted-choice": "4G"}
    fits = select_profile(profiles, [], chosen)
    assert fits.override["mem_limit"] == "4G"
    assert override_errors(fits.override, ceilings, "") == []
    over = select_profile(profiles, [], {**chosen, "memory--unlisted-choice": "64G"})
    assert [e.path for e in override_errors(over.override, ceilings, "")] == ["/mem_limit"]
    # a fixed value beside the typed one is still judged at start
    unlisted["kubespawner_override"]["cpu_limit"] = 99
    ceilings = Ceilings.from_config({"mem_limit": "8G", "cpu_limit": 4})
    (error,) = document_errors({"profiles": profiles}, ceilings)
    assert error.path.endswith("/unlisted_choice/kubespawner_override/cpu_limit")


# -- a hub admin's save, judged on what it adds or changes -----------------------------------

OPERATOR = {"profiles": as_list(profile_list("course-with-notes"))}
CEILINGS = Ceilings.from_config({"mem_limit": "16G"})


def _editor(db_url, hub_values=OPERATOR) -> SettingsEditor:
    return SettingsEditor(SettingsSource(db_url, hub_values=hub_values), CEILINGS)


def test_the_operators_content_never_fails_a_save(db_url):
    editor = _editor(db_url)
    served = editor.current().document
    saved = editor.save(copy.deepcopy(served), author="admin", expected_version=0)
    assert saved.settings == served
    # the same document judged as a hub admin's own would be refused: all of it is the
    # operator's here
    assert save_errors(served, CEILINGS) != []
    editor.source.store.dispose()


def test_a_save_served_before_the_operator_changed_the_list_still_saves(db_url):
    """The hub admin's layer holds its copy of the profiles: when the operator then changes
    a key of theirs, the copy in force is still the hub admin's to save back."""
    editor = _editor(db_url)
    served = copy.deepcopy(editor.current().document)
    editor.save(served, author="admin", expected_version=0)
    editor.source.store.dispose()
    changed = copy.deepcopy(OPERATOR)
    changed["profiles"][0]["x-priority"] = 99
    editor = _editor(db_url, changed)  # the hub restarted with the operator's new list
    document = copy.deepcopy(editor.current().document)
    assert document["profiles"][0]["x-priority"] == 10  # the hub admin's copy
    document["announcement"] = {"text": "Hello"}
    editor.save(document, author="admin", expected_version=1)
    # what they add is still theirs to answer for
    document["profiles"][0]["x-new"] = True
    with pytest.raises(SaveRefused, match="'x-new' was unexpected"):
        editor.save(document, author="admin", expected_version=2)
    assert editor.current().version == 2
    editor.source.store.dispose()


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda p: p.update(slug="new"), "/profiles/0", "'tags', 'x-priority' were unexpected"),
        (lambda p: p.update(default="yes"), "/profiles/0/default", "is not of type 'boolean'"),
        (
            lambda p: p["profile_options"]["image"]["choices"]["stable"].update(slug=""),
            "/profiles/0/profile_options/image/choices/stable/slug",
            "should be non-empty",
        ),
        (
            lambda p: p["profile_options"]["image"].update(dynamic_image_building="yes"),
            "/profiles/0/profile_options/image/dynamic_image_building",
            "is not of type 'object'",
        ),
        (
            lambda p: p["kubespawner_override"].update(mem_limit=None),
            "/profiles/0/kubespawner_override/mem_limit",
            "null means no memory limit",
        ),
    ],
    ids=["renamed-so-its-keys-are-the-admins", "text-default", "empty-choice-slug",
         "descriptive-key-of-the-wrong-type", "null-limit-over-a-ceiling"],
)  # fmt: skip
def test_what_a_hub_admin_changes_is_judged(change, path, words):
    base = resolve_layers([operator_layer(OPERATOR)])
    document = copy.deepcopy(base)
    change(document["profiles"][0])
    errors = save_errors(document, CEILINGS, base=base, previous=base)
    assert any(e.path == path and words in e.message for e in errors), errors


def test_the_descriptive_keys_are_a_hub_admins_too():
    own = {
        "display_name": "Own",
        "slug": "own",
        "profile_options": {
            "image": {
                "display_name": "Image",
                "dynamic_image_building": {"enabled": True},
                "choices": {"a": {"display_name": "A", "slug": "a"}},
                "unlisted_choice": {
                    "enabled": True,
                    "description": "Any image",
                    "description_in_choices": "Type one",
                    "kubespawner_override": {"image": "{value}"},
                },
            }
        },
    }
    assert save_errors({"profiles": [own]}) == []
    own["profile_options"]["image"]["x-other"] = 1
    assert [e.message for e in save_errors({"profiles": [own]})] == [
        "Additional properties are not allowed ('x-other' was unexpected)"
    ]


# -- the profile form keeps what it does not show ---------------------------------------------


@pytest.mark.parametrize("name", LISTS)
def test_the_profile_form_gives_back_each_operators_profile(name):
    for profile in KubeSpawner._get_initialized_profile_list(None, as_list(profile_list(name))):
        back, _, errors = view_to_profile(profile_to_view(profile), profile)
        assert errors == {}
        assert _meaning(back) == _meaning(profile)


def _meaning(profile: dict) -> dict:
    """A profile as KubeSpawner reads it: flags as Python takes them, GPU counts as numbers,
    no empty overrides or disabled free-text choices without text."""
    profile = json.loads(json.dumps(profile))

    def walk(node):
        if isinstance(node, dict):
            for key in ("default", "enabled"):
                if key in node and not isinstance(node[key], dict):
                    node[key] = bool(node[key])
            if node.get("kubespawner_override") == {}:
                del node["kubespawner_override"]
            if node.get("unlisted_choice") == {"enabled": False}:
                del node["unlisted_choice"]
            for key in ("extra_resource_limits", "extra_resource_guarantees"):
                if isinstance(node.get(key), dict):
                    node[key] = {k: int(v) for k, v in node[key].items()}
            for value in node.values():
                walk(value)

    walk(profile)
    return profile


def test_the_profile_form_keeps_the_operators_names_but_checks_new_ones():
    profile = {
        "display_name": "Odd names",
        "slug": "Odd Slug",
        "profile_options": {
            "py3.11": {"display_name": "Python", "choices": {"v1.0": {"display_name": "1.0"}}}
        },
    }
    view = profile_to_view(profile)
    back, _, errors = view_to_profile(view, profile)
    assert errors == {} and back == profile
    _, _, errors = view_to_profile(view)  # a new profile with the same names
    assert set(errors) == {"slug", "o0-key", "o0-c0-key"}


def test_null_limits_show_in_the_json_box_and_come_back():
    profile = {
        "display_name": "Open",
        "slug": "open",
        "kubespawner_override": {"cpu_limit": None, "mem_limit": None, "mem_guarantee": "1G"},
    }
    view = profile_to_view(profile)
    assert view["cpu_limit"] == "" and view["mem_guarantee"] == "1G"
    assert json.loads(view["extra"]) == {"cpu_limit": None, "mem_limit": None}
    back, _, errors = view_to_profile(view, profile)
    assert errors == {} and back == profile
    view["mem_limit"] = "2G"  # and a number in its field besides: which one is meant?
    _, _, errors = view_to_profile(view, profile)
    assert errors == {"extra": ["'mem_limit' has its own field: set it there"]}


def test_the_local_spawner_takes_null_limits_and_removed_variables(tmp_path):
    from jhub_managed.spawner import ManagedLocalSpawner

    c = Config()
    c.ManagedHub.data_dir = str(tmp_path)
    c.ManagedLocalSpawner.environment = {"KEEP": "1", "DROP": "x"}
    c.ManagedLocalSpawner.mem_limit = "1G"
    spawner = ManagedLocalSpawner(config=c)
    spawner.apply_override({"mem_limit": None, "environment": {"DROP": None, "NEW": "2"}})
    assert spawner.mem_limit is None
    assert spawner.environment == {"KEEP": "1", "NEW": "2"}
