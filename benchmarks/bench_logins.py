"""Logins per second: the managed authenticators against the plain oauthenticator classes.

Each login is the hub's side of a real OAuth login against the fake identity provider of
the tests, served over HTTP on 127.0.0.1 in the same process: the login handler's redirect,
the provider's authorize step, then the callback's ``get_authenticated_user`` (token,
userinfo, GitHub teams and organisation membership). The plain class gets the same
settings; the two are measured in alternating rounds of the same run, and the ratio of
their median rates is the figure (target: the managed class at least 0.95 of the plain one).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.github import GitHubOAuthenticator

from jhub_managed.authenticators import ManagedGenericOAuthenticator, ManagedGitHubOAuthenticator
from tests.fixtures.idp import FakeIdP, sign_in

from .common import write_results

TARGET = 0.95
ROUNDS = 7
LOGINS_PER_ROUND = 150
WARM_UP = 20


def github_teams(auth_state: dict) -> list[str]:
    """What the managed class makes of teams, for the plain class's ``auth_state_groups_key``."""
    return [f"{t['organization']['login']}:{t['slug']}" for t in auth_state.get("teams", [])]


def pairs(idp: FakeIdP):
    """(name, plain, managed, identities): the same settings for both classes."""
    github = {
        **idp.settings("github"),
        "allowed_organizations": {"physics"},
        "admin_groups": {"physics:tas"},
        "populate_teams_in_auth_state": True,
        "scope": ["read:org"],
        "manage_groups": True,
    }
    generic = {
        **idp.settings("generic"),
        "allowed_groups": {"researchers"},
        "admin_groups": {"hub-admins"},
        "username_claim": "preferred_username",
        "scope": ["openid", "profile", "email"],
        "manage_groups": True,
    }
    github_people = [
        idp.add(f"gh-user-{n}", teams=["physics:students"] + (["physics:tas"] if n % 3 else []))
        for n in range(10)
    ]
    generic_people = [
        idp.add(f"oidc-user-{n}", groups=["researchers"] + (["hub-admins"] if n % 3 else []))
        for n in range(10)
    ]
    return [
        (
            "github",
            GitHubOAuthenticator(**github, auth_state_groups_key=github_teams),
            ManagedGitHubOAuthenticator(**github),
            github_people,
        ),
        (
            "generic",
            GenericOAuthenticator(**generic),
            ManagedGenericOAuthenticator(**generic),
            generic_people,
        ),
    ]


async def logins_per_second(authenticator, idp: FakeIdP, people, count: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for n in range(count):
        model = await sign_in(authenticator, idp, people[n % len(people)])
        assert model is not None, "every benchmark login is allowed"
    return count / (time.perf_counter() - start)


async def measure() -> dict:
    idp = await FakeIdP().start()
    try:
        results = {}
        for name, plain, managed, people in pairs(idp):
            for authenticator in (plain, managed):
                await logins_per_second(authenticator, idp, people, WARM_UP)
            rates = {"plain": [], "managed": []}
            for round_ in range(ROUNDS):
                order = [("plain", plain), ("managed", managed)]
                if round_ % 2:
                    order.reverse()
                for label, authenticator in order:
                    rate = await logins_per_second(authenticator, idp, people, LOGINS_PER_ROUND)
                    rates[label].append(rate)
            plain_rate = statistics.median(rates["plain"])
            managed_rate = statistics.median(rates["managed"])
            results[name] = {
                "plain_class": type(plain).__name__,
                "managed_class": type(managed).__name__,
                "plain_logins_per_s": round(plain_rate, 1),
                "managed_logins_per_s": round(managed_rate, 1),
                "ratio": round(managed_rate / plain_rate, 3),
                "round_ratios": [
                    round(m / p, 3) for m, p in zip(rates["managed"], rates["plain"], strict=True)
                ],
                "meets_target": managed_rate / plain_rate >= TARGET,
            }
        return results
    finally:
        await idp.aclose()


def main() -> None:
    results = asyncio.run(measure())
    print(f"{'provider':10} {'plain/s':>9} {'managed/s':>10} {'ratio':>7}  (target >= {TARGET})")
    for name, row in results.items():
        print(
            f"{name:10} {row['plain_logins_per_s']:>9} {row['managed_logins_per_s']:>10} "
            f"{row['ratio']:>7}"
        )
    write_results(
        "logins",
        {
            "target_ratio": TARGET,
            "rounds": ROUNDS,
            "logins_per_round": LOGINS_PER_ROUND,
            "providers": results,
        },
    )


if __name__ == "__main__":
    main()
