"""What hub admins may put in a profile: the allow-list, on save, on restore, in the
operator's layers, and widened by the operator.

``REFUSED`` (``tests/fixtures/refusals.py``) is the table of KubeSpawner settings that touch
security or scheduling (and the environment names and resources inside allowed keys): each
is refused from a hub admin with the path of the key and a message that names it and says
the operator can allow it, and nothing is stored; each is accepted from the operator's
layers. The API and form tests (``test_config_service.py``) and the spawn test
(``test_allowlist_spawn.py``) use this table too.
"""

from __future__ import annotations

import copy

import pytest
from traitlets.config import Config

from jhub_managed.hub import ConfigureError, ManagedHub, configure
from jhub_managed.services.config.editor import SaveRefused, SettingsEditor
from jhub_managed.settings import Ceilings, document_errors
from jhub_managed.settings.allowlist import (
    HUB_ADMIN_KEYS,
    AdminAllowList,
    admin_override_errors,
    refused_profiles,
)
from jhub_managed.settings.schema import KUBESPAWNER_OVERRIDE, SETTINGS_SCHEMA
from jhub_managed.store.source import SettingsSource

from .fixtures.refusals import REFUSED, REFUSED_IDS, profile_with

#: rows that are whole keys outside the list (the others are inside allowed keys)
KEY_ROWS = [row for row in REFUSED if row[1] not in HUB_ADMIN_KEYS]


def base_document(*profiles) -> dict:
    return {"profiles": list(profiles)}


@pytest.fixture
def source(tmp_path):
    def make(hub_values=None, operator_defaults=None) -> SettingsSource:
        return SettingsSource(
            f"sqlite:///{tmp_path / 'allowlist.sqlite'}",
            hub_values=hub_values,
            operator_defaults=operator_defaults,
        )

    return make


def test_the_schema_closes_kubespawner_override_and_describes_every_key():
    assert KUBESPAWNER_OVERRIDE["additionalProperties"] is False
    assert HUB_ADMIN_KEYS == {
        "image", "cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit",
        "extra_resource_limits", "extra_resource_guarantees", "node_selector",
        "environment", "default_url",
    }  # fmt: skip
    for key, schema in KUBESPAWNER_OVERRIDE["properties"].items():
        assert schema.get("description"), key
    profile = SETTINGS_SCHEMA["properties"]["profiles"]["items"]
    choice = profile["properties"]["profile_options"]["additionalProperties"]
    unlisted = choice["properties"]["unlisted_choice"]
    assert unlisted["properties"]["kubespawner_override"]["additionalProperties"] is False


@pytest.mark.parametrize(("key", "value", "pointer"), [r[1:] for r in REFUSED], ids=REFUSED_IDS)
def test_a_hub_admin_save_is_refused_and_stores_nothing(source, key, value, pointer):
    editor = SettingsEditor(source(), Ceilings())
    with pytest.raises(SaveRefused) as refused:
        editor.save(base_document(profile_with(key, value)), author="admin", expected_version=0)
    errors = {e.path: e.message for e in refused.value.errors}
    path = "/profiles/0/kubespawner_override" + pointer
    assert path in errors, errors
    assert "operator" in errors[path]
    assert editor.store.current_version() == 0


@pytest.mark.parametrize(("key", "value", "pointer"), [r[1:] for r in REFUSED], ids=REFUSED_IDS)
def test_refused_in_a_choice_and_in_an_unlisted_choice_too(source, key, value, pointer):
    profile = {
        "display_name": "Lab",
        "slug": "lab",
        "profile_options": {
            "size": {
                "display_name": "Size",
                "choices": {"big": {"display_name": "Big", "kubespawner_override": {key: value}}},
                "unlisted_choice": {
                    "enabled": True,
                    "kubespawner_override": {"image": "{value}", key: value},
                },
            }
        },
    }
    editor = SettingsEditor(source(), Ceilings())
    with pytest.raises(SaveRefused) as refused:
        editor.save(base_document(profile), author="admin", expected_version=0)
    paths = {e.path for e in refused.value.errors}
    option = "/profiles/0/profile_options/size"
    assert f"{option}/choices/big/kubespawner_override{pointer}" in paths
    assert f"{option}/unlisted_choice/kubespawner_override{pointer}" in paths
    assert editor.store.current_version() == 0


@pytest.mark.parametrize(("key", "value", "pointer"), [r[1:] for r in REFUSED], ids=REFUSED_IDS)
def test_accepted_from_the_operators_layers(tmp_path, source, key, value, pointer):
    layer = base_document(profile_with(key, value))
    assert document_errors(layer, Ceilings()) == []
    # configure() takes it in either layer
    for option in ("operator_defaults", "hub_values"):
        configure(Config(), data_dir=str(tmp_path), **{option: layer})
    # and a hub admin who saves the operator's profile back, or reorders around it, or
    # changes only what they may, is not refused for what the operator set
    editor = SettingsEditor(source(hub_values=layer), Ceilings())
    document = editor.current().document
    document["profiles"].insert(0, profile_with("default_url", "/lab", slug="mine"))
    document["profiles"][1]["description"] = "edited by a hub admin"
    document["profiles"][1]["kubespawner_override"]["cpu_limit"] = 1
    saved = editor.save(document, author="admin", expected_version=0)
    assert saved.version == 1
    # but changing the operator's value is the hub admin's doing
    changed = copy.deepcopy(saved.settings)
    if key == "environment":
        changed["profiles"][1]["kubespawner_override"][key] = {name: "changed" for name in value}
    elif key in ("extra_resource_limits", "extra_resource_guarantees"):
        changed["profiles"][1]["kubespawner_override"][key] = {name: 3 for name in value}
    else:
        changed["profiles"][1]["kubespawner_override"][key] = "changed"
    with pytest.raises(SaveRefused):
        editor.save(changed, author="admin", expected_version=1)
    # nor does a copy of the operator's profile under a new slug carry it along
    copied = copy.deepcopy(saved.settings)
    copied["profiles"].append({**copy.deepcopy(copied["profiles"][1]), "slug": "copy"})
    with pytest.raises(SaveRefused):
        editor.save(copied, author="admin", expected_version=1)
    assert editor.store.current_version() == 1


@pytest.mark.parametrize(("key", "value", "pointer"), [r[1:] for r in KEY_ROWS],
                         ids=[r[0] for r in KEY_ROWS])  # fmt: skip
def test_a_widened_key_is_accepted_from_a_hub_admin(source, key, value, pointer):
    editor = SettingsEditor(source(), Ceilings(), allow=AdminAllowList.from_config([key]))
    saved = editor.save(base_document(profile_with(key, value)), author="admin", expected_version=0)
    assert saved.settings["profiles"][0]["kubespawner_override"][key] == value
    # only that key: the others stay refused
    other = next(k for _, k, _, _ in KEY_ROWS if k != key)
    document = base_document(profile_with(other, True))
    with pytest.raises(SaveRefused):
        editor.save(document, author="admin", expected_version=1)


def test_any_key_allowed_still_refuses_reserved_names_and_unnamed_resources(source):
    allow = AdminAllowList.from_config(["*"])
    editor = SettingsEditor(source(), Ceilings(), allow=allow)
    for _, key, value, pointer in REFUSED:
        errors = admin_override_errors(
            base_document(profile_with(key, value)), {}, allow, Ceilings()
        )
        if key in HUB_ADMIN_KEYS:
            assert [e.path for e in errors] == ["/profiles/0/kubespawner_override" + pointer]
        else:
            assert errors == [], key
    assert (
        editor.save(
            base_document(profile_with("tolerations", [{"operator": "Exists"}])),
            author="admin",
            expected_version=0,
        ).version
        == 1
    )


def test_resources_the_operator_names_are_allowed_within_their_ceiling(source):
    ceilings = Ceilings.from_config({"extra_resources": {"example.com/fpga": 2}, "gpu_limit": 1})
    editor = SettingsEditor(source(), ceilings)
    fine = profile_with("extra_resource_limits", {"example.com/fpga": 2, "nvidia.com/gpu": 1})
    assert editor.save(base_document(fine), author="admin", expected_version=0).version == 1
    for too_much in ({"example.com/fpga": 3}, {"nvidia.com/gpu": 2}):
        with pytest.raises(SaveRefused) as refused:
            editor.save(
                base_document(profile_with("extra_resource_limits", too_much)),
                author="admin",
                expected_version=1,
            )
        assert any("ceiling" in e.message for e in refused.value.errors)
    assert editor.store.current_version() == 1


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"extra_resources": ["example.com/fpga"]}, "mapping of resource names"),
        ({"extra_resources": {"example.com/fpga": "two"}}, "not a whole number"),
        ({"extra_resources": {"nvidia.com/gpu": 2}}, "gpu_limit"),
    ],
)
def test_wrong_extra_resources_ceilings_are_clear_errors(tmp_path, config, words):
    with pytest.raises(ConfigureError) as info:
        configure(Config(), data_dir=str(tmp_path), ceilings=config)
    assert words in str(info.value)


@pytest.mark.parametrize("keys", [["privileged", "no such key!"], [5], ["*", ""]])
def test_wrong_widening_is_a_clear_error_at_start(tmp_path, keys):
    with pytest.raises(ConfigureError) as info:
        configure(Config(), data_dir=str(tmp_path), hub_admin_override_keys=keys)
    assert "hub_admin_override_keys" in str(info.value)


def test_the_widening_reaches_the_services_and_the_spawners(tmp_path):
    c = Config()
    configure(c, data_dir=str(tmp_path), hub_admin_override_keys=["tolerations"])
    assert c.ManagedKubeSpawner.managed_hub.hub_admin_override_keys == ["tolerations"]
    assert c.ManagedLocalSpawner.managed_hub.hub_admin_override_keys == ["tolerations"]
    config = next(s for s in c.JupyterHub.services if s["name"] == "config")
    assert ManagedHub.from_environment(config["environment"]).hub_admin_override_keys == [
        "tolerations"
    ]


def test_a_restore_of_a_version_with_a_refused_key_is_refused_and_restores_nothing(source):
    editor = SettingsEditor(source(), Ceilings())
    # a version that reached the store without the editor (written to the database directly)
    editor.store.save(
        base_document(profile_with("privileged", True)), author="db", expected_version=0
    )
    editor.save(base_document(profile_with("cpu_limit", 1)), author="admin", expected_version=1)
    with pytest.raises(SaveRefused) as refused:
        editor.restore(1, author="admin")
    assert any(e.path.endswith("/privileged") for e in refused.value.errors)
    assert editor.store.current_version() == 2


def test_refused_profiles_names_each_profile_and_why():
    document = base_document(
        profile_with("cpu_limit", 1, slug="fine"),
        profile_with("privileged", True, slug="bad"),
        profile_with("environment", {"JUPYTERHUB_API_TOKEN": "x"}, slug="worse"),
    )
    refused = refused_profiles(document, {}, AdminAllowList(), Ceilings())
    assert sorted(refused) == [1, 2]
    assert refused[1][0].path == "/profiles/1/kubespawner_override/privileged"
    # the operator's own profiles are never refused
    assert refused_profiles(document, document, AdminAllowList(), Ceilings()) == {}


@pytest.mark.parametrize(
    "value", [None, {"valueFrom": {"secretKeyRef": {"name": "hub", "key": "token"}}}, 3]
)
def test_a_hub_admins_environment_values_are_text(value):
    from jhub_managed.settings import Ceilings, document_errors
    from jhub_managed.settings.allowlist import AdminAllowList, admin_override_errors

    mine = {
        "profiles": [
            {
                "display_name": "A",
                "slug": "a",
                "kubespawner_override": {"environment": {"X": value}},
            }
        ]
    }
    schema_or_rule = document_errors(mine, Ceilings()) + admin_override_errors(
        mine, {}, AdminAllowList(), Ceilings()
    )
    assert schema_or_rule, "a hub admin's non-text environment value was accepted"
    # the operator's own layer may remove a variable or read it from a secret
    if value is not None and not isinstance(value, dict):
        return
    assert document_errors(mine, Ceilings()) == []
    assert admin_override_errors(mine, mine, AdminAllowList(), Ceilings()) == []
