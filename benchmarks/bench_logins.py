"""Logins per second: the managed authenticators against the plain oauthenticator classes.

Each login is the hub's side of a real OAuth login against the fake identity provider of
the tests, served over HTTP on 127.0.0.1 in the same process: the login handler's redirect,
the provider's authorize step, then the callback's ``get_authenticated_user`` (token,
userinfo, GitHub teams and organisation membership). The plain class gets the same
settings (GitHub: ``allowed_organizations``, teams as groups; generic OIDC:
``allowed_groups`` and ``admin_groups``). A third row, ``github+staff``, adds fleet staff
rules to the managed class only, to show what they cost (a database look-up per login).

The two classes run in short alternating rounds of the same run (the machine is shared and
noisy). Reported: the median rates per wall-clock second and per CPU second of this process
(which also serves the provider, so CPU time covers the whole login but not waiting for a
busy CPU), and for each the median over rounds of managed/plain; the target is 0.95 or
better for the rows with the same settings.
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
ROUNDS = 24
LOGINS_PER_ROUND = 40
WARM_UP = 20


def github_teams(auth_state: dict) -> list[str]:
    """What the managed class makes of teams, for the plain class's ``auth_state_groups_key``."""
    return [f"{t['organization']['login']}:{t['slug']}" for t in auth_state.get("teams", [])]


def pairs(idp: FakeIdP):
    """(name, plain, managed, identities): the same settings for both classes."""
    github = {
        **idp.settings("github"),
        "allowed_organizations": {"physics"},
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
        idp.add(f"gh-user-{n}", teams=["physics:students", f"physics:lab-{n % 3}"])
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
        # not the same settings: what staff rules cost (the plain class has none), i.e. one
        # look-up in the hub database per login, whether the person was staff before
        (
            "github+staff",
            GitHubOAuthenticator(**github, auth_state_groups_key=github_teams),
            ManagedGitHubOAuthenticator(**github, staff_provider_groups={"fleet-ops:operators"}),
            github_people,
        ),
    ]


async def logins_per_second(authenticator, idp: FakeIdP, people, count: int):
    """(logins per wall-clock second, logins per CPU second) for ``count`` logins.

    The provider runs in this process too, so CPU time covers the whole login and leaves
    out time spent waiting for a CPU on a busy machine.
    """
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        model = await sign_in(authenticator, idp, people[n % len(people)])
        assert model is not None, "every benchmark login is allowed"
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def paired_ratio(rates: dict[str, list[float]]) -> float:
    """Median over rounds of managed/plain: the two runs of a round see the same load."""
    return statistics.median(
        managed / plain for managed, plain in zip(rates["managed"], rates["plain"], strict=True)
    )


async def measure() -> dict:
    idp = await FakeIdP().start()
    try:
        results = {}
        for name, plain, managed, people in pairs(idp):
            for authenticator in (plain, managed):
                await logins_per_second(authenticator, idp, people, WARM_UP)
            walls = {"plain": [], "managed": []}
            cpus = {"plain": [], "managed": []}
            for round_ in range(ROUNDS):
                order = [("plain", plain), ("managed", managed)]
                if round_ % 2:
                    order.reverse()
                for label, authenticator in order:
                    wall, cpu = await logins_per_second(
                        authenticator, idp, people, LOGINS_PER_ROUND
                    )
                    walls[label].append(wall)
                    cpus[label].append(cpu)
            wall_ratio = paired_ratio(walls)
            cpu_ratio = paired_ratio(cpus)
            results[name] = {
                "plain_class": type(plain).__name__,
                "managed_class": type(managed).__name__,
                "plain_logins_per_s": round(statistics.median(walls["plain"]), 1),
                "managed_logins_per_s": round(statistics.median(walls["managed"]), 1),
                "ratio": round(wall_ratio, 3),
                "plain_logins_per_cpu_s": round(statistics.median(cpus["plain"]), 1),
                "managed_logins_per_cpu_s": round(statistics.median(cpus["managed"]), 1),
                "cpu_ratio": round(cpu_ratio, 3),
                "same_settings": "+" not in name,
                "meets_target": min(wall_ratio, cpu_ratio) >= TARGET,
            }
        return results
    finally:
        await idp.aclose()


def main() -> None:
    results = asyncio.run(measure())
    print(
        f"{'provider':9} {'plain/s':>8} {'managed/s':>9} {'ratio':>6}   "
        f"{'plain/cpu-s':>11} {'managed/cpu-s':>13} {'ratio':>6}   (target >= {TARGET})"
    )
    for name, row in results.items():
        print(
            f"{name:9} {row['plain_logins_per_s']:>8} {row['managed_logins_per_s']:>9} "
            f"{row['ratio']:>6}   {row['plain_logins_per_cpu_s']:>11} "
            f"{row['managed_logins_per_cpu_s']:>13} {row['cpu_ratio']:>6}"
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
