"""ManagedGenericOAuthenticator (any OIDC provider) against a fake provider over HTTP, and
what every managed authenticator does when the provider is down or the sign-in goes wrong.
``expect_allowed`` is True or the reason the refusal page gives."""

from __future__ import annotations

import logging
import time

import pytest
from oauthenticator.oauth2 import _serialize_state

from jhub_managed.authenticators import ManagedGenericOAuthenticator
from jhub_managed.authenticators.pages import LoginFailed, ProviderUnavailable, left_behind
from tests.fixtures.idp import callback_handler, expect, outcome, sign_in
from tests.fixtures.processes import free_port

RESEARCHER = {"login": "zoe", "groups": ["researchers"], "email": "zoe@uni.example.org"}
ADMIN = {"login": "zoe", "groups": ["researchers", "hub-admins"]}
BY_EMAIL = {"username_claim": "email", "allow_all": True}


@pytest.mark.parametrize(
    "case, config, identity, expect_allowed, expect_admin, expect_groups",
    [
        ("00-no-allow-config", {}, RESEARCHER, "not-allowed", None, None),
        ("01-allow-all", {"allow_all": True}, RESEARCHER, True, None, ["researchers"]),
        ("02-allowed-users", {"allowed_users": {"zoe"}}, {"login": "zoe"}, True, None, []),
        (
            "03-allowed-groups",
            {"allowed_groups": {"researchers"}},
            RESEARCHER,
            True,
            None,
            ["researchers"],
        ),
        (
            "04-allowed-groups-not-member",
            {"allowed_groups": {"teachers"}},
            RESEARCHER,
            "not-allowed",
            None,
            None,
        ),
        (
            "05-admin-groups",
            {"admin_groups": {"hub-admins"}},
            ADMIN,
            True,
            True,
            ["hub-admins", "researchers"],
        ),
        (
            "06-admin-groups-not-member",
            {"allowed_groups": {"researchers"}, "admin_groups": {"hub-admins"}},
            RESEARCHER,
            True,
            False,
            ["researchers"],
        ),
        ("07-admin-users", {"admin_users": {"zoe"}}, {"login": "zoe"}, True, True, []),
        # the groups claim in any shape; only strings become groups
        (
            "10-one-group-as-string",
            {"allow_all": True},
            {"login": "zoe", "groups": "researchers"},
            True,
            None,
            ["researchers"],
        ),
        (
            "11-groups-not-a-list",
            {"allow_all": True},
            {"login": "zoe", "groups": 42},
            True,
            None,
            [],
        ),
        ("12-no-groups-claim", {"allow_all": True}, {"login": "zoe"}, True, None, []),
        (
            "13-junk-in-groups",
            {"allow_all": True},
            {"login": "zoe", "groups": ["ok", "", 7, None, {"x": 1}, "x" * 300]},
            True,
            None,
            ["ok"],
        ),
        (
            "14-other-claim",
            {"allow_all": True, "auth_state_groups_key": "oauth_user.roles"},
            {"login": "zoe", "groups": ["a"], "claims": {"roles": ["b"]}},
            True,
            None,
            ["b"],
        ),
        (
            "15-callable-claim",
            {
                "allow_all": True,
                "auth_state_groups_key": lambda s: [g.upper() for g in s["oauth_user"]["groups"]],
            },
            RESEARCHER,
            True,
            None,
            ["RESEARCHERS"],
        ),
        (
            "16-prefix-and-filter",
            {"allow_all": True, "group_prefix": "sso-", "group_filter": ["res.*"]},
            {"login": "zoe", "groups": ["researchers", "staff-canteen"]},
            True,
            None,
            ["sso-researchers"],
        ),
        # staff
        (
            "20-staff-by-group",
            {"allowed_groups": {"researchers"}, "staff_provider_groups": {"fleet-operators"}},
            {"login": "sam", "groups": ["fleet-operators"]},
            True,
            True,
            ["fleet-operators", "staff"],
        ),
        (
            "21-provider-group-named-staff-is-not-staff",
            {"allow_all": True},
            {"login": "eve", "groups": ["staff", "researchers"]},
            True,
            None,
            ["researchers"],
        ),
        (
            "22-provider-staff-group-gives-no-admin",
            {"allow_all": True, "admin_groups": {"staff"}},
            {"login": "eve", "groups": ["staff"]},
            True,
            False,
            [],
        ),
        (
            "23-staff-opt-out",
            {"allowed_groups": {"researchers"}, "staff_users": {"sam"}, "staff_opt_out": True},
            {"login": "sam"},
            "not-allowed",
            None,
            None,
        ),
        # blocked beats everything
        (
            "30-blocked-beats-allowed-groups",
            {"allowed_groups": {"researchers"}, "blocked_users": {"zoe"}},
            RESEARCHER,
            "blocked",
            None,
            None,
        ),
        (
            "31-blocked-beats-admin-groups",
            {"admin_groups": {"hub-admins"}, "blocked_users": {"zoe"}},
            ADMIN,
            "blocked",
            None,
            None,
        ),
        (
            "32-blocked-beats-allowed-users",
            {"allowed_users": {"zoe"}, "blocked_users": {"zoe"}},
            RESEARCHER,
            "blocked",
            None,
            None,
        ),
        (
            "33-blocked-beats-staff-group",
            {"allow_all": True, "staff_provider_groups": {"ops"}, "blocked_users": {"sam"}},
            {"login": "sam", "groups": ["ops"]},
            "blocked",
            None,
            None,
        ),
        (
            "34-health-check-user",
            {"allowed_groups": {"researchers"}},
            {"login": "jhub-managed-health-check", "groups": ["researchers"]},
            "health-check",
            None,
            None,
        ),
        (
            "35-health-check-user-by-username-map",
            {"allow_all": True, "username_map": {"mallory": "jhub-managed-health-check"}},
            {"login": "Mallory"},
            "health-check",
            None,
            None,
        ),
        # e-mail addresses as usernames must be verified by the provider
        (
            "40-verified-email",
            BY_EMAIL,
            {"login": "zoe", "email": "Zoe@Uni.example.org"},
            True,
            None,
            [],
        ),
        (
            "41-unverified-email",
            BY_EMAIL,
            {"login": "x", "email": "zoe@uni.example.org", "email_verified": False},
            "email-unverified",
            None,
            None,
        ),
        (
            "42-email-verified-claim-missing",
            BY_EMAIL,
            {"login": "x", "email": "zoe@uni.example.org", "claims": {"email_verified": None}},
            "email-unverified",
            None,
            None,
        ),
        (
            "43-email-verified-as-string",
            BY_EMAIL,
            {"login": "x", "email": "zoe@uni.example.org", "claims": {"email_verified": "false"}},
            "email-unverified",
            None,
            None,
        ),
        (
            "44-unverified-email-admin",
            {**BY_EMAIL, "admin_users": {"zoe@uni.example.org"}},
            {"login": "x", "email": "zoe@uni.example.org", "email_verified": False},
            "email-unverified",
            None,
            None,
        ),
        (
            "45-check-turned-off",
            {**BY_EMAIL, "require_verified_email": False},
            {"login": "x", "email": "zoe@uni.example.org", "email_verified": False},
            True,
            None,
            [],
        ),
        (
            "46-other-username-claim-ignores-email",
            {"allow_all": True},
            {"login": "zoe", "email_verified": False},
            True,
            None,
            [],
        ),
        # usernames
        ("50-username-with-slash", {"allow_all": True}, {"login": "a/b"}, "username", None, None),
        ("51-username-too-long", {"allow_all": True}, {"login": "z" * 129}, "username", None, None),
        (
            "52-username-control-character",
            {"allow_all": True},
            {"login": "zo\u200be"},
            "username",
            None,
            None,
        ),
        ("53-username-dots", {"allow_all": True}, {"login": ".."}, "username", None, None),
        (
            "54-odd-but-fine-username",
            {"allow_all": True},
            {"login": "Zoë O'Brien+hub@x"},
            True,
            None,
            [],
        ),
    ],
)
async def test_generic(idp, case, config, identity, expect_allowed, expect_admin, expect_groups):
    authenticator = ManagedGenericOAuthenticator(**{**idp.settings("generic"), **config})
    authenticator.check_allow_config()
    identity = idp.add(**identity)
    expect(await outcome(authenticator, idp, identity), expect_allowed, expect_admin, expect_groups)


async def test_usernames_are_normalised_once_and_for_all(idp):
    authenticator = ManagedGenericOAuthenticator(**idp.settings("generic"), allow_all=True)
    for login, name in [
        ("Zoë O'Brien+hub@x", "zoë o'brien+hub@x"),
        ("\uff3a\uff2f\uff25", "zoe"),  # full-width letters
        ("Straße", "strasse"),
        ("  padded  ", "padded"),
    ]:
        result = await outcome(authenticator, idp, idp.add(login))
        assert result.name == name
        assert authenticator.normalize_username(result.name) == result.name


# -- the provider down, or the sign-in going wrong -------------------------------------------


@pytest.mark.parametrize("down", ["error", "hang"])
async def test_provider_down_is_a_try_again_page_and_a_log_line(idp, caplog, down):
    authenticator = ManagedGenericOAuthenticator(
        **idp.settings("generic"), allow_all=True, provider_timeout=0.5
    )
    idp.down = down
    start = time.monotonic()
    with caplog.at_level(logging.ERROR), pytest.raises(ProviderUnavailable) as info:
        await sign_in(authenticator, idp, idp.add("zoe"))
    assert time.monotonic() - start < 5  # the timeout, not tornado's 20 s default
    assert info.value.status_code == 503
    assert info.value.headers["Retry-After"]
    assert "Example SSO did not answer" in info.value.message
    assert "try again" in info.value.message
    assert any(
        "did not answer" in r.getMessage() and "/token" in r.getMessage() for r in caplog.records
    )

    idp.down = False  # back up: the same authenticator works again
    assert (await outcome(authenticator, idp, "zoe")).allowed


async def test_provider_not_listening_at_all(idp):
    settings = idp.settings("generic")
    settings["token_url"] = f"http://127.0.0.1:{free_port()}/token"
    authenticator = ManagedGenericOAuthenticator(**settings, allow_all=True)
    with pytest.raises(ProviderUnavailable):
        await sign_in(authenticator, idp, idp.add("zoe"))


async def test_a_code_used_twice_is_a_start_again_page(idp):
    authenticator = ManagedGenericOAuthenticator(**idp.settings("generic"), allow_all=True)
    assert (await sign_in(authenticator, idp, idp.add("zoe")))["name"] == "zoe"
    # the browser's back button: the same callback URL, its code already spent
    used = "code=spent-code&state=x"
    handler = callback_handler(authenticator, used, _serialize_state({"code_verifier": "v"}))
    # upstream's contract: no user; the page to show is left for the callback handler
    assert await authenticator.get_authenticated_user(handler, None) is None
    problem = left_behind(handler)
    assert isinstance(problem, LoginFailed)
    assert problem.status_code == 400
    assert "start again" in problem.message


async def test_a_missing_username_claim_is_a_clear_failure_not_a_500(idp):
    authenticator = ManagedGenericOAuthenticator(
        **{**idp.settings("generic"), "username_claim": "upn"}, allow_all=True
    )
    with pytest.raises(LoginFailed) as info:
        await sign_in(authenticator, idp, idp.add("zoe"))
    assert info.value.status_code == 502
    assert "cannot use" in info.value.message


@pytest.mark.parametrize(
    "query, state_cookie",
    [
        ("code=c", _serialize_state({"state_id": "a"})),  # no state in the URL
        ("state=x", _serialize_state({"state_id": "a"})),  # no code
        (
            f"code=c&state={_serialize_state({'state_id': 'b'})}",
            _serialize_state({"state_id": "a"}),
        ),
        ("code=c&state=not-base64!", "also not base64!"),
        ("error=access_denied&error_description=You%20said%20no", ""),
    ],
)
async def test_broken_callbacks_are_start_again_pages(idp, query, state_cookie):
    authenticator = ManagedGenericOAuthenticator(**idp.settings("generic"), allow_all=True)
    handler = callback_handler(authenticator, query, state_cookie)
    with pytest.raises(LoginFailed) as info:
        handler.check_arguments()
    assert info.value.status_code == 400
    assert "start again" in info.value.message
