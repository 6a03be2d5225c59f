"""pytest plugin: put our classes in place of the upstream ones before their tests import them.

Load it with ``-p tests.upstream.swap`` and name the swaps in ``JHUB_MANAGED_SWAP``:
``module:Name=module:Replacement`` pairs separated by commas, or one of the preset names
``oauthenticator`` and ``kubespawner``. Upstream tests import the class from its module
(``from ..github import GitHubOAuthenticator``, ``from kubespawner import KubeSpawner``), so
replacing the module attribute before collection is enough; configuration sections named
after the upstream class (``c.GitHubOAuthenticator``) still apply, because the upstream
class is a base of ours.
"""

from __future__ import annotations

import importlib
import os

PRESETS = {
    "oauthenticator": [
        (
            "oauthenticator.github:GitHubOAuthenticator",
            "jhub_managed.authenticators:ManagedGitHubOAuthenticator",
        ),
        (
            "oauthenticator.generic:GenericOAuthenticator",
            "jhub_managed.authenticators:ManagedGenericOAuthenticator",
        ),
        (
            "oauthenticator.cilogon:CILogonOAuthenticator",
            "jhub_managed.authenticators:ManagedCILogonOAuthenticator",
        ),
    ],
    "kubespawner": [
        ("kubespawner:KubeSpawner", "jhub_managed.spawner.kube:ManagedKubeSpawner"),
        ("kubespawner.spawner:KubeSpawner", "jhub_managed.spawner.kube:ManagedKubeSpawner"),
    ],
}


def parse_swaps(spec: str) -> list[tuple[str, str]]:
    """``JHUB_MANAGED_SWAP`` as (target, replacement) pairs."""
    swaps: list[tuple[str, str]] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        if item in PRESETS:
            swaps.extend(PRESETS[item])
            continue
        target, sep, replacement = item.partition("=")
        if not sep or ":" not in target or ":" not in replacement:
            raise ValueError(f"JHUB_MANAGED_SWAP: {item!r} is not module:Name=module:Name")
        swaps.append((target, replacement))
    return swaps


def _load(path: str):
    module, _, name = path.partition(":")
    return importlib.import_module(module), name


def apply_swaps(swaps: list[tuple[str, str]]) -> list[str]:
    """Replace each target attribute; returns what was swapped, for the report header."""
    done = []
    for target, replacement in swaps:
        target_module, target_name = _load(target)
        replacement_module, replacement_name = _load(replacement)
        original = getattr(target_module, target_name)
        new = getattr(replacement_module, replacement_name)
        if not issubclass(new, original):
            raise TypeError(f"{replacement} is not a subclass of {target}")
        setattr(target_module, target_name, new)
        done.append(f"{target} -> {replacement}")
    return done


_SWAPPED: list[str] = []


def pytest_configure(config):
    spec = os.environ.get("JHUB_MANAGED_SWAP", "")
    if not spec:
        raise RuntimeError("tests.upstream.swap loaded without JHUB_MANAGED_SWAP")
    _SWAPPED[:] = apply_swaps(parse_swaps(spec))


def pytest_report_header(config):
    return ["swapped: " + "; ".join(_SWAPPED)]
