"""ManagedCILogonOAuthenticator against a fake CILogon over HTTP: institutions from ``idps``
(oauthenticator 17.4), ``isMemberOf`` groups, staff, blocked users, username collisions.
``expect_allowed`` is True or the reason the refusal page gives."""

from __future__ import annotations

import copy
import logging

import pytest

from jhub_managed.authenticators import ManagedCILogonOAuthenticator
from jhub_managed.authenticators.rules import ConfigurationError
from tests.fixtures.idp import expect, outcome

UNI_A = "https://idp.uni-a.example.edu/idp/shibboleth"
UNI_B = "https://idp.uni-b.example.edu/idp/shibboleth"
GOOGLE = "http://google.com/accounts/o8/id"
GITHUB = "https://github.com/login/oauth/authorize"

IDPS = {
    UNI_A: {
        "username_derivation": {
            "username_claim": "email",
            "action": "strip_idp_domain",
            "domain": "uni-a.example.edu",
        },
        "allowed_domains": ["uni-a.example.edu"],
        "default": True,
    },
    UNI_B: {
        "username_derivation": {
            "username_claim": "email",
            "action": "strip_idp_domain",
            "domain": "uni-b.example.edu",
        },
        "allow_all": True,
    },
    GOOGLE: {
        "username_derivation": {"username_claim": "email", "action": "prefix", "prefix": "google"},
    },
}


def person(email: str, idp: str = UNI_A, **fields) -> dict:
    return {"login": email.split("@")[0], "email": email, "idp": idp, **fields}


ALICE_A = person("alice@uni-a.example.edu")
ALICE_B = person("alice@uni-b.example.edu", UNI_B)
MEMBER = person("alice@uni-a.example.edu", groups=["cn=physics,ou=groups", "cn=hub-admins"])


@pytest.mark.parametrize(
    "case, config, identity, expect_allowed, expect_admin, expect_groups",
    [
        ("00-allowed-domain", {}, ALICE_A, True, None, []),
        ("01-idp-allow-all", {}, ALICE_B, True, None, []),
        ("02-other-domain-at-allowed-idp", {}, person("bob@gmail.com"), "not-allowed", None, None),
        ("03-unlisted-idp", {}, person("eve@uni-a.example.edu", GITHUB), "idp", None, None),
        # an e-mail at an allowed domain, from a provider that does not vouch for that domain
        (
            "04-allowed-domain-via-google",
            {},
            person("bob@uni-a.example.edu", GOOGLE),
            "not-allowed",
            None,
            None,
        ),
        (
            "05-allowed-users-via-google",
            {"allowed_users": {"google:bob@uni-a.example.edu"}},
            person("bob@uni-a.example.edu", GOOGLE),
            True,
            None,
            [],
        ),
        # allow lists, staff and admin never bypass the institution restriction
        (
            "06-allowed-users-from-unlisted-idp",
            {"allowed_users": {"eve@uni-a.example.edu"}},
            person("eve@uni-a.example.edu", GITHUB),
            "idp",
            None,
            None,
        ),
        (
            "07-staff-from-unlisted-idp",
            {"staff_users": {"eve@uni-a.example.edu"}},
            person("eve@uni-a.example.edu", GITHUB),
            "idp",
            None,
            None,
        ),
        (
            "08-admin-from-unlisted-idp",
            {"admin_users": {"eve@uni-a.example.edu"}},
            person("eve@uni-a.example.edu", GITHUB),
            "idp",
            None,
            None,
        ),
        # groups from isMemberOf
        ("10-groups", {}, MEMBER, True, None, ["cn=hub-admins", "cn=physics,ou=groups"]),
        (
            "11-admin-groups",
            {"admin_groups": {"cn=hub-admins"}},
            MEMBER,
            True,
            True,
            ["cn=hub-admins", "cn=physics,ou=groups"],
        ),
        (
            "12-allowed-groups-at-idp-without-allow",
            {"allowed_groups": {"cu:physics"}, "group_prefix": "cu:"},
            person("bob@uni-a.example.edu", GOOGLE, groups=["physics"]),
            True,
            None,
            ["cu:physics"],
        ),
        (
            "13-filter",
            {"group_filter": ["cn=physics.*"]},
            MEMBER,
            True,
            None,
            ["cn=physics,ou=groups"],
        ),
        # staff, blocked
        (
            "20-staff",
            {"staff_users": {"sam"}},
            person("sam@uni-a.example.edu"),
            True,
            True,
            ["staff"],
        ),
        (
            "21-staff-from-google-needs-google-name",
            {"staff_users": {"sam"}},
            person("sam@gmail.com", GOOGLE),
            "not-allowed",
            None,
            None,
        ),
        (
            "22-blocked-beats-idp-allow-all",
            {"blocked_users": {"idp.uni-b.example.edu:alice"}},
            ALICE_B,
            "blocked",
            None,
            None,
        ),
        (
            "23-blocked-beats-staff",
            {"staff_users": {"alice"}, "blocked_users": {"alice"}},
            ALICE_A,
            "blocked",
            None,
            None,
        ),
        (
            "24-blocked-beats-allowed-domain",
            {"blocked_users": {"alice"}},
            ALICE_A,
            "blocked",
            None,
            None,
        ),
        (
            "25-health-check-user",
            {},
            person("jhub-managed-health-check@uni-a.example.edu"),
            "health-check",
            None,
            None,
        ),
        # a bare username that looks like a prefixed one from another institution
        (
            "30-bare-name-looks-prefixed",
            {},
            person("google:bob@uni-a.example.edu"),
            "username",
            None,
            None,
        ),
    ],
)
async def test_cilogon(idp, case, config, identity, expect_allowed, expect_admin, expect_groups):
    authenticator = ManagedCILogonOAuthenticator(
        **idp.settings("cilogon"), idps=copy.deepcopy(IDPS), **config
    )
    authenticator.check_allow_config()
    identity = idp.add(**identity)
    expect(await outcome(authenticator, idp, identity), expect_allowed, expect_admin, expect_groups)


async def test_same_local_part_at_two_institutions_are_two_users(idp):
    authenticator = ManagedCILogonOAuthenticator(
        **idp.settings("cilogon"), idps=copy.deepcopy(IDPS)
    )
    authenticator.check_allow_config()
    from_a = await outcome(authenticator, idp, idp.add(**ALICE_A))
    from_b = await outcome(authenticator, idp, idp.add(**{**ALICE_B, "login": "alice-b"}))
    assert from_a.name == "alice"  # the default institution keeps bare names
    assert from_b.name == "idp.uni-b.example.edu:alice"
    # CILogon is asked to offer exactly the configured institutions, the default first
    assert idp.authorize_requests[-1]["selected_idp"] == f"{UNI_A},{UNI_B},{GOOGLE}"


def test_refuse_mode_stops_the_hub_at_start(idp):
    settings = {**idp.settings("cilogon"), "username_collisions": "refuse"}
    authenticator = ManagedCILogonOAuthenticator(**settings, idps=copy.deepcopy(IDPS))
    with pytest.raises(ConfigurationError, match="could get the same username"):
        authenticator.check_allow_config()
    # with prefixes given in idps, refuse mode is content
    idps = copy.deepcopy(IDPS)
    idps[UNI_B]["username_derivation"] = {
        "username_claim": "email",
        "action": "prefix",
        "prefix": "uni-b",
    }
    ManagedCILogonOAuthenticator(**settings, idps=idps).check_allow_config()


def test_idps_must_be_set(idp):
    with pytest.raises(ConfigurationError, match="idps is not set"):
        ManagedCILogonOAuthenticator(**idp.settings("cilogon")).check_allow_config()


async def test_by_default_usernames_are_upstreams_and_the_risk_is_logged(idp, caplog):
    # oauthenticator's behaviour: both institutions' alice are one user, as idps says
    authenticator = ManagedCILogonOAuthenticator(
        **idp.provider_settings("cilogon"), idps=copy.deepcopy(IDPS)
    )
    assert authenticator.username_collisions == "allow"
    with caplog.at_level(logging.WARNING):
        authenticator.check_allow_config()
    assert any('username_collisions = "prefix"' in r.getMessage() for r in caplog.records)
    from_b = await outcome(authenticator, idp, idp.add(**{**ALICE_B, "login": "alice-b"}))
    assert from_b.name == "alice"
    assert from_b.groups is None  # no hub groups unless asked for
