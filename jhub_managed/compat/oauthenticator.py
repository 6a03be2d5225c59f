"""oauthenticator's private names, used here only (by the managed authenticators).

Checked on oauthenticator 17.4.0, the version both JupyterHub 5.5 (z2jh 4.4.0) and 6.1
hubs run (``tests/test_upstream_pins.py`` names the one that changed, and the installed
version, when one does).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from oauthenticator.oauth2 import _deserialize_state
from traitlets import HasTraits, observe


def deserialize_state(value: str | bytes) -> dict:
    """The OAuth ``state`` (its cookie or its query argument) as oauthenticator wrote it;
    ``{}`` when it cannot be read.

    ``oauthenticator.oauth2._deserialize_state``, private: oauthenticator's callback
    compares the state ids only, so two unreadable states would match; the managed
    callback refuses a state without an id. Checked on oauthenticator 17.4.0.
    """
    return _deserialize_state(value)


class UpstreamOptionChecks(HasTraits):
    """oauthenticator's checks of its options, saying upstream's class name.

    oauthenticator's private observers ``OAuthenticator._deprecated_oauth_trait``,
    ``OAuthenticator._requires_manage_groups`` and
    ``GenericOAuthenticator._claim_groups_key_changed`` name the instance's class in their
    warnings and errors; the options belong to the upstream class
    (``c.GitHubOAuthenticator``), and the versions they quote are upstream's. These
    overrides run upstream's own observer (where the class has it) with its messages
    renamed. Checked on oauthenticator 17.4.0.
    """

    def upstream_class_name(self) -> str:
        """The upstream class this one is a drop-in for (``GitHubOAuthenticator``)."""
        for cls in type(self).__mro__:
            if not cls.__module__.startswith("jhub_managed"):
                return cls.__name__
        return type(self).__name__  # pragma: no cover

    @contextmanager
    def upstream_names(self) -> Iterator[None]:
        """Upstream's checks and deprecation messages, as upstream's class says them."""
        ours, theirs = type(self).__name__, self.upstream_class_name()
        log = self.log
        self.log = _Renaming(log, ours, theirs)
        try:
            yield
        except ValueError as e:
            if ours in str(e):
                raise type(e)(str(e).replace(ours, theirs)) from None
            raise
        finally:
            self.log = log

    def _run_upstream(self, name: str, change) -> None:
        upstream = getattr(super(), name, None)
        if upstream is not None:
            with self.upstream_names():
                upstream(change)

    # oauthenticator registers this one itself, for its deprecated options' names
    def _deprecated_oauth_trait(self, change):
        self._run_upstream("_deprecated_oauth_trait", change)

    @observe("allowed_groups", "admin_groups", "auth_state_groups_key")
    def _requires_manage_groups(self, change):
        self._run_upstream("_requires_manage_groups", change)

    # GenericOAuthenticator's only; on other classes the option does not exist
    @observe("claim_groups_key")
    def _claim_groups_key_changed(self, change):
        self._run_upstream("_claim_groups_key_changed", change)


class _Renaming(logging.LoggerAdapter):
    """A logger whose messages name one class instead of another."""

    def __init__(self, logger, ours: str, theirs: str):
        super().__init__(logger, {})
        self.ours, self.theirs = ours, theirs

    def process(self, msg, kwargs):
        return str(msg).replace(self.ours, self.theirs), kwargs
