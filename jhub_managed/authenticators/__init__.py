"""Managed authenticators: identity-provider groups, staff access, clear refusals."""

from .demo import ManagedDemoAuthenticator

__all__ = ["ManagedDemoAuthenticator"]
