"""Table tests of the settings document: layers, group filtering, spawn requests, validation
and the announcement."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest

from jhub_managed.settings import (
    MAX_DOCUMENT_BYTES,
    Ceilings,
    ProfileRequestError,
    document_errors,
    override_errors,
    profiles_for_groups,
    resolve_layers,
    select_profile,
)
from jhub_managed.settings.admin import save_errors
from jhub_managed.settings.announcement import announcement_html
from jhub_managed.settings.validate import json_errors

# ------------------------------------------------------------------------------------------
# layered resolution
# ------------------------------------------------------------------------------------------

OPERATOR = {
    "branding": {"organization_name": "Fleet", "contact": "help@fleet.example"},
    "announcement": {"text": "Fleet-wide notice", "level": "info", "show_on": ["login", "home"]},
    "profiles": [
        {"slug": "op-small", "display_name": "Operator small"},
        {"slug": "op-large", "display_name": "Operator large"},
    ],
}
HUB = {
    "branding": {"organization_name": "Physics Hub", "logo_url": "https://physics.example/l.png"},
    "profiles": [{"slug": "hub-small", "display_name": "Hub small"}],
}


@pytest.mark.parametrize(
    "layers, expected",
    [
        pytest.param([], {"profiles": []}, id="nothing-at-all"),
        pytest.param([None, None, None], {"profiles": []}, id="none-layers-skipped"),
        pytest.param([OPERATOR, None, None], OPERATOR, id="operator-defaults-alone"),
        pytest.param(
            [OPERATOR, HUB, None],
            {
                # mappings merge key by key, later layers win
                "branding": {
                    "organization_name": "Physics Hub",
                    "contact": "help@fleet.example",
                    "logo_url": "https://physics.example/l.png",
                },
                "announcement": OPERATOR["announcement"],
                # lists replace: the hub's profiles are the list, not an addition
                "profiles": HUB["profiles"],
            },
            id="hub-values-over-operator",
        ),
        pytest.param(
            [OPERATOR, HUB, {"announcement": {"text": "Admins' notice", "show_on": ["spawn"]}}],
            {
                "branding": {
                    "organization_name": "Physics Hub",
                    "contact": "help@fleet.example",
                    "logo_url": "https://physics.example/l.png",
                },
                "announcement": {"text": "Admins' notice", "level": "info", "show_on": ["spawn"]},
                "profiles": HUB["profiles"],
            },
            id="admin-edits-merge-into-mappings-and-replace-lists",
        ),
        pytest.param(
            [OPERATOR, HUB, {"profiles": []}],
            {**OPERATOR, "branding": {**OPERATOR["branding"], **HUB["branding"]}, "profiles": []},
            id="admin-empty-profile-list-replaces",
        ),
        pytest.param(
            [OPERATOR, None, {"profiles": [{"slug": "mine", "display_name": "Mine"}]}],
            {**OPERATOR, "profiles": [{"slug": "mine", "display_name": "Mine"}]},
            id="admin-edits-over-operator-without-hub-values",
        ),
    ],
)
def test_resolve_layers(layers, expected):
    before = copy.deepcopy(layers)
    assert resolve_layers(layers) == expected
    assert layers == before, "resolving must not change the layers"


def test_resolved_document_is_independent_of_its_layers():
    resolved = resolve_layers([OPERATOR, HUB])
    resolved["branding"]["organization_name"] = "changed"
    resolved["profiles"].append({"slug": "extra"})
    assert OPERATOR["branding"]["organization_name"] == "Fleet"
    assert HUB["branding"]["organization_name"] == "Physics Hub"
    assert len(HUB["profiles"]) == 1


# ------------------------------------------------------------------------------------------
# profiles: who sees what
# ------------------------------------------------------------------------------------------

QUAY_IMAGE = "quay.io/jupyter/scipy-notebook:2025-02-03"
PROFILES = [
    {
        "slug": "small",
        "display_name": "Small",
        "kubespawner_override": {"cpu_limit": 1, "mem_limit": "2G"},
    },
    {
        "slug": "gpu",
        "display_name": "GPU",
        "allowed_groups": ["ML-Team"],
        "kubespawner_override": {"extra_resource_limits": {"nvidia.com/gpu": 1}},
    },
    {
        "slug": "custom",
        "display_name": "Custom",
        "default": True,
        "kubespawner_override": {"cpu_limit": 2, "environment": {"PROFILE": "custom"}},
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {
                    "base": {
                        "display_name": "Base",
                        "kubespawner_override": {
                            "image": "quay.io/jupyter/base-notebook:2025-01-01"
                        },
                    },
                    "r": {
                        "display_name": "R",
                        "default": True,
                        "kubespawner_override": {"image": "quay.io/jupyter/r-notebook:2025-01-01"},
                    },
                    "secret": {
                        "display_name": "Secret image",
                        "allowed_groups": ["staff", "Admins"],
                        "kubespawner_override": {"image": "registry.example.org/secret:1"},
                    },
                },
                "unlisted_choice": {
                    "enabled": True,
                    "display_name": "Other image",
                    # no anchors on purpose: only fullmatch makes this safe
                    "validation_regex": r"quay\.io/jupyter/[a-z-]+:[0-9-]+",
                    "validation_message": "use a quay.io/jupyter image with a date tag",
                    "kubespawner_override": {"image": "{value}"},
                    "allowed_groups": ["power-users"],
                },
            },
            "size": {
                "display_name": "Size",
                "choices": {
                    "s": {"display_name": "S", "kubespawner_override": {"mem_limit": "1G"}},
                    "xl": {
                        "display_name": "XL",
                        "allowed_groups": ["power-users"],
                        "kubespawner_override": {
                            "mem_limit": "64G",
                            "environment": {"SIZE": "xl"},
                        },
                    },
                },
            },
        },
    },
    {
        "slug": "pinned",
        "display_name": "Pinned version",
        "profile_options": {
            "version": {
                "display_name": "Version",
                "unlisted_choice": {
                    "enabled": True,
                    "validation_regex": r"^v[0-9]+$",
                    "kubespawner_override": {"environment": {"VERSION": "{value}"}},
                },
            }
        },
    },
    {
        # open to everyone at profile level, but every choice is for physicists only
        "slug": "physics",
        "display_name": "Physics",
        "profile_options": {
            "kernel": {
                "display_name": "Kernel",
                "choices": {
                    "qft": {"display_name": "QFT", "allowed_groups": ["physics"]},
                    "lattice": {"display_name": "Lattice", "allowed_groups": ["Physics"]},
                },
            }
        },
    },
]


def summarize(profiles: list[dict]) -> dict:
    """slug -> {option: choices (default first, marked *), plus '+other' if free text}."""
    summary = {}
    for profile in profiles:
        options = {}
        for key, option in (profile.get("profile_options") or {}).items():
            names = [
                f"*{name}" if choice.get("default") else name
                for name, choice in option.get("choices", {}).items()
            ]
            unlisted = option.get("unlisted_choice") or {}
            if unlisted.get("enabled"):
                names.append("+other")
            options[key] = names
        summary[("*" if profile.get("default") else "") + profile["slug"]] = options
    return summary


@pytest.mark.parametrize(
    "groups, expected",
    [
        pytest.param(
            None,
            {
                "small": {},
                "*custom": {"image": ["base", "*r"], "size": ["*s"]},
                "pinned": {"version": ["+other"]},
            },
            id="no-groups-sees-open-profiles-and-choices",
        ),
        pytest.param(
            ["ml-team"],
            {
                "small": {},
                "gpu": {},
                "*custom": {"image": ["base", "*r"], "size": ["*s"]},
                "pinned": {"version": ["+other"]},
            },
            id="profile-allowed-group-case-insensitive",
        ),
        pytest.param(
            ["STAFF"],
            {
                "small": {},
                "*custom": {"image": ["base", "*r", "secret"], "size": ["*s"]},
                "pinned": {"version": ["+other"]},
            },
            id="choice-allowed-group-case-insensitive",
        ),
        pytest.param(
            ["Power-Users"],
            {
                "small": {},
                "*custom": {"image": ["base", "*r", "+other"], "size": ["*s", "xl"]},
                "pinned": {"version": ["+other"]},
            },
            id="unlisted-choice-allowed-group",
        ),
        pytest.param(
            ["PHYSICS"],
            {
                "small": {},
                "*custom": {"image": ["base", "*r"], "size": ["*s"]},
                "pinned": {"version": ["+other"]},
                "physics": {"kernel": ["*qft", "lattice"]},
            },
            id="profile-with-choices-for-a-group-shown-to-it",
        ),
        pytest.param(
            ["unrelated", "groups"],
            {
                "small": {},
                "*custom": {"image": ["base", "*r"], "size": ["*s"]},
                "pinned": {"version": ["+other"]},
            },
            id="option-without-allowed-choices-hides-profile",
        ),
    ],
)
def test_profiles_for_groups(groups, expected):
    before = copy.deepcopy(PROFILES)
    assert summarize(profiles_for_groups(PROFILES, groups)) == expected
    assert PROFILES == before, "filtering for one user must not change the stored profiles"


@pytest.mark.parametrize(
    "profiles, groups, expected_default",
    [
        pytest.param(
            [{"slug": "a"}, {"slug": "b", "default": True}, {"slug": "c"}],
            [],
            "b",
            id="marked-default",
        ),
        pytest.param([{"slug": "a"}, {"slug": "b"}], [], "a", id="no-default-first-wins"),
        pytest.param(
            [{"slug": "a"}, {"slug": "b", "default": True, "allowed_groups": ["staff"]}],
            [],
            "a",
            id="default-hidden-first-visible-wins",
        ),
        pytest.param(
            [{"slug": "a"}, {"slug": "b", "default": True, "allowed_groups": ["staff"]}],
            ["Staff"],
            "b",
            id="default-visible-to-its-group",
        ),
        pytest.param(
            [{"slug": "a", "default": True}, {"slug": "b", "default": True}],
            [],
            "a",
            id="two-marked-only-first-stays",
        ),
    ],
)
def test_exactly_one_default_profile(profiles, groups, expected_default):
    profiles = [{"display_name": p["slug"].upper(), **p} for p in profiles]
    visible = profiles_for_groups(profiles, groups)
    assert [p["slug"] for p in visible if p.get("default")] == [expected_default]


@pytest.mark.parametrize(
    "choices, groups, expected_default",
    [
        pytest.param({"a": {}, "b": {"default": True}}, [], "b", id="marked"),
        pytest.param({"a": {}, "b": {}}, [], "a", id="unmarked-first"),
        pytest.param(
            {"a": {}, "b": {"default": True, "allowed_groups": ["staff"]}},
            [],
            "a",
            id="default-hidden",
        ),
        pytest.param(
            {"a": {"default": True}, "b": {"default": True}}, [], "a", id="two-marked-first"
        ),
    ],
)
def test_exactly_one_default_choice_and_spawn_agrees(choices, groups, expected_default):
    profile = {
        "slug": "p",
        "display_name": "P",
        "profile_options": {
            "o": {
                "display_name": "O",
                "choices": {k: {"display_name": k.upper(), **c} for k, c in choices.items()},
            }
        },
    }
    (visible,) = profiles_for_groups([profile], groups)
    shown = visible["profile_options"]["o"]["choices"]
    assert [k for k, c in shown.items() if c.get("default")] == [expected_default]
    # what the form pre-selects is what a request without the option gets
    assert select_profile([profile], groups, {"profile": "p"}).choices == {"o": expected_default}


# ------------------------------------------------------------------------------------------
# select_profile: spawn requests that are fine
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "groups, user_options, expected_options, expected_override",
    [
        pytest.param(
            [],
            {},
            {"profile": "custom", "image": "r", "size": "s"},
            {
                "cpu_limit": 2,
                "image": "quay.io/jupyter/r-notebook:2025-01-01",
                "mem_limit": "1G",
                "environment": {"PROFILE": "custom"},
            },
            id="nothing-sent-takes-default-profile-and-choices",
        ),
        pytest.param(
            [],
            None,
            {"profile": "custom", "image": "r", "size": "s"},
            None,
            id="none-takes-defaults",
        ),
        pytest.param(
            [],
            {"profile": ""},
            {"profile": "custom", "image": "r", "size": "s"},
            None,
            id="empty-profile-takes-default",
        ),
        pytest.param(
            [],
            {"profile": "small"},
            {"profile": "small"},
            {"cpu_limit": 1, "mem_limit": "2G"},
            id="profile-without-options",
        ),
        pytest.param(
            [],
            {"profile": "custom", "image": "base"},
            {"profile": "custom", "image": "base", "size": "s"},
            None,
            id="missing-option-takes-default",
        ),
        pytest.param(
            [],
            {"profile": "custom", "image": "", "size": ""},
            {"profile": "custom", "image": "r", "size": "s"},
            None,
            id="empty-option-takes-default",
        ),
        pytest.param(
            ["admins"],
            {"profile": "custom", "image": "secret"},
            {"profile": "custom", "image": "secret", "size": "s"},
            None,
            id="restricted-choice-for-its-group",
        ),
        pytest.param(
            ["ML-TEAM"],
            {"profile": "gpu"},
            {"profile": "gpu"},
            {"extra_resource_limits": {"nvidia.com/gpu": 1}},
            id="restricted-profile-for-its-group",
        ),
        pytest.param(
            ["power-users"],
            {"profile": "custom", "image--unlisted-choice": QUAY_IMAGE, "size": "xl"},
            {
                "profile": "custom",
                "size": "xl",
                "image--unlisted-choice": QUAY_IMAGE,
            },
            {
                "cpu_limit": 2,
                "image": QUAY_IMAGE,
                "mem_limit": "64G",
                # environment from the profile and the choice merge
                "environment": {"PROFILE": "custom", "SIZE": "xl"},
            },
            id="unlisted-choice-fills-value",
        ),
        pytest.param(
            ["power-users"],
            {"profile": "custom", "image": "unlisted_choice", "image--unlisted-choice": QUAY_IMAGE},
            {"profile": "custom", "size": "s", "image--unlisted-choice": QUAY_IMAGE},
            None,
            id="unlisted-choice-picked-in-form",
        ),
        pytest.param(
            [],
            {"profile": "pinned", "version--unlisted-choice": "v12"},
            {"profile": "pinned", "version--unlisted-choice": "v12"},
            {"environment": {"VERSION": "v12"}},
            id="anchored-regex-exact-value",
        ),
    ],
)
def test_select_profile_accepts(groups, user_options, expected_options, expected_override):
    selection = select_profile(PROFILES, groups, user_options)
    assert selection.user_options() == expected_options
    if expected_override is not None:
        assert selection.override == expected_override


# ------------------------------------------------------------------------------------------
# select_profile: spawn requests that are refused (SECURITY.md: option injection, privilege)
# ------------------------------------------------------------------------------------------

TEN_KB = "x" * 10 * 1024


@pytest.mark.parametrize(
    "groups, user_options, status, fragments",
    [
        # unlisted choices are matched whole
        pytest.param(
            ["power-users"],
            {"profile": "custom", "image--unlisted-choice": QUAY_IMAGE + "x@evil.example/miner"},
            400,
            ["use a quay.io/jupyter image with a date tag", "Image"],
            id="unanchored-regex-longer-value",
        ),
        pytest.param(
            ["power-users"],
            {"profile": "custom", "image--unlisted-choice": "evil.example/" + QUAY_IMAGE},
            400,
            ["use a quay.io/jupyter image"],
            id="unanchored-regex-value-with-prefix",
        ),
        pytest.param(
            [],
            {"profile": "pinned", "version--unlisted-choice": "v1\n"},
            400,
            ["not accepted for 'Version'", "must match the pattern ^v[0-9]+$"],
            id="anchored-regex-trailing-newline",
        ),
        pytest.param(
            [],
            {"profile": "pinned", "version--unlisted-choice": "v1; rm -rf /"},
            400,
            ["not accepted"],
            id="anchored-regex-longer-value",
        ),
        # allowed groups
        pytest.param(
            [],
            {"profile": "custom", "image": "secret"},
            403,
            ["Secret image", "'staff'", "'Admins'"],
            id="choice-exists-but-not-allowed",
        ),
        pytest.param(
            ["power-users-2"],
            {"profile": "custom", "size": "xl"},
            403,
            ["'XL'", "'Size'", "group 'power-users'"],
            id="choice-not-allowed-similar-group",
        ),
        pytest.param(
            ["ml"],
            {"profile": "gpu"},
            403,
            ["'GPU'", "group 'ML-Team'"],
            id="profile-not-allowed",
        ),
        pytest.param(
            ["staff"],
            {"profile": "custom", "image--unlisted-choice": QUAY_IMAGE},
            403,
            ["own value for 'Image'", "'power-users'"],
            id="unlisted-choice-not-allowed",
        ),
        pytest.param(
            [],
            {"profile": "physics"},
            400,
            ["Choose a value for 'Kernel'"],
            id="option-with-no-allowed-choice",
        ),
        pytest.param(
            [],
            {"profile": "physics", "kernel": "qft"},
            403,
            ["'QFT'", "'physics'"],
            id="choice-of-hidden-profile",
        ),
        # unknown names
        pytest.param(
            [], {"profile": "huge"}, 400, ["Unknown profile 'huge'"], id="unknown-profile"
        ),
        pytest.param(
            [],
            {"profile": "custom", "image": "gpu-image"},
            400,
            ["Unknown choice 'gpu-image'", "'Image'", "'custom'"],
            id="unknown-choice",
        ),
        pytest.param(
            [],
            {"profile": "custom", "image": "unlisted_choice"},
            400,
            ["but typed nothing", "or pick one from the list"],
            id="unlisted-choice-picked-without-value",
        ),
        pytest.param(
            [],
            {"profile": "custom", "colour": "red"},
            400,
            ["Unknown option 'colour'", "'custom'"],
            id="unknown-option",
        ),
        pytest.param(
            [],
            {"profile": "small", "image": "base"},
            400,
            ["Unknown option 'image'", "'small'"],
            id="option-of-another-profile",
        ),
        pytest.param(
            [],
            {"profile": "custom", "size--unlisted-choice": "huge"},
            400,
            ["'Size' does not take a value of your own"],
            id="free-text-where-none-is-taken",
        ),
        # size
        pytest.param(
            [], {"profile": TEN_KB}, 400, ["'profile' is too long", "10240"], id="10kb-profile"
        ),
        pytest.param(
            [],
            {"profile": "custom", "image": TEN_KB},
            400,
            ["'image' is too long"],
            id="10kb-choice",
        ),
        pytest.param(
            ["power-users"],
            {"profile": "custom", "image--unlisted-choice": "quay.io/jupyter/a:" + "1" * 10240},
            400,
            ["'image' is too long"],
            id="10kb-unlisted-value-even-if-it-matches",
        ),
        pytest.param(
            [], {"profile": "custom", TEN_KB: "x"}, 400, ["Unknown option"], id="10kb-option-name"
        ),
        # not text
        pytest.param([], {"profile": ["small"]}, 400, ["must be text", "list"], id="profile-list"),
        pytest.param([], {"profile": 3}, 400, ["must be text", "int"], id="profile-int"),
        pytest.param(
            [], {"profile": {"slug": "small"}}, 400, ["must be text", "dict"], id="profile-dict"
        ),
        pytest.param([], {"profile": True}, 400, ["must be text"], id="profile-bool"),
        pytest.param(
            [], {"profile": "custom", "image": 1}, 400, ["'image' must be text"], id="choice-int"
        ),
        pytest.param(
            [],
            {"profile": "custom", "image": ["base"]},
            400,
            ["'image' must be text"],
            id="choice-list",
        ),
        pytest.param(
            ["power-users"],
            {"profile": "custom", "image--unlisted-choice": 42},
            400,
            ["'image' must be text"],
            id="unlisted-int",
        ),
        pytest.param(
            ["power-users"],
            {"profile": "custom", "image--unlisted-choice": {"$ne": ""}},
            400,
            ["'image' must be text"],
            id="unlisted-dict",
        ),
        pytest.param(
            [],
            {"profile": "custom", 7: "x"},
            400,
            ["Unknown option '7'"],
            id="option-name-not-text",
        ),
        pytest.param(
            [], ["profile", "small"], 400, ["must be a mapping"], id="options-not-a-mapping"
        ),
        pytest.param([], "small", 400, ["must be a mapping"], id="options-a-string"),
    ],
)
def test_select_profile_refuses(groups, user_options, status, fragments):
    with pytest.raises(ProfileRequestError) as info:
        select_profile(PROFILES, groups, user_options)
    error = info.value
    assert error.status == status
    for fragment in fragments:
        assert fragment in error.message
    # what goes back to the user and into the log stays short
    assert len(error.message) < 400


@pytest.mark.parametrize(
    "profiles, groups, status, fragment",
    [
        pytest.param([], [], 403, "no profiles", id="hub-without-profiles"),
        pytest.param(
            [{"slug": "a", "display_name": "A", "allowed_groups": ["staff"]}],
            ["students"],
            403,
            "No profile on this hub is open to you",
            id="nothing-open-to-user",
        ),
    ],
)
def test_select_profile_with_nothing_to_offer(profiles, groups, status, fragment):
    with pytest.raises(ProfileRequestError) as info:
        select_profile(profiles, groups, {})
    assert info.value.status == status
    assert fragment in info.value.message


# ------------------------------------------------------------------------------------------
# document_errors: schema, rules, size
# ------------------------------------------------------------------------------------------


def profile(**fields):
    return {"slug": "p", "display_name": "P", **fields}


def with_option(option_key="o", **option):
    return profile(profile_options={option_key: {"display_name": "O", **option}})


#: documents and what is wrong with them (path, words of the message), as a hub admin's
DOCUMENTS = [
    pytest.param({}, [], id="empty-document"),
    pytest.param({"profiles": PROFILES}, [], id="example-profiles"),
    pytest.param(
        {
            "announcement": {
                "text": "Hi",
                "level": "warning",
                "starts_at": "2026-01-01T00:00:00Z",
                "expires_at": "2026-01-02t00:00:00+02:00",
                "show_on": ["login"],
            },
            "branding": {"organization_url": "https://example.org", "logo_url": ""},
        },
        [],
        id="announcement-and-branding",
    ),
    pytest.param([], [("", "is not of type 'object'")], id="not-an-object"),
    pytest.param({"colour": "red"}, [("", "'colour' was unexpected")], id="unknown-key"),
    pytest.param(
        {"profiles": [{"display_name": "A"}]},
        [("/profiles/0", "'slug' is a required property")],
        id="missing-slug",
    ),
    pytest.param(
        {"profiles": [profile(), profile(slug="Bad Slug")]},
        [("/profiles/1/slug", "does not match")],
        id="bad-slug",
    ),
    pytest.param(
        {"profiles": [profile(kubespawner_override={"mem_limit": "2 GB"})]},
        [("/profiles/0/kubespawner_override/mem_limit", "'2 GB'")],
        id="memory-with-space",
    ),
    pytest.param(
        {"profiles": [profile(kubespawner_override={"cpu_limit": -1})]},
        [("/profiles/0/kubespawner_override/cpu_limit", "less than the minimum of 0")],
        id="negative-cpu",
    ),
    pytest.param(
        {"profiles": [profile(kubespawner_override={"environment": {"1BAD": "x"}})]},
        [("/profiles/0/kubespawner_override/environment", "'1BAD'")],
        id="bad-environment-name",
    ),
    pytest.param(
        {"profiles": [with_option("bad key!", choices={"a": {"display_name": "A"}})]},
        [("/profiles/0/profile_options", "'bad key!'")],
        id="bad-option-key",
    ),
    pytest.param(
        {"profiles": [with_option(choices={"a": {"display_name": "A", "image": "x"}})]},
        [("/profiles/0/profile_options/o/choices/a", "'image' was unexpected")],
        id="override-outside-kubespawner-override",
    ),
    pytest.param(
        {"profiles": [profile(idle_timeout=10)]},
        [("/profiles/0/idle_timeout", "less than the minimum of 60")],
        id="idle-timeout-too-short",
    ),
    pytest.param(
        {"profiles": [profile(allowed_groups=["a", "a"])]},
        [("/profiles/0/allowed_groups", "non-unique")],
        id="duplicate-groups",
    ),
    pytest.param(
        {"announcement": {"text": "x", "starts_at": "tomorrow"}},
        [("/announcement/starts_at", "'tomorrow' is not a 'date-time'")],
        id="announcement-bad-time",
    ),
    pytest.param(
        {"announcement": {"text": "x", "level": "critical"}},
        [("/announcement/level", "'critical' is not one of")],
        id="announcement-bad-level",
    ),
    pytest.param(
        {"announcement": {"text": "x", "show_on": ["login", "admin"]}},
        [("/announcement/show_on/1", "'admin' is not one of")],
        id="announcement-bad-page",
    ),
    pytest.param(
        {"announcement": {"text": "x" * 5001}},
        [("/announcement/text", "is 5,001 characters long; at most 5,000 are allowed")],
        id="announcement-too-long",
    ),
    pytest.param(
        {"branding": {"logo_url": "javascript:alert(1)"}},
        [("/branding/logo_url", "does not match")],
        id="branding-javascript-url",
    ),
    pytest.param(
        {"profiles": [profile(), profile(display_name=5), profile(slug=None)]},
        [
            ("/profiles/1/display_name", "5 is not of type 'string'"),
            ("/profiles/2/slug", "None is not of type 'string'"),
        ],
        id="all-errors-at-once-in-order",
    ),
    # rules beyond the schema
    pytest.param(
        {"profiles": [profile(slug="a"), profile(slug="b"), profile(slug="a")]},
        [("/profiles/2/slug", "slug 'a' is already used by profile 1")],
        id="duplicate-slugs",
    ),
    pytest.param(
        {"profiles": [profile(slug="a", default=True), profile(slug="b", default=True)]},
        [("/profiles/1/default", "only one profile can be the default")],
        id="two-defaults",
    ),
    pytest.param(
        {"profiles": [with_option(unlisted_choice={"enabled": True, "validation_regex": "(quay"})]},
        [
            (
                "/profiles/0/profile_options/o/unlisted_choice/validation_regex",
                "not a valid regular expression",
            )
        ],
        id="regex-does-not-compile",
    ),
    pytest.param(
        {
            "profiles": [
                with_option(unlisted_choice={"enabled": True, "validation_regex": "a{4294967296}"})
            ]
        },
        [
            (
                "/profiles/0/profile_options/o/unlisted_choice/validation_regex",
                "not a valid regular expression",
            )
        ],
        id="regex-repeat-overflows",
    ),
    pytest.param(
        {"profiles": [with_option(unlisted_choice={"enabled": False})]},
        [("/profiles/0/profile_options/o", "needs at least one choice")],
        id="option-with-nothing-to-choose",
    ),
    # not JSON
    pytest.param(
        {"profiles": [profile(kubespawner_override={"cpu_limit": float("nan")})]},
        [("", "not a JSON document")],
        id="nan",
    ),
    pytest.param(
        {"profiles": [profile(kubespawner_override={"cpu_limit": float("inf")})]},
        [("", "not a JSON document")],
        id="infinity",
    ),
    pytest.param({"profiles": {1, 2}}, [("", "not a JSON document")], id="a-set"),
]


@pytest.mark.parametrize(("document", "expected"), DOCUMENTS)
def test_a_hub_admins_document_errors(document, expected):
    """A hub admin's save of ``document`` with nothing of the operator's under it: all of it
    is the hub admin's, judged by the settings schema."""
    errors = json_errors(document) or save_errors(document)
    assert len(errors) == len(expected), [e.as_dict() for e in errors]
    for error, (path, fragment) in zip(errors, expected, strict=True):
        assert error.path == path
        assert fragment in error.message
        assert len(error.message) <= 303


#: what KubeSpawner takes in a profile_list that a hub admin may not write: the operator's
#: layers may (any slug, key or environment name, keys it does not read, several defaults)
OPERATOR_MAY = {
    "bad-slug",
    "bad-environment-name",
    "bad-option-key",
    "override-outside-kubespawner-override",
    "two-defaults",
}


@pytest.mark.parametrize(("document", "expected"), DOCUMENTS)
def test_operator_layer_errors(document, expected, request):
    """The same documents as an operator's layer: the same errors, except where KubeSpawner
    takes what a hub admin may not write."""
    if request.node.callspec.id in OPERATOR_MAY:
        expected = []
    errors = document_errors(document)
    assert len(errors) == len(expected), [e.as_dict() for e in errors]
    for error, (path, fragment) in zip(errors, expected, strict=True):
        assert (error.path, fragment in error.message) == (path, True)


def test_oversize_document():
    # every profile is valid on its own; together they are over the limit
    profiles = [profile(slug=f"p{i}", description="d" * 3900) for i in range(300)]
    size = len(json.dumps({"profiles": profiles}).encode())
    assert size > MAX_DOCUMENT_BYTES
    errors = document_errors({"profiles": profiles})
    assert [e.as_dict() for e in errors] == [
        {
            "path": "",
            "message": f"the document is {size} bytes; at most {MAX_DOCUMENT_BYTES} are allowed",
        }
    ]
    assert document_errors({"profiles": profiles[:200]}) == []
    assert document_errors({"profiles": profiles[:2]}, max_bytes=1000)[0].path == ""


# ------------------------------------------------------------------------------------------
# ceilings
# ------------------------------------------------------------------------------------------

CEILINGS = Ceilings.from_config(
    {
        "cpu_limit": 4,
        "cpu_guarantee": 1,
        "mem_limit": "8G",
        "mem_guarantee": "2Gi",
        "gpu_limit": 1,
        "node_selectors": [{"pool": "cpu"}, {"pool": "gpu", "gpu-type": "a100"}],
        "image_patterns": [r"quay\.io/jupyter/.+", r"registry\.example\.org/[a-z]+:[0-9.]+"],
    }
)
BASE = "/profiles/0/kubespawner_override"


def ko(**override):
    return {"profiles": [profile(kubespawner_override=override)]}


@pytest.mark.parametrize(
    "document, expected",
    [
        pytest.param(
            ko(
                cpu_limit=4,
                cpu_guarantee=0.5,
                mem_limit="8G",
                mem_guarantee="2048Mi",
                extra_resource_limits={"nvidia.com/gpu": 1},
                node_selector={"gpu-type": "a100", "pool": "gpu"},
                image="quay.io/jupyter/scipy-notebook:2025-01-01",
            ),
            [],
            id="all-at-the-ceiling",
        ),
        pytest.param(
            ko(cpu_limit=4.5),
            [(f"{BASE}/cpu_limit", "4.5 CPUs is above the operator's ceiling of 4 CPUs")],
            id="cpu-limit",
        ),
        pytest.param(
            ko(cpu_guarantee=2),
            [(f"{BASE}/cpu_guarantee", "2 CPUs is above the operator's ceiling of 1 CPU")],
            id="cpu-guarantee",
        ),
        pytest.param(
            ko(mem_limit="9G"),
            [(f"{BASE}/mem_limit", "9 GB is above the operator's ceiling of 8 GB")],
            id="memory-G",
        ),
        pytest.param(ko(mem_limit="8192Mi"), [], id="memory-Mi-equal"),
        pytest.param(
            ko(mem_limit="8193M"),
            [(f"{BASE}/mem_limit", "above the operator's ceiling of 8 GB")],
            id="memory-M-just-over",
        ),
        pytest.param(
            ko(mem_limit="0.01Ti"),
            [(f"{BASE}/mem_limit", "10.2 GB is above")],
            id="memory-fractional-Ti",
        ),
        pytest.param(
            ko(mem_limit=8 * 1024**3 + 1),
            [(f"{BASE}/mem_limit", "above the operator's ceiling of 8 GB")],
            id="memory-bytes",
        ),
        pytest.param(
            ko(mem_guarantee="3G"),
            [(f"{BASE}/mem_guarantee", "3 GB is above the operator's ceiling of 2 GB")],
            id="memory-guarantee",
        ),
        pytest.param(
            ko(extra_resource_limits={"nvidia.com/gpu": 2}),
            [(f"{BASE}/extra_resource_limits", "2 GPUs is above the operator's ceiling of 1")],
            id="gpus",
        ),
        pytest.param(
            ko(extra_resource_limits={"nvidia.com/gpu": "2"}),
            [(f"{BASE}/extra_resource_limits", "2 GPUs is above")],
            id="gpus-as-text",
        ),
        pytest.param(
            ko(extra_resource_limits={"nvidia.com/gpu": "2k"}),
            [(f"{BASE}/extra_resource_limits", "'2k' is not a whole number of GPUs")],
            id="gpus-with-suffix-not-counted-as-zero",
        ),
        pytest.param(
            ko(node_selector={"pool": "gpu"}),
            [(f"{BASE}/node_selector", 'node selector {"pool": "gpu"} is not one the operator')],
            id="node-selector-part-of-an-allowed-one",
        ),
        pytest.param(
            ko(node_selector={"pool": "cpu", "zone": "a"}),
            [(f"{BASE}/node_selector", "is not one the operator allows")],
            id="node-selector-more-than-allowed",
        ),
        pytest.param(
            ko(image="docker.io/evil/quay.io/jupyter/x:1"),
            [(f"{BASE}/image", "image 'docker.io/evil/quay.io/jupyter/x:1' is not allowed")],
            id="image-pattern-inside-value",
        ),
        pytest.param(
            ko(image="registry.example.org/app:1.0-evil"),
            [(f"{BASE}/image", "is not allowed by the operator")],
            id="image-pattern-prefix-of-value",
        ),
        pytest.param(
            ko(image="registry.example.org/app:1.0\n"),
            [(f"{BASE}/image", "is not allowed by the operator")],
            id="image-trailing-newline",
        ),
        pytest.param(ko(image="registry.example.org/app:1.0"), [], id="image-whole-match"),
        pytest.param(
            {
                "profiles": [
                    profile(),
                    profile(
                        slug="q",
                        kubespawner_override={"cpu_limit": 8},
                        profile_options={
                            "size": {
                                "display_name": "Size",
                                "choices": {
                                    "a": {"display_name": "A"},
                                    "b": {"display_name": "B"},
                                },
                                "unlisted_choice": {"enabled": True},
                            }
                        },
                    ),
                ]
            },
            [("/profiles/1/kubespawner_override/cpu_limit", "8 CPUs is above")],
            id="profile-value-reported-once-not-per-choice",
        ),
        pytest.param(
            {
                "profiles": [
                    with_option(
                        "size",
                        choices={
                            "ok": {"display_name": "OK", "kubespawner_override": {"cpu_limit": 2}},
                            "huge": {
                                "display_name": "Huge",
                                "kubespawner_override": {"cpu_limit": 64, "mem_limit": "1T"},
                            },
                        },
                    )
                ]
            },
            [
                (
                    "/profiles/0/profile_options/size/choices/huge/kubespawner_override/cpu_limit",
                    "64 CPUs is above",
                ),
                (
                    "/profiles/0/profile_options/size/choices/huge/kubespawner_override/mem_limit",
                    "1 TB is above",
                ),
            ],
            id="choice-over-ceiling",
        ),
        pytest.param(
            {
                "profiles": [
                    profile(
                        kubespawner_override={"extra_resource_limits": {"nvidia.com/gpu": 1}},
                        profile_options={
                            "gpus": {
                                "display_name": "GPUs",
                                "choices": {
                                    "four": {
                                        "display_name": "Four",
                                        "kubespawner_override": {
                                            "extra_resource_limits": {"nvidia.com/gpu": 4}
                                        },
                                    }
                                },
                            }
                        },
                    )
                ]
            },
            [
                (
                    "/profiles/0/profile_options/gpus/choices/four/kubespawner_override"
                    "/extra_resource_limits",
                    "4 GPUs is above",
                )
            ],
            id="choice-raises-profile-gpus",
        ),
        pytest.param(
            {
                "profiles": [
                    with_option(
                        "image",
                        unlisted_choice={
                            "enabled": True,
                            "kubespawner_override": {"image": "{value}", "cpu_limit": 16},
                        },
                    )
                ]
            },
            [
                (
                    "/profiles/0/profile_options/image/unlisted_choice/kubespawner_override"
                    "/cpu_limit",
                    "16 CPUs is above",
                )
            ],
            id="unlisted-choice-checked-except-its-placeholder-image",
        ),
    ],
)
def test_ceilings(document, expected):
    assert document_errors(document) == [], "valid without ceilings"
    errors = document_errors(document, CEILINGS)
    assert len(errors) == len(expected), [e.as_dict() for e in errors]
    for error, (path, fragment) in zip(errors, expected, strict=True):
        assert error.path == path
        assert fragment in error.message


@pytest.mark.parametrize(
    "image, allowed",
    [
        pytest.param(QUAY_IMAGE, True, id="allowed"),
        pytest.param("docker.io/library/ubuntu:24.04", False, id="other-registry"),
        pytest.param("registry.example.org/app:1.0;x", False, id="longer"),
    ],
)
def test_unlisted_image_checked_at_spawn(image, allowed):
    """The override a spawn request resolves to is checked as a whole, image included."""
    profiles = [
        with_option(
            "image",
            unlisted_choice={"enabled": True, "kubespawner_override": {"image": "{value}"}},
        )
    ]
    assert document_errors({"profiles": profiles}, CEILINGS) == []
    selection = select_profile(profiles, [], {"profile": "p", "image--unlisted-choice": image})
    errors = override_errors(selection.override, CEILINGS, "")
    assert [(e.path, e.message) for e in errors] == (
        [] if allowed else [("/image", f"image '{image}' is not allowed by the operator")]
    )


@pytest.mark.parametrize(
    "config, expected",
    [
        pytest.param(None, {}, id="none"),
        pytest.param({}, {}, id="empty"),
        pytest.param(
            {"cpu_limit": "2.5", "mem_limit": "512Mi", "gpu_limit": "2"},
            {"cpu_limit": 2.5, "mem_limit": 512 * 1024**2, "gpu_limit": 2},
            id="numbers-as-text",
        ),
        pytest.param(
            {"mem_limit": "8G", "mem_guarantee": 1024},
            {"mem_limit": 8 * 1024**3, "mem_guarantee": 1024},
            id="memory",
        ),
        pytest.param(
            {"node_selectors": [{"b": "2", "a": "1"}], "image_patterns": ["x.*"]},
            {"node_selectors": [{"a": "1", "b": "2"}], "image_patterns": ["x.*"]},
            id="lists",
        ),
        pytest.param({"node_selectors": [], "image_patterns": []}, None, id="empty-lists"),
    ],
)
def test_ceilings_from_config(config, expected):
    ceilings = Ceilings.from_config(config)
    assert ceilings.as_config() == (config if expected is None else expected)
    assert Ceilings.from_config(ceilings.as_config()) == ceilings


def test_empty_ceiling_lists_allow_nothing():
    ceilings = Ceilings.from_config({"node_selectors": [], "image_patterns": []})
    errors = document_errors(ko(node_selector={"pool": "cpu"}, image="quay.io/jupyter/x"), ceilings)
    assert [e.path for e in errors] == [f"{BASE}/node_selector", f"{BASE}/image"]


@pytest.mark.parametrize(
    "config, fragments",
    [
        pytest.param({"cpu_limt": 4}, ["unknown ceiling 'cpu_limt'", "cpu_limit"], id="typo"),
        pytest.param({"cpu_limit": "lots"}, ["'cpu_limit'", "lots"], id="cpu-not-a-number"),
        pytest.param({"cpu_limit": float("nan")}, ["'cpu_limit'"], id="cpu-nan"),
        pytest.param({"cpu_guarantee": -1}, ["'cpu_guarantee'"], id="cpu-negative"),
        pytest.param({"mem_limit": "8 GB"}, ["'mem_limit'", "8 GB"], id="memory-with-space"),
        pytest.param({"mem_guarantee": -5}, ["'mem_guarantee'"], id="memory-negative"),
        pytest.param({"gpu_limit": "one"}, ["'gpu_limit'", "one"], id="gpu-word"),
        pytest.param({"gpu_limit": 1.5}, ["'gpu_limit'"], id="gpu-fraction"),
        pytest.param(
            {"node_selectors": {"pool": "cpu"}}, ["'node_selectors'", "list"], id="selector-dict"
        ),
        pytest.param(
            {"node_selectors": [{"pool": 1}]}, ["'node_selectors'"], id="selector-value-int"
        ),
        pytest.param(
            {"image_patterns": ["quay\\.io/(jupyter"]},
            ["'image_patterns'", "not a valid regular expression"],
            id="pattern-does-not-compile",
        ),
        pytest.param(
            {"image_patterns": "quay\\.io/.*"},
            ["'image_patterns'", "list"],
            id="patterns-a-string-not-a-list",
        ),
        pytest.param({"image_patterns": [3]}, ["'image_patterns'"], id="pattern-int"),
    ],
)
def test_ceilings_from_config_errors(config, fragments):
    with pytest.raises(ValueError) as info:
        Ceilings.from_config(config)
    assert type(info.value) is ValueError
    for fragment in fragments:
        assert fragment in str(info.value)


# ------------------------------------------------------------------------------------------
# the announcement
# ------------------------------------------------------------------------------------------

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
ALLOWED_TAGS = {"p", "em", "strong", "a", "code", "br", "ul", "ol", "li", "s"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_safe(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, html
        for name, value in attrs.items():
            assert name in {"href", "title", "rel"}, html
            if name == "href":
                assert value.split(":")[0].strip().lower() in {"http", "https", "mailto"}, html
    return parser.tags


@pytest.mark.parametrize(
    "text, expected_html",
    [
        pytest.param(
            "Maintenance on *Friday*, **all day**: `jupyter lab` ~~and~~ more.",
            "<p>Maintenance on <em>Friday</em>, <strong>all day</strong>: "
            "<code>jupyter lab</code> ~~and~~ more.</p>",
            id="inline-markdown",
        ),
        pytest.param(
            'See [the status page](https://status.example.org/ "Status").',
            '<p>See <a href="https://status.example.org/" title="Status" '
            'rel="noopener noreferrer nofollow">the status page</a>.</p>',
            id="link",
        ),
        pytest.param(
            "Write to <mailto:help@example.org>",
            '<p>Write to <a href="mailto:help@example.org" rel="noopener noreferrer nofollow">'
            "mailto:help@example.org</a></p>",
            id="mailto-autolink",
        ),
        pytest.param("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>", id="list"),
        pytest.param("# Big news", "<p># Big news</p>", id="no-headings"),
    ],
)
def test_announcement_markdown(text, expected_html):
    html = announcement_html({"text": text}, "home", NOW)
    assert html == expected_html
    assert_safe(html)


@pytest.mark.parametrize(
    "text, visible_text",
    [
        pytest.param("<script>alert(1)</script>", "<script>alert(1)</script>", id="script"),
        pytest.param("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>", id="img"),
        pytest.param(
            '<a href="javascript:alert(1)">x</a>',
            '<a href="javascript:alert(1)">x</a>',
            id="raw-link",
        ),
        pytest.param(
            "Hi <b onmouseover=alert(1)>there</b>",
            "<b onmouseover=alert(1)>there</b>",
            id="inline-html",
        ),
        pytest.param("[x](javascript:alert(1))", "[x](javascript:alert(1))", id="md-javascript"),
        pytest.param("[x](JaVaScRiPt:alert(1))", "[x](JaVaScRiPt:alert(1))", id="md-mixed-case"),
        pytest.param("[x](javascript&colon;alert(1))", "[x](javascript", id="md-entity"),
        pytest.param("[x]( javascript:alert(1))", "[x]( javascript:alert(1))", id="md-space"),
        pytest.param(
            "[x](data:text/html;base64,PHNjcmlwdD4=)", "[x](data:text/html", id="md-data-url"
        ),
        pytest.param("<javascript:alert(1)>", "<javascript:alert(1)>", id="autolink"),
        pytest.param("![x](https://evil.example/track.png)", "x", id="image"),
        pytest.param('[x](https://example.org" onclick="alert(1))', "x", id="attribute-breakout"),
    ],
)
def test_announcement_neutralises_html_and_scripts(text, visible_text):
    html = announcement_html({"text": text}, "login", NOW)
    tags = assert_safe(html)
    assert "<script" not in html
    assert "javascript:" not in " ".join(a.get("href", "") for _, a in tags).lower()
    assert not any(t == "img" for t, _ in tags)
    # the text is shown as text, not lost
    parser = HTMLParser(convert_charrefs=True)
    shown: list[str] = []
    parser.handle_data = shown.append
    parser.feed(html)
    assert visible_text in "".join(shown)


@pytest.mark.parametrize(
    "window, shown",
    [
        pytest.param({}, True, id="no-window"),
        pytest.param({"starts_at": None, "expires_at": None}, True, id="null-times"),
        pytest.param({"starts_at": "2026-06-01T11:59:00Z"}, True, id="started"),
        pytest.param({"starts_at": "2026-06-01T12:01:00Z"}, False, id="not-started"),
        pytest.param({"starts_at": "2026-06-01T12:00:00Z"}, True, id="starts-now"),
        pytest.param({"expires_at": "2026-06-01T12:01:00Z"}, True, id="not-expired"),
        pytest.param({"expires_at": "2026-06-01T12:00:00Z"}, False, id="expires-now"),
        pytest.param({"expires_at": "2026-05-01T00:00:00Z"}, False, id="expired"),
        pytest.param({"starts_at": "2026-06-01T13:30:00+02:00"}, True, id="offset-started-in-utc"),
        pytest.param(
            {"starts_at": "2026-06-01T12:30:00-02:00"}, False, id="offset-not-started-in-utc"
        ),
        pytest.param({"starts_at": "2026-06-01t11:00:00z"}, True, id="lower-case-t-and-z"),
        pytest.param(
            {"starts_at": "2026-05-01T00:00:00Z", "expires_at": "2026-07-01T00:00:00Z"},
            True,
            id="inside-window",
        ),
    ],
)
def test_announcement_window(window, shown):
    announcement = {"text": "Maintenance", **window}
    assert document_errors({"announcement": announcement}) == []
    html = announcement_html(announcement, "home", NOW)
    assert html == ("<p>Maintenance</p>" if shown else "")


def test_announcement_without_now_uses_the_clock():
    assert announcement_html({"text": "x", "expires_at": "2000-01-01T00:00:00Z"}, "home") == ""
    assert announcement_html({"text": "x", "starts_at": "2000-01-01T00:00:00Z"}, "home")
    assert announcement_html({"text": "x"}, "home", datetime(2026, 1, 1)) == "<p>x</p>"


@pytest.mark.parametrize(
    "announcement, pages",
    [
        pytest.param(None, [], id="no-announcement"),
        pytest.param({}, [], id="empty"),
        pytest.param({"text": "   "}, [], id="blank-text"),
        pytest.param({"text": "x"}, ["login", "home", "spawn"], id="show-on-absent-all-pages"),
        pytest.param({"text": "x", "show_on": ["login"]}, ["login"], id="login-only"),
        pytest.param(
            {"text": "x", "show_on": ["home", "spawn"]}, ["home", "spawn"], id="home-and-spawn"
        ),
        pytest.param({"text": "x", "show_on": []}, [], id="show-on-empty-no-page"),
    ],
)
def test_announcement_show_on(announcement, pages):
    shown = [
        page
        for page in ("login", "home", "spawn", "admin")
        if announcement_html(announcement, page, NOW)
    ]
    assert shown == pages
