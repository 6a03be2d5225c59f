"""The managed authenticators' shared rules: usernames, groups, staff, start-up checks, the
demo authenticator on the mixin, and the wiring by ``configure()``."""

from __future__ import annotations

from importlib.metadata import entry_points
from urllib.parse import quote, unquote

import pytest
from jupyterhub import orm
from jupyterhub.app import JupyterHub
from kubespawner.slugs import is_valid_default, safe_slug
from traitlets.config import Config

from jhub_managed.authenticators import (
    ManagedCILogonOAuthenticator,
    ManagedDemoAuthenticator,
    ManagedGenericOAuthenticator,
    ManagedGitHubOAuthenticator,
    rules,
)
from jhub_managed.authenticators.demo import InsecureDemoError
from jhub_managed.authenticators.pages import LoginRefused, left_behind
from jhub_managed.hub import AUTHENTICATORS, configure
from tests.fixtures.idp import outcome

ODD_NAMES = [
    "Alice",
    "\uff21\uff2c\uff29\uff23\uff25",  # full-width
    "Straße",
    "ǅemal",  # title-case digraph
    "zoë",
    "zoe\u0308",  # the same, decomposed
    "ﬁona",  # ligature
    "Jane Doe",
    "o'brien+hub@example.org",
    "a%2Fb",
    "..hidden",
    "name?x=1#frag",
    "user--server",
    "x" * 128,
    "İstanbul",
    "ΣΊΣΥΦΟΣ",
]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_normalising_is_idempotent(name):
    once = rules.normalize_username(name, {})
    assert rules.normalize_username(once, {}) == once
    mapped = rules.canonical_username_map({"a": "b", "b": "c", name: "Someone"})
    assert rules.normalize_username(rules.normalize_username(name, mapped), mapped) == (
        rules.normalize_username(name, mapped)
    )


def test_names_that_look_the_same_are_one_user():
    assert (
        len({rules.canonical_username(n) for n in ("zoë", "zoe\u0308", "ZOË", "\uff5a\uff4fë")})
        == 1
    )
    assert rules.canonical_username("Straße") == rules.canonical_username("STRASSE")


def test_accepted_odd_names_are_safe_in_urls_and_kubernetes_names():
    names = sorted({rules.normalize_username(n, {}) for n in ODD_NAMES})
    accepted = [n for n in names if rules.username_problem(n, 128) is None]
    assert len(accepted) == len(names)  # all of these are fine once normalised
    slugs = [safe_slug(name) for name in accepted]
    assert all(is_valid_default(slug) for slug in slugs)
    assert len(set(slugs)) == len(accepted)  # no two users share a pod name
    for name in accepted:
        quoted = quote(name, safe="@~")  # how JupyterHub puts names in URLs
        assert not set("/?# ") & set(quoted)  # stays one path segment
        assert unquote(quoted) == name  # and comes back as the same user


@pytest.mark.parametrize(
    "name, problem",
    [
        ("", "empty"),
        ("a/b", "slash"),
        ("..", "only dots"),
        ("x" * 129, "longer than 128"),
        ("ab\u200bc", "invisible"),
        ("a\nb", "control"),
        ("a\u2028b", "control"),
    ],
)
def test_unusable_names_say_why(name, problem):
    assert problem in rules.username_problem(name, 128)


def test_provider_groups_mapped_filtered_and_reserved():
    keep = rules.compile_group_filter(["physics:.*", "staff"])
    raw = ["physics:b", "physics:a", "chemistry:x", "staff", "physics:a"]
    assert rules.map_provider_groups(raw, prefix="gh:", keep=keep, reserved={"staff"}) == [
        "gh:physics:a",
        "gh:physics:b",
        "gh:staff",  # prefixed, it is not the staff group
    ]
    assert rules.map_provider_groups(raw, reserved={"staff"}) == [
        "chemistry:x",
        "physics:a",
        "physics:b",
    ]


def test_group_claims_of_any_shape_are_safe():
    assert rules.provider_group_names("one") == ["one"]
    assert rules.provider_group_names({"a": 1}) == []
    assert rules.provider_group_names(["a", 1, None, " ", "b"]) == ["a", "b"]
    many = rules.provider_group_names([f"g{n}" for n in range(5000)])
    assert len(many) == rules.MAX_PROVIDER_GROUPS


def test_github_team_groups_ignore_malformed_entries():
    teams = [
        {"slug": "TAs", "organization": {"login": "Physics"}},
        {"slug": "x"},
        "not a team",
        {"slug": None, "organization": {"login": "a"}},
    ]
    assert rules.github_team_groups(teams) == ["physics:tas"]
    assert rules.github_team_groups({"message": "Bad credentials"}) == []


# -- start-up checks: settings that cannot work stop the hub with a clear message ----------


@pytest.mark.parametrize(
    "cls, config, message",
    [
        (
            ManagedGenericOAuthenticator,
            {"allow_all": True, "manage_groups": True, "allowed_groups": {"researchers"}},
            "allow_all = True lets everyone who can sign in use the hub, so allowed_groups",
        ),
        (
            ManagedGitHubOAuthenticator,
            {"allow_all": True, "allowed_organizations": {"physics"}},
            "so allowed_organizations would be ignored",
        ),
        (
            ManagedGitHubOAuthenticator,
            {"group_prefix": "gh:", "allowed_groups": {"physics:students"}},
            "allowed_groups ['physics:students'] can never match",
        ),
        (
            ManagedGenericOAuthenticator,
            {"group_filter": ["physics:.*"], "admin_groups": {"hub-admins"}},
            "admin_groups ['hub-admins'] can never match",
        ),
        (
            ManagedGenericOAuthenticator,
            {"allow_all": True, "username_map": {"a": "b", "b": "c"}},
            "map 'a' straight to the final name",
        ),
        (
            ManagedGenericOAuthenticator,
            {"allow_all": True, "username_map": {"Alice": "x", "alice": "y"}},
            "two entries for 'alice'",
        ),
        (
            ManagedGitHubOAuthenticator,
            {
                "allow_all": True,
                "staff_provider_groups": {"o:t"},
                "populate_teams_in_auth_state": False,
            },
            "need populate_teams_in_auth_state = True",
        ),
        (
            ManagedGitHubOAuthenticator,
            {"allow_all": True, "manage_groups": True, "scope": ["read:user"]},
            'reading teams needs "read:org" in scope',
        ),
        (ManagedCILogonOAuthenticator, {"allow_all": True}, "idps is not set"),
        (
            ManagedCILogonOAuthenticator,
            {
                "allow_all": True,
                "idps": {
                    "https://idp.example.edu/idp": {
                        "username_derivation": {"username_claim": "email"},
                        "allowed_domains": ["example.edu"],
                    }
                },
            },
            "so the allowed_domains in idps would be ignored",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_settings_that_cannot_work_stop_the_hub(cls, config, message):
    authenticator = cls(**config)
    with pytest.raises(rules.ConfigurationError) as info:
        authenticator.check_allow_config()
    assert message in str(info.value)


@pytest.mark.parametrize(
    "cls, upstream",
    [
        (ManagedGitHubOAuthenticator, "GitHubOAuthenticator"),
        (ManagedGenericOAuthenticator, "GenericOAuthenticator"),
        (ManagedCILogonOAuthenticator, "CILogonOAuthenticator"),
    ],
)
@pytest.mark.parametrize("trait", ["allowed_groups", "admin_groups"])
def test_group_rules_without_manage_groups_are_refused_as_upstream_refuses_them(
    cls, upstream, trait
):
    # oauthenticator refuses them as soon as they are set, naming its own class
    with pytest.raises(ValueError, match=f"{upstream}.{trait} requires {upstream}.manage_groups"):
        cls(**{trait: {"researchers"}})
    assert getattr(cls(manage_groups=True, **{trait: {"researchers"}}), trait) == {"researchers"}


@pytest.mark.parametrize(
    "cls", [ManagedGitHubOAuthenticator, ManagedGenericOAuthenticator, ManagedCILogonOAuthenticator]
)
def test_upstream_defaults_are_kept(cls):
    upstream = cls.__bases__[1]  # ManagedX(ManagedAuthenticatorMixin, X)
    assert upstream.__module__.startswith("oauthenticator.")
    ours, theirs = cls(), upstream()
    for name in ("manage_groups", "scope", "username_claim", "allow_all", "custom_403_message"):
        assert getattr(ours, name) == getattr(theirs, name), name
    if cls is ManagedCILogonOAuthenticator:
        # deliberate: upstream has no default (a groups claim must be named); CILogon's is
        # isMemberOf, only read when manage_groups is on
        assert (ours.auth_state_groups_key, theirs.auth_state_groups_key) == (
            "cilogon_user.isMemberOf",
            "",
        )
    else:
        assert ours.auth_state_groups_key == theirs.auth_state_groups_key
    if cls is ManagedGitHubOAuthenticator:
        assert ours.populate_teams_in_auth_state is theirs.populate_teams_in_auth_state is False


@pytest.mark.parametrize(
    "option", [{"group_prefix": "gh:"}, {"group_filter": ["physics:.*"]}, {"staff_users": {"sam"}}]
)
def test_managed_group_options_ask_for_groups_and_teams(option):
    authenticator = ManagedGitHubOAuthenticator(**option)
    assert authenticator.manage_groups is True
    assert authenticator.populate_teams_in_auth_state is True
    assert "read:org" in authenticator.scope
    # a hub that says where groups come from is not second-guessed
    explicit = ManagedGitHubOAuthenticator(manage_groups=False, **option)
    assert explicit.manage_groups is False


def test_a_bad_group_filter_is_refused_when_set():
    with pytest.raises(rules.ConfigurationError, match="'physics:\\(' is not a regular expression"):
        ManagedGitHubOAuthenticator(group_filter=["physics:("])


def test_blocked_users_are_normalised_for_jupyterhub_too():
    authenticator = ManagedGitHubOAuthenticator(
        allow_all=True, blocked_users={"Mallory", "\uff25\uff36\uff25"}
    )
    authenticator.check_allow_config()
    # JupyterHub revokes blocked users' rights at start, by these names
    assert authenticator.blocked_users == {"mallory", "eve"}


# -- admin rights that came with staff go when staff does ---------------------------------


async def test_former_staff_lose_the_admin_rights_staff_gave(idp):
    db = orm.new_session_factory("sqlite://")()
    sam = orm.User(name="sam", admin=True)
    db.add(sam)
    db.add(orm.Group(name="staff", users=[sam]))
    db.commit()
    authenticator = ManagedGitHubOAuthenticator(
        **idp.settings("github"),
        allowed_organizations={"physics"},
        staff_provider_groups={"fleet-ops:operators"},
    )
    identity = idp.add("sam", teams=["physics:students", "fleet-ops:operators"])
    still_staff = await outcome(authenticator, idp, identity, db)
    assert still_staff.admin is True and "staff" in still_staff.groups

    identity.teams.remove("fleet-ops:operators")
    former = await outcome(authenticator, idp, identity, db)
    assert former.allowed and former.admin is False
    assert former.groups == ["physics:students"]

    # someone never on staff keeps whatever admin status the hub gave them
    db.add(orm.User(name="alice", admin=True))
    db.commit()
    alice = await outcome(authenticator, idp, idp.add("alice", teams=["physics:x"]), db)
    assert alice.admin is None  # None: unchanged


# -- the demo authenticator keeps its behaviour, and gains the managed rules ---------------


def demo(**config):
    authenticator = ManagedDemoAuthenticator(password="pw", **config)
    authenticator.check_allow_config()
    return authenticator


class _Handler:
    """Where a login leaves what the login page shows (a real handler in the hub)."""


async def demo_login(authenticator, username, password="pw"):  # noqa: S107
    """The demo login; a refusal left for the login page is raised, as the page does."""
    handler = _Handler()
    model = await authenticator.get_authenticated_user(
        handler, {"username": username, "password": password}
    )
    problem = left_behind(handler)
    if model is None and problem is not None:
        raise problem
    return model


async def test_demo_users_groups_and_admin():
    authenticator = demo()
    admin = await demo_login(authenticator, "admin")
    assert admin["admin"] is True and admin["groups"] == []
    alice = await demo_login(authenticator, "Alice")
    assert alice["name"] == "alice" and alice["groups"] == ["researchers"]
    assert alice["admin"] is False
    assert await demo_login(authenticator, "alice", "wrong") is None
    assert await demo_login(authenticator, "mallory") is None


async def test_demo_blocked_and_staff_rules():
    authenticator = demo(blocked_users={"admin"}, staff_users={"bob"})
    with pytest.raises(LoginRefused) as info:
        await demo_login(authenticator, "admin")
    assert info.value.why == "blocked"
    bob = await demo_login(authenticator, "bob")
    assert bob["admin"] is True and bob["groups"] == ["staff"]


async def test_demo_health_check_user_cannot_log_in():
    authenticator = demo(demo_users={"jhub-managed-health-check": {"admin": True, "groups": []}})
    with pytest.raises(LoginRefused) as info:
        await demo_login(authenticator, "jhub-managed-health-check")
    assert info.value.why == "health-check"


@pytest.mark.parametrize("ip", ["0.0.0.0", "10.1.2.3"])  # noqa: S104
def test_demo_refuses_to_start_on_a_public_address(ip):
    hub = JupyterHub(ip=ip)
    with pytest.raises(InsecureDemoError, match=f"listens on '{ip}'"):
        ManagedDemoAuthenticator(parent=hub, password="pw").check_allow_config()
    ManagedDemoAuthenticator(parent=hub, password="pw", allow_insecure=True).check_allow_config()
    ManagedDemoAuthenticator(parent=JupyterHub(ip="127.0.0.1"), password="pw").check_allow_config()


def test_demo_needs_a_password():
    with pytest.raises(InsecureDemoError, match="password is not set"):
        ManagedDemoAuthenticator().check_allow_config()


# -- wiring --------------------------------------------------------------------------------


def test_configure_selects_each_authenticator_and_passes_fleet_staff(tmp_path):
    for name, cls in [
        ("github", ManagedGitHubOAuthenticator),
        ("cilogon", ManagedCILogonOAuthenticator),
        ("generic", ManagedGenericOAuthenticator),
        ("demo", ManagedDemoAuthenticator),
    ]:
        c = Config()
        configure(
            c,
            authenticator=name,
            data_dir=str(tmp_path),
            staff_users=["Sam"],
            staff_provider_groups=["fleet-ops:operators"],
        )
        assert c.JupyterHub.authenticator_class == AUTHENTICATORS[name]
        assert AUTHENTICATORS[name].endswith(cls.__name__)
        authenticator = cls(config=c)
        assert authenticator.staff_users == {"Sam"}
        assert authenticator.staff_provider_groups == {"fleet-ops:operators"}
        assert authenticator.staff_opt_out is False

    c = Config()
    configure(c, authenticator="github", data_dir=str(tmp_path), staff_opt_out=True)
    assert ManagedGitHubOAuthenticator(config=c).staff_opt_out is True


def test_entry_points_name_the_classes():
    # as JupyterHub finds them: c.JupyterHub.authenticator_class = "managed-github"
    installed = {
        ep.name: ep.load()
        for ep in entry_points(group="jupyterhub.authenticators")
        if ep.name.startswith("managed-")
    }
    assert installed == {
        "managed-demo": ManagedDemoAuthenticator,
        "managed-github": ManagedGitHubOAuthenticator,
        "managed-cilogon": ManagedCILogonOAuthenticator,
        "managed-generic": ManagedGenericOAuthenticator,
    }, "entry points out of date? reinstall: pip install -e ."


def test_every_option_is_documented_config():
    for cls in (
        ManagedGitHubOAuthenticator,
        ManagedCILogonOAuthenticator,
        ManagedGenericOAuthenticator,
        ManagedDemoAuthenticator,
    ):
        ours = [c for c in cls.mro() if c.__module__.startswith("jhub_managed")]
        for owner in ours:
            for name, trait in owner.class_own_traits(config=True).items():
                assert trait.help and len(trait.help) > 20, f"{owner.__name__}.{name}"


def test_configure_asks_for_groups_unless_the_config_decides(tmp_path):
    c = Config()
    configure(c, authenticator="cilogon", data_dir=str(tmp_path))
    cilogon = ManagedCILogonOAuthenticator(config=c)
    assert cilogon.manage_groups is True
    assert cilogon.username_collisions == "prefix"

    c = Config()
    c.GitHubOAuthenticator.manage_groups = False  # the hub's own choice, as in z2jh values
    c.CILogonOAuthenticator.username_collisions = "refuse"
    configure(c, authenticator="github", data_dir=str(tmp_path))
    assert ManagedGitHubOAuthenticator(config=c).manage_groups is False
    assert ManagedCILogonOAuthenticator(config=c).username_collisions == "refuse"


async def test_a_hubs_own_403_message_is_what_refused_people_read(idp):
    authenticator = ManagedGitHubOAuthenticator(
        **idp.settings("github"),
        allowed_organizations={"physics"},
        custom_403_message="Ask the physics office for access.",
    )
    refused = await outcome(authenticator, idp, idp.add("eve", teams=["chemistry:x"]))
    assert refused.refused == "not-allowed"
    assert refused.message == "Ask the physics office for access."
