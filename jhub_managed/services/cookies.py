"""Each service's cookie secret: the same at every start, so a restart logs no one out."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

#: a hex key (at least 32 bytes) from which every service's cookie secret is derived
COOKIE_SECRET_ENV = "JHUB_MANAGED_COOKIE_SECRET"  # noqa: S105 - a variable name


class CookieSecretError(ValueError):
    """The service's cookie secret can't be had; the message says why and what to do."""


def cookie_secret_for(
    service_name: str, data_dir: str, environ: Mapping[str, str] = os.environ
) -> bytes:
    """The service's cookie secret, the same at every start, so a restart logs no one out.

    From ``$JHUB_MANAGED_COOKIE_SECRET`` (hex; each service gets its own key derived from
    it), else from the file ``jhub-managed-<service>-cookie-secret`` in ``data_dir``, made
    (readable by its owner only) at the service's first start.
    """
    shared = environ.get(COOKIE_SECRET_ENV, "").strip()
    if shared:
        try:
            key = bytes.fromhex(shared)
        except ValueError:
            raise CookieSecretError(
                f"${COOKIE_SECRET_ENV} must be hexadecimal (e.g. from `openssl rand -hex 32`)"
            ) from None
        if len(key) < 32:
            raise CookieSecretError(
                f"${COOKIE_SECRET_ENV} is {len(key)} bytes long; at least 32 are needed"
            )
        return hmac.new(key, f"jhub-managed-service:{service_name}".encode(), "sha256").digest()
    path = os.path.join(data_dir, f"jhub-managed-{service_name}-cookie-secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as e:
        raise CookieSecretError(f"can't create the cookie secret file {path}: {e}") from None
    else:
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
    try:
        with open(path) as f:
            secret = bytes.fromhex(f.read().strip())
    except (OSError, ValueError) as e:
        raise CookieSecretError(
            f"can't read the cookie secret file {path} ({e}); remove it to have a new one made"
        ) from None
    if len(secret) < 32:
        raise CookieSecretError(
            f"the cookie secret file {path} holds {len(secret)} bytes, not 32 or more; "
            "remove it to have a new one made"
        )
    return secret
