"""Hub admins hold the settings scope with no setup, however they became admins, and lose it
when they stop being admins; tokens made with fewer scopes stay limited.

In-process hubs (MockHub): the hub's own database, roles and REST API.
"""

from __future__ import annotations

import json

from jupyterhub import orm, scopes
from jupyterhub.tests.utils import add_user, api_request

from jhub_managed.hub import SETTINGS_SCOPE, USAGE_SCOPE
from jhub_managed.scopes import ADMINS_ROLE


def holds_settings_scope(app, name: str) -> bool:
    user = orm.User.find(app.db, name)
    app.db.refresh(user)
    return SETTINGS_SCOPE in scopes.get_scopes_for(user)


def role_members(app) -> set[str]:
    role = orm.Role.find(app.db, ADMINS_ROLE)
    app.db.refresh(role)
    return {u.name for u in role.users}


async def test_admins_from_config_and_from_the_database_hold_the_settings_scope(managed_hub):
    from traitlets.config import Config

    c = Config()
    c.Authenticator.admin_users = {"dora"}
    app = await managed_hub(config=c)
    add_user(app.db, app, name="erin")
    assert holds_settings_scope(app, "admin")  # made admin in the database by the fixture
    assert holds_settings_scope(app, "dora")  # admin_users
    assert not holds_settings_scope(app, "erin")
    assert role_members(app) == {"admin", "dora"}
    # the usage reports and metrics reach hub admins the same way, and no one else
    held = {name: scopes.get_scopes_for(orm.User.find(app.db, name)) for name in ("dora", "erin")}
    assert USAGE_SCOPE in held["dora"] and USAGE_SCOPE not in held["erin"]


async def test_admin_through_the_rest_api_gains_and_loses_the_scope(managed_hub):
    app = await managed_hub()
    add_user(app.db, app, name="frank")
    assert not holds_settings_scope(app, "frank")
    r = await api_request(app, "users", "frank", method="patch", data=json.dumps({"admin": True}))
    assert r.status_code == 200, r.text
    assert holds_settings_scope(app, "frank")
    r = await api_request(app, "users", "frank", method="patch", data=json.dumps({"admin": False}))
    assert r.status_code == 200, r.text
    assert not holds_settings_scope(app, "frank")
    assert "frank" not in role_members(app)


async def test_a_new_admin_user_made_through_the_api_holds_the_scope(managed_hub):
    app = await managed_hub()
    r = await api_request(app, "users", "gina", method="post", data=json.dumps({"admin": True}))
    assert r.status_code == 201, r.text
    assert holds_settings_scope(app, "gina")


async def test_the_hub_emptying_the_role_at_start_is_undone_in_the_same_commit(managed_hub):
    """At each start the hub sets a configured role's members from ``load_roles`` (none for
    this role); the admins are members again when that is written."""
    app = await managed_hub()
    role = orm.Role.find(app.db, ADMINS_ROLE)
    role.users = []
    app.db.commit()
    assert role_members(app) == {"admin"}
    assert holds_settings_scope(app, "admin")


async def test_a_token_made_with_fewer_scopes_lacks_the_settings_scope(managed_hub):
    app = await managed_hub()
    admin = orm.User.find(app.db, "admin")
    full = admin.new_api_token(note="full")
    limited = admin.new_api_token(note="limited", scopes=["access:services!service=config"])
    app.db.commit()
    assert SETTINGS_SCOPE in scopes.get_scopes_for(orm.APIToken.find(app.db, full))
    assert SETTINGS_SCOPE not in scopes.get_scopes_for(orm.APIToken.find(app.db, limited))
