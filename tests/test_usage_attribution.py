"""Who pays for a session: the attribution rule as a table, and what a profile's choices say."""

from __future__ import annotations

import pytest

from jhub_managed.store.attribution import (
    DEFAULT_CHECK_USER,
    Attribution,
    attribute,
    restricting_groups_of,
)

CASES = [
    # (case, user, user's groups, restricting allowed_groups lists, group, shares, billable)
    ("profile group", "ann", ["physics", "chem"], [["physics"]], "physics", [("physics", 1)], True),
    (
        "profile group, case folded",
        "ann",
        ["Physics"],
        [["physics"]],
        "Physics",
        [("Physics", 1)],
        True,
    ),
    ("only group, open profile", "ann", ["physics"], [], "physics", [("physics", 1)], True),
    ("no group", "ann", [], [], "none", [("none", 1)], True),
    (
        "multiple on an open profile",
        "ann",
        ["physics", "chem"],
        [],
        "multiple",
        [("chem", 0.5), ("physics", 0.5)],
        True,
    ),
    (
        "three groups split in thirds",
        "ann",
        ["c", "a", "b"],
        [],
        "multiple",
        [("a", 1 / 3), ("b", 1 / 3), ("c", 1 / 3)],
        True,
    ),
    (
        "two groups both allowed",
        "ann",
        ["physics", "chem", "bio"],
        [["physics", "chem"]],
        "multiple",
        [("chem", 0.5), ("physics", 0.5)],
        True,
    ),
    (
        "choice narrows the profile",
        "ann",
        ["physics", "gpu-users"],
        [["physics", "gpu-users"], ["gpu-users"]],
        "gpu-users",
        [("gpu-users", 1)],
        True,
    ),
    (
        "no group fits all lists: the choice decides",
        "ann",
        ["physics", "gpu-users"],
        [["physics"], ["gpu-users"]],
        "gpu-users",
        [("gpu-users", 1)],
        True,
    ),
    (
        "restricted but no longer a member",
        "ann",
        ["chem"],
        [["physics"]],
        "none",
        [("none", 1)],
        True,
    ),
    ("staff", "sam", ["staff", "physics"], [["physics"]], "staff", [("staff", 1)], False),
    ("staff, case folded", "sam", ["Staff"], [], "staff", [("staff", 1)], False),
    ("health-check user", DEFAULT_CHECK_USER, [], [], "health-check", [("health-check", 1)], False),
    (
        "health-check user in a group",
        DEFAULT_CHECK_USER,
        ["physics"],
        [["physics"]],
        "health-check",
        [("health-check", 1)],
        False,
    ),
    (
        "duplicate group names count once",
        "ann",
        ["physics", "physics"],
        [],
        "physics",
        [("physics", 1)],
        True,
    ),
]


@pytest.mark.parametrize(
    "user, groups, restricting, group, shares, billable",
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_attribution(user, groups, restricting, group, shares, billable):
    result = attribute(user, groups, restricting)
    assert result.group == group
    assert result.billable is billable
    assert [g for g, _ in result.shares] == [g for g, _ in shares]
    assert [s for _, s in result.shares] == pytest.approx([s for _, s in shares])
    assert sum(s for _, s in result.shares) == pytest.approx(1.0)


def test_another_staff_group_and_check_user_can_be_named():
    assert attribute("ops", ["operators"], staff_group="operators").group == "staff"
    assert attribute("probe", [], check_users=["probe"]) == Attribution(
        "health-check", (("health-check", 1.0),), billable=False
    )
    plain = attribute("ann", ["staff"], staff_group="")  # a group like any other then
    assert (plain.group, plain.billable) == ("staff", True)


PROFILE = {
    "slug": "gpu",
    "allowed_groups": ["physics", "gpu-users"],
    "profile_options": {
        "image": {
            "choices": {
                "base": {"display_name": "Base", "default": True},
                "special": {"display_name": "Special", "allowed_groups": ["gpu-users"]},
            },
            "unlisted_choice": {"enabled": True, "allowed_groups": ["builders"]},
        }
    },
}


@pytest.mark.parametrize(
    "options, lists",
    [
        pytest.param({"profile": "gpu"}, [["physics", "gpu-users"]], id="default choice"),
        pytest.param(
            {"profile": "gpu", "image": "special"},
            [["physics", "gpu-users"], ["gpu-users"]],
            id="restricted choice",
        ),
        pytest.param(
            {"profile": "gpu", "image--unlisted-choice": "x/y:1"},
            [["physics", "gpu-users"], ["builders"]],
            id="unlisted choice",
        ),
    ],
)
def test_restricting_groups_of_a_selection(options, lists):
    assert restricting_groups_of(PROFILE, options) == lists


def test_a_profile_that_is_gone_restricts_nothing():
    assert restricting_groups_of(None, {"profile": "gone"}) == []
