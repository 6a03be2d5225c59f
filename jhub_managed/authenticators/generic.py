"""Any OpenID Connect provider: group claims become hub groups; unverified e-mails refused."""

from __future__ import annotations

from oauthenticator.generic import GenericOAuthenticator
from traitlets import Bool

from .mixin import ManagedAuthenticatorMixin
from .pages import LoginRefused
from .rules import shorten


class ManagedGenericOAuthenticator(ManagedAuthenticatorMixin, GenericOAuthenticator):
    """Login with any OpenID Connect (or plain OAuth 2) provider: Keycloak, Entra ID, Okta...

    Takes every option of oauthenticator's ``GenericOAuthenticator`` (``authorize_url``,
    ``token_url``, ``userdata_url``, ``username_claim``, ``auth_state_groups_key``, ...),
    with its defaults (``username_claim = "username"``, ``scope = ["openid"]``): for most
    OIDC providers set ``username_claim = "preferred_username"`` and add ``profile`` and
    ``email`` to ``scope``. With ``manage_groups``, the groups claim (``groups`` by default)
    becomes hub groups at every login.
    """

    allow_rule_description = "the groups that may use this hub"

    require_verified_email = Bool(
        True,
        config=True,
        help="""When the username is the ``email`` claim, refuse people whose provider does
        not say ``"email_verified": true``: anyone can type any address into an account at
        many providers, and would otherwise get that person's hub account.""",
    )

    async def update_auth_model(self, auth_model):
        auth_model = await super().update_auth_model(auth_model)
        user_info = auth_model["auth_state"].get(self.user_auth_state_key) or {}
        if (
            self.require_verified_email
            and self.username_claim == "email"
            and user_info.get("email_verified") is not True
        ):
            self.log.warning("Refused login of %r: e-mail not verified", auth_model["name"])
            raise LoginRefused(
                "email-unverified",
                f"Your e-mail address {shorten(str(user_info.get('email') or ''))} is not "
                f"verified by {self.login_service}. Verify it there, then sign in again.",
            )
        return auth_model
