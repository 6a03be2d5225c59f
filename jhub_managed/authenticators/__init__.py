"""Managed authenticators: identity-provider groups, staff access, clear refusals."""

from .cilogon import ManagedCILogonOAuthenticator
from .demo import ManagedDemoAuthenticator
from .generic import ManagedGenericOAuthenticator
from .github import ManagedGitHubOAuthenticator
from .mixin import ManagedAuthenticatorMixin

__all__ = [
    "ManagedAuthenticatorMixin",
    "ManagedCILogonOAuthenticator",
    "ManagedDemoAuthenticator",
    "ManagedGenericOAuthenticator",
    "ManagedGitHubOAuthenticator",
]
