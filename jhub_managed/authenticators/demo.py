"""Password login for the demo and tests. Refuses to run on anything but a loopback address."""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlparse

from jupyterhub.auth import Authenticator
from traitlets import Bool, Dict, Unicode, default

from .mixin import ManagedAuthenticatorMixin
from .pages import ManagedLoginHandler

DEMO_USERS = {
    "admin": {"admin": True, "groups": []},
    "alice": {"groups": ["researchers"]},
    "bob": {"groups": []},
}


class InsecureDemoError(RuntimeError):
    pass


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class DemoPasswordAuthenticator(Authenticator):
    """One shared password for a fixed set of demo users, with their groups."""

    demo_users = Dict(
        default_value=DEMO_USERS,
        config=True,
        help="""Users who may log in: ``{name: {"admin": bool, "groups": [...]}}``.""",
    )
    password = Unicode(
        config=True,
        help="""The password of every demo user. Required.""",
    )
    allow_insecure = Bool(
        False,
        config=True,
        help="""Allow this authenticator on a hub that listens on a non-loopback address.
        Anyone who can reach the hub and knows the shared password gets in.""",
    )

    @default("manage_groups")
    def _default_manage_groups(self):
        return True

    @default("admin_users")
    def _default_admin_users(self):
        return {name for name, info in self.demo_users.items() if info.get("admin")}

    @default("allowed_users")
    def _default_allowed_users(self):
        return set(self.demo_users)

    def hub_listen_hosts(self) -> list[str]:
        app = self.parent
        hosts = []
        if app is None:
            return hosts
        bind_url = getattr(app, "bind_url", "") or ""
        if bind_url:
            hosts.append(urlparse(bind_url).hostname or "")
        ip = getattr(app, "ip", "")
        if ip:
            hosts.append(ip)
        return hosts

    def check_allow_config(self):
        super().check_allow_config()
        if not self.password:
            raise InsecureDemoError("ManagedDemoAuthenticator.password is not set")
        if self.allow_insecure:
            return
        for host in self.hub_listen_hosts():
            if not is_loopback(host):
                raise InsecureDemoError(
                    f"the demo authenticator only runs on a loopback address, but the hub "
                    f"listens on {host!r}; set ManagedDemoAuthenticator.allow_insecure = True "
                    "if you really mean it"
                )

    async def authenticate(self, handler, data):
        username = self.normalize_username((data or {}).get("username") or "")
        password = (data or {}).get("password") or ""
        info = self.demo_users.get(username)
        if info is None or not self.password:
            return None
        if not hmac.compare_digest(password.encode(), self.password.encode()):
            return None
        return {
            "name": username,
            "admin": bool(info.get("admin")),
            "groups": list(info.get("groups") or []),
        }


class ManagedDemoAuthenticator(ManagedAuthenticatorMixin, DemoPasswordAuthenticator):
    """One shared password for a fixed set of demo users, with their groups.

    Only for the demo and tests: it refuses to start unless the hub listens on a loopback
    address, or ``allow_insecure`` is set. The demo users' groups are its "provider groups";
    staff, blocked users, the health check user and refusal pages work as on the other
    managed authenticators.
    """

    def get_handlers(self, app):
        return [("/login", ManagedLoginHandler)]
