"""ManagedGitHubOAuthenticator: who gets in, who is admin, which groups, against a real
(fake) GitHub over HTTP. Rows in oauthenticator's style; ``expect_allowed`` is True or the
reason the refusal page gives."""

from __future__ import annotations

import pytest

from jhub_managed.authenticators import ManagedGitHubOAuthenticator
from tests.fixtures.idp import expect, outcome

STUDENT = {"login": "alice", "teams": ["physics:students"]}
TA = {"login": "alice", "teams": ["physics:students", "physics:tas"]}
OUTSIDER = {"login": "alice", "teams": ["chemistry:students"]}
OPERATOR = {"login": "sam", "teams": ["fleet-ops:operators"]}


@pytest.mark.parametrize(
    "case, config, identity, expect_allowed, expect_admin, expect_groups",
    [
        # allow rules, one at a time
        ("00-no-allow-config", {}, STUDENT, "not-allowed", None, None),
        ("01-allow-all", {"allow_all": True}, STUDENT, True, None, ["physics:students"]),
        (
            "02-allowed-users",
            {"allowed_users": {"alice"}},
            OUTSIDER,
            True,
            None,
            ["chemistry:students"],
        ),
        ("03-allowed-users-other", {"allowed_users": {"bob"}}, STUDENT, "not-allowed", None, None),
        (
            "04-admin-users",
            {"admin_users": {"alice"}},
            OUTSIDER,
            True,
            True,
            ["chemistry:students"],
        ),
        (
            "05-org-member-by-team",
            {"allowed_organizations": {"physics"}},
            STUDENT,
            True,
            None,
            ["physics:students"],
        ),
        (
            "06-org-member-without-team",
            {"allowed_organizations": {"physics"}},
            {"login": "alice", "orgs": ["physics"]},
            True,
            None,
            [],
        ),
        (
            "07-org-non-member",
            {"allowed_organizations": {"physics"}},
            OUTSIDER,
            "not-allowed",
            None,
            None,
        ),
        (
            "08-team-member",
            {"allowed_organizations": {"physics:tas"}},
            TA,
            True,
            None,
            ["physics:students", "physics:tas"],
        ),
        (
            "09-team-non-member",
            {"allowed_organizations": {"physics:tas"}},
            STUDENT,
            "not-allowed",
            None,
            None,
        ),
        # groups from teams; allow and admin by group
        (
            "10-allowed-groups",
            {"allowed_groups": {"physics:students"}},
            STUDENT,
            True,
            None,
            ["physics:students"],
        ),
        (
            "11-allowed-groups-membership-removed",
            {"allowed_groups": {"physics:tas"}},
            STUDENT,
            "not-allowed",
            None,
            None,
        ),
        (
            "12-admin-groups",
            {"admin_groups": {"physics:tas"}},
            TA,
            True,
            True,
            ["physics:students", "physics:tas"],
        ),
        (
            "13-admin-groups-not-member",
            {"allowed_organizations": {"physics"}, "admin_groups": {"physics:tas"}},
            STUDENT,
            True,
            False,
            ["physics:students"],
        ),
        (
            "14-team-case-folded",
            {"allowed_groups": {"physics:tas"}},
            {"login": "Alice", "teams": ["Physics:TAs"]},
            True,
            None,
            ["physics:tas"],
        ),
        (
            "15-prefix-and-filter",
            {"allow_all": True, "group_prefix": "gh:", "group_filter": ["physics:.*"]},
            {"login": "alice", "teams": ["physics:students", "chemistry:x"]},
            True,
            None,
            ["gh:physics:students"],
        ),
        (
            "16-allowed-groups-with-prefix",
            {"group_prefix": "gh:", "allowed_groups": {"gh:physics:students"}},
            STUDENT,
            True,
            None,
            ["gh:physics:students"],
        ),
        (
            "17-admin-groups-with-prefix",
            {"group_prefix": "gh:", "admin_groups": {"gh:physics:tas"}},
            TA,
            True,
            True,
            ["gh:physics:students", "gh:physics:tas"],
        ),
        # operator staff
        (
            "20-staff-by-name",
            {"allowed_organizations": {"physics"}, "staff_users": {"sam"}},
            {"login": "sam"},
            True,
            True,
            ["staff"],
        ),
        (
            "21-staff-by-name-case",
            {"allowed_organizations": {"physics"}, "staff_users": {"Sam"}},
            {"login": "SAM"},
            True,
            True,
            ["staff"],
        ),
        (
            "22-staff-by-team",
            {
                "allowed_organizations": {"physics"},
                "staff_provider_groups": {"fleet-ops:operators"},
            },
            OPERATOR,
            True,
            True,
            ["fleet-ops:operators", "staff"],
        ),
        (
            "23-staff-team-survives-filter",
            {
                "allowed_organizations": {"physics"},
                "group_filter": ["physics:.*"],
                "staff_provider_groups": {"fleet-ops:operators"},
            },
            OPERATOR,
            True,
            True,
            ["staff"],
        ),
        (
            "24-staff-beats-admin-groups",
            {
                "allowed_organizations": {"physics"},
                "admin_groups": {"physics:tas"},
                "staff_users": {"sam"},
            },
            {"login": "sam"},
            True,
            True,
            ["staff"],
        ),
        (
            "25-staff-opt-out",
            {"allowed_organizations": {"physics"}, "staff_users": {"sam"}, "staff_opt_out": True},
            {"login": "sam"},
            "not-allowed",
            None,
            None,
        ),
        (
            "26-staff-opt-out-still-marked",
            {"allowed_organizations": {"physics"}, "staff_users": {"sam"}, "staff_opt_out": True},
            {"login": "sam", "teams": ["physics:students"]},
            True,
            None,
            ["physics:students", "staff"],
        ),
        (
            "27-staff-team-membership-removed",
            {
                "allowed_organizations": {"physics"},
                "staff_provider_groups": {"fleet-ops:operators"},
            },
            {"login": "sam", "teams": ["physics:students"]},
            True,
            None,
            ["physics:students"],
        ),
        (
            "28-staff-display-name-is-not-staff",
            {"allowed_users": {"mallory"}, "staff_users": {"sam"}},
            {"login": "mallory", "name": "sam"},
            True,
            None,
            [],
        ),
        # blocked beats everything
        (
            "30-blocked-beats-allow-all",
            {"allow_all": True, "blocked_users": {"alice"}},
            STUDENT,
            "blocked",
            None,
            None,
        ),
        (
            "31-blocked-beats-admin-users",
            {"admin_users": {"alice"}, "blocked_users": {"alice"}},
            STUDENT,
            "blocked",
            None,
            None,
        ),
        (
            "32-blocked-beats-allowed-users",
            {"allowed_users": {"alice"}, "blocked_users": {"alice"}},
            STUDENT,
            "blocked",
            None,
            None,
        ),
        (
            "33-blocked-beats-organizations",
            {"allowed_organizations": {"physics"}, "blocked_users": {"alice"}},
            STUDENT,
            "blocked",
            None,
            None,
        ),
        (
            "34-blocked-beats-allowed-groups",
            {"allowed_groups": {"physics:students"}, "blocked_users": {"alice"}},
            STUDENT,
            "blocked",
            None,
            None,
        ),
        (
            "35-blocked-beats-admin-groups",
            {"admin_groups": {"physics:tas"}, "blocked_users": {"alice"}},
            TA,
            "blocked",
            None,
            None,
        ),
        (
            "36-blocked-beats-staff",
            {"allow_all": True, "staff_users": {"sam"}, "blocked_users": {"sam"}},
            {"login": "sam"},
            "blocked",
            None,
            None,
        ),
        (
            "37-blocked-beats-staff-team",
            {"staff_provider_groups": {"fleet-ops:operators"}, "blocked_users": {"sam"}},
            OPERATOR,
            "blocked",
            None,
            None,
        ),
        (
            "38-blocked-list-not-case-sensitive",
            {"allow_all": True, "blocked_users": {"Alice"}},
            {"login": "ALICE"},
            "blocked",
            None,
            None,
        ),
        (
            "39-health-check-user",
            {"allow_all": True},
            {"login": "jhub-managed-health-check"},
            "health-check",
            None,
            None,
        ),
        (
            "40-health-check-user-even-if-admin",
            {"admin_users": {"jhub-managed-health-check"}},
            {"login": "jhub-managed-health-check"},
            "health-check",
            None,
            None,
        ),
        (
            "41-health-check-user-renamed",
            {"allow_all": True, "health_check_user": "probe"},
            {"login": "Probe"},
            "health-check",
            None,
            None,
        ),
        # groups come from team memberships only, never from fields the person edits
        (
            "50-profile-fields-give-no-groups",
            {"allowed_users": {"alice"}, "admin_groups": {"physics:tas"}},
            {"login": "alice", "claims": {"groups": ["physics:tas"], "company": "@physics"}},
            True,
            False,
            [],
        ),
        (
            "51-user-named-like-staff-team",
            {
                "allowed_organizations": {"physics"},
                "staff_provider_groups": {"fleet-ops:operators"},
            },
            {"login": "fleet-ops", "teams": ["physics:operators"]},
            True,
            None,
            ["physics:operators"],
        ),
    ],
)
async def test_github(idp, case, config, identity, expect_allowed, expect_admin, expect_groups):
    authenticator = ManagedGitHubOAuthenticator(**idp.settings("github"), **config)
    authenticator.check_allow_config()  # as the hub does at start
    identity = idp.add(**identity)
    expect(await outcome(authenticator, idp, identity), expect_allowed, expect_admin, expect_groups)


async def test_removed_membership_removes_the_group_at_next_login(idp):
    authenticator = ManagedGitHubOAuthenticator(
        **idp.settings("github"), allowed_organizations={"physics"}, admin_groups={"physics:tas"}
    )
    alice = idp.add("alice", teams=["physics:students", "physics:tas"])
    first = await outcome(authenticator, idp, alice)
    assert first.groups == ["physics:students", "physics:tas"] and first.admin is True

    alice.teams.remove("physics:tas")
    second = await outcome(authenticator, idp, alice)
    assert second.groups == ["physics:students"] and second.admin is False

    alice.teams.clear()
    third = await outcome(authenticator, idp, alice)
    assert third.refused == "not-allowed"
    assert "GitHub organisations or teams" in third.message


async def test_every_page_of_teams_is_read(idp):
    idp.page_size = 2  # GitHub pages at 100; five teams make three pages here
    teams = [f"physics:team-{n}" for n in range(5)]
    authenticator = ManagedGitHubOAuthenticator(**idp.settings("github"), allow_all=True)
    result = await outcome(authenticator, idp, idp.add("alice", teams=teams))
    assert result.groups == teams
    assert idp.requests.count(("GET", "/api/v3/user/teams")) == 3


async def test_refusal_names_the_account_but_not_the_teams(idp):
    authenticator = ManagedGitHubOAuthenticator(
        **idp.settings("github"), allowed_organizations={"secret-org:hidden-team"}
    )
    result = await outcome(authenticator, idp, idp.add("alice"))
    assert result.refused == "not-allowed"
    assert "alice" in result.message
    assert "secret-org" not in result.message and "hidden-team" not in result.message
