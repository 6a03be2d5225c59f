"""Refreshing a logged-in user's auth (``auth_refresh_age``, before a spawn) in a real hub:
the provider stays the source of truth, blocked users must log in again (and are refused),
and a provider outage does not throw people out."""

from __future__ import annotations

import os

from jupyterhub.crypto import CryptKeeper
from jupyterhub.tests.utils import add_user
from traitlets.config import Config

from tests.fixtures.idp import sign_in


async def test_refresh_follows_the_provider_and_survives_its_outage(managed_hub, idp):
    keeper = CryptKeeper.instance()
    keeper.keys = [os.urandom(32)]  # auth state, where the provider's token is kept
    try:
        c = Config()
        c.Authenticator.allow_all = False
        c.Authenticator.enable_auth_state = True
        section = c.ManagedGitHubOAuthenticator
        for name, value in idp.settings("github").items():
            section[name] = value
        section.allowed_organizations = {"physics"}
        app = await managed_hub(
            config=c, authenticator="github", staff_provider_groups=["fleet-ops:operators"]
        )
        authenticator = app.authenticator

        sam = idp.add("sam", teams=["physics:students", "fleet-ops:operators"])
        model = await sign_in(authenticator, idp, sam)
        add_user(app.db, app, name="sam", admin=model["admin"])
        user = app.users["sam"]
        user.sync_groups(model["groups"])
        await user.save_auth_state(model["auth_state"])
        assert user.admin and "staff" in {g.name for g in user.groups}

        # sam leaves the staff team: the refresh takes the staff group and admin away
        sam.teams.remove("fleet-ops:operators")
        refreshed = await authenticator.refresh_user(user)
        assert refreshed["groups"] == ["physics:students"]
        assert refreshed["admin"] is False

        # the provider is down: sam keeps the session rather than being thrown out
        idp.down = "error"
        assert await authenticator.refresh_user(user) is True
        idp.down = False

        # blocked: a new login is needed, which refuses
        authenticator.blocked_users = {"sam"}
        assert await authenticator.refresh_user(user) is False

        # the health service's check user has no provider identity: nothing to refresh
        add_user(app.db, app, name="jhub-managed-health-check")
        assert await authenticator.refresh_user(app.users["jhub-managed-health-check"]) is True
    finally:
        CryptKeeper.clear_instance()
