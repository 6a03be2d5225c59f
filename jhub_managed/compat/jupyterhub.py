"""JupyterHub's private names, used here only.

Checked on JupyterHub 5.5.0 and 6.1.1 (``tests/test_upstream_pins.py`` names the one that
changed, and the installed version, when one does). Imports nothing of kubespawner or
oauthenticator.
"""

from __future__ import annotations

from typing import Any

from jupyterhub._data import DATA_FILES_PATH as _DATA_FILES_PATH

#: JupyterHub's ``share/jupyterhub`` folder (its ``templates/`` and ``static/``), found as
#: the hub finds it. ``jupyterhub._data.DATA_FILES_PATH``, a private module: the hub's own
#: ``JupyterHub.data_files_path`` defaults to it, and a service process has no hub
#: application to ask. The services render their pages with the hub's templates from here.
#: Checked on JupyterHub 5.5.0 and 6.1.1.
DATA_FILES_PATH: str = _DATA_FILES_PATH


def spawner_log_name(spawner: Any) -> str:
    """How JupyterHub's own log lines name a spawner's server (``user`` or ``user:server``).

    ``Spawner._log_name``, a private property: our log lines say the same name as the
    hub's, so that one server's lines can be found together. Checked on JupyterHub 5.5.0
    and 6.1.1.
    """
    return spawner._log_name


def resolve_scopes_before_prepare(handler: Any) -> None:
    """Make a hub page handler ready to render a page when it failed before ``prepare()``.

    Sets ``BaseHandler._jupyterhub_user`` (no user) and calls
    ``BaseHandler._resolve_roles_and_scopes()``, both private, as JupyterHub 6.1's own
    ``write_error`` does (5.5's does not): a page template reads the user and the scopes.
    Does nothing when ``prepare()`` ran. Checked on JupyterHub 5.5.0 and 6.1.1.
    """
    if not hasattr(handler, "_jupyterhub_user"):
        handler._jupyterhub_user = None
        handler._resolve_roles_and_scopes()


def token_from_cookie(hub_auth: Any, handler: Any) -> str | None:
    """The API token in a service's login cookie, without checking the request's XSRF token.

    ``HubAuth._get_token_cookie(handler)`` (``HubOAuth`` overrides it), private: a form post
    refused for its XSRF token is not authenticated by its cookie, yet the refusal page
    should still name the person who is logged in. Only shown, never used to act. Checked
    on JupyterHub 5.5.0 and 6.1.1.
    """
    return hub_auth._get_token_cookie(handler)


def request_user_model(handler: Any) -> dict | None:
    """The user model a service handler's ``get_current_user`` found, without asking again.

    ``HubAuthenticated._hub_auth_user_cache``, a private attribute: the access log line
    is written after the response, and must neither make a request to the hub nor
    authenticate a request that was not. ``None`` when the handler never looked. Checked
    on JupyterHub 5.5.0 and 6.1.1.
    """
    return getattr(handler, "_hub_auth_user_cache", None)
