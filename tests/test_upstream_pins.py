"""Upstream's private names, pinned: each one the suite uses still exists as it is used.

Every private name of JupyterHub, kubespawner and oauthenticator the package relies on is
used through ``jhub_managed/compat/`` only (one module per upstream package). Each has a
row in :data:`PINS`: where upstream defines it, the signature the compat module calls it
with (parameter names and kinds), and the upstream versions it was checked on. The test
reads the installed versions, and a failure names the private name that changed and the
installed version it changed in. CI runs it on JupyterHub 6.1 (kubespawner 7.1) and on
JupyterHub 5.5 (kubespawner 7.0, ``make test-jh55``).
"""

from __future__ import annotations

import ast
import base64
import copy
import importlib
import inspect
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import pytest
from traitlets import ObserveHandler

import jhub_managed

#: the upstream versions every pin below was checked on, by distribution
CHECKED_ON = {
    "jupyterhub": ("5.5.0", "6.1.1"),
    "jupyterhub-kubespawner": ("7.0.0", "7.1.0"),
    "oauthenticator": ("17.4.0",),
}

POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD


@dataclass(frozen=True)
class Pin:
    """One private upstream name and how ``jhub_managed.compat`` uses it."""

    #: the private name, as written in the compat module
    name: str
    distribution: str
    module: str
    #: dotted path inside ``module`` (``Class.attribute``)
    attribute: str
    #: where the suite uses it (the compat function or class)
    compat: str
    #: "function", "property", "observer", "value", or "instance attribute"
    kind: str = "function"
    #: the callable's parameters, as the compat module calls it: ``(name, kind)``
    parameters: tuple[tuple[str, inspect._ParameterKind], ...] = ()
    #: an observer's trait names (the override observes the same ones)
    observes: tuple[str, ...] = ()
    #: upstream functions whose source must still mention the name (an instance
    #: attribute they set, or a method they register)
    mentioned_in: tuple[str, ...] = field(default=())


def _params(*names: str) -> tuple[tuple[str, inspect._ParameterKind], ...]:
    return tuple((name, POSITIONAL) for name in names)


PINS = [
    # -- JupyterHub ------------------------------------------------------------------------
    Pin(
        "_data",
        "jupyterhub",
        "jupyterhub._data",
        "DATA_FILES_PATH",
        "jupyterhub.DATA_FILES_PATH",
        kind="value",
    ),
    Pin(
        "_log_name",
        "jupyterhub",
        "jupyterhub.spawner",
        "Spawner._log_name",
        "jupyterhub.spawner_log_name",
        kind="property",
    ),
    Pin(
        "_resolve_roles_and_scopes",
        "jupyterhub",
        "jupyterhub.handlers.base",
        "BaseHandler._resolve_roles_and_scopes",
        "jupyterhub.resolve_scopes_before_prepare",
        parameters=_params("self"),
    ),
    Pin(
        "_jupyterhub_user",
        "jupyterhub",
        "jupyterhub.handlers.base",
        "BaseHandler",
        "jupyterhub.resolve_scopes_before_prepare",
        kind="instance attribute",
        mentioned_in=("BaseHandler.prepare", "BaseHandler.get_current_user"),
    ),
    Pin(
        "_get_token_cookie",
        "jupyterhub",
        "jupyterhub.services.auth",
        "HubOAuth._get_token_cookie",
        "jupyterhub.token_from_cookie",
        parameters=_params("self", "handler"),
    ),
    Pin(
        "_hub_auth_user_cache",
        "jupyterhub",
        "jupyterhub.services.auth",
        "HubAuthenticated",
        "jupyterhub.request_user_model",
        kind="instance attribute",
        mentioned_in=("HubAuthenticated.get_current_user",),
    ),
    # -- kubespawner -----------------------------------------------------------------------
    Pin(
        "_get_initialized_profile_list",
        "jupyterhub-kubespawner",
        "kubespawner.spawner",
        "KubeSpawner._get_initialized_profile_list",
        "kubespawner.initialized_profile_list",
        parameters=_params("self", "profile_list"),
    ),
    Pin(
        "_apply_overrides",
        "jupyterhub-kubespawner",
        "kubespawner.spawner",
        "KubeSpawner._apply_overrides",
        "kubespawner.apply_overrides",
        parameters=_params("self", "spawner_override"),
    ),
    Pin(
        "_sorted_dict_values",
        "jupyterhub-kubespawner",
        "kubespawner.spawner",
        "KubeSpawner._sorted_dict_values",
        "kubespawner.sorted_dict_values",
        parameters=_params("self", "src"),
    ),
    # -- oauthenticator --------------------------------------------------------------------
    Pin(
        "_deserialize_state",
        "oauthenticator",
        "oauthenticator.oauth2",
        "_deserialize_state",
        "oauthenticator.deserialize_state",
        parameters=_params("b64_state"),
    ),
    Pin(
        "_deprecated_oauth_trait",
        "oauthenticator",
        "oauthenticator.oauth2",
        "OAuthenticator._deprecated_oauth_trait",
        "oauthenticator.UpstreamOptionChecks",
        parameters=_params("self", "change"),
        # registered by upstream's __init__ under this name, which the override takes
        mentioned_in=("OAuthenticator.__init__",),
    ),
    Pin(
        "_requires_manage_groups",
        "oauthenticator",
        "oauthenticator.oauth2",
        "OAuthenticator._requires_manage_groups",
        "oauthenticator.UpstreamOptionChecks",
        kind="observer",
        parameters=_params("self", "change"),
        observes=("allowed_groups", "admin_groups", "auth_state_groups_key"),
    ),
    Pin(
        "_claim_groups_key_changed",
        "oauthenticator",
        "oauthenticator.generic",
        "GenericOAuthenticator._claim_groups_key_changed",
        "oauthenticator.UpstreamOptionChecks",
        kind="observer",
        parameters=_params("self", "change"),
        observes=("claim_groups_key",),
    ),
]


def _installed(pin: Pin) -> str:
    return f"{pin.distribution} {version(pin.distribution)}"


def _changed(pin: Pin, what: str) -> str:
    checked = ", ".join(CHECKED_ON[pin.distribution])
    return (
        f"{pin.module}.{pin.attribute} ({pin.name}, used by jhub_managed.compat."
        f"{pin.compat}) {what} in {_installed(pin)}; checked on {pin.distribution} {checked}. "
        f"Adapt jhub_managed/compat/ and this pin."
    )


def _lookup(pin: Pin):
    """The upstream object, or a test failure naming what is gone."""
    try:
        module = importlib.import_module(pin.module)
    except ImportError:
        pytest.fail(_changed(pin, "cannot be imported (module gone)"))
    value = module
    for part in pin.attribute.split("."):
        try:
            value = (
                inspect.getattr_static(value, part)
                if inspect.isclass(value)
                else getattr(value, part)
            )
        except AttributeError:
            pytest.fail(_changed(pin, f"is gone ({part!r} not found)"))
    return module, value


def _signature(pin: Pin, value) -> tuple:
    func = value
    if isinstance(value, ObserveHandler):
        func = value.func
    elif isinstance(value, property):
        func = value.fget
    elif isinstance(value, (staticmethod, classmethod)):
        func = value.__func__
    return tuple((p.name, p.kind) for p in inspect.signature(func).parameters.values())


@pytest.mark.parametrize("pin", PINS, ids=[f"{p.distribution}:{p.attribute}" for p in PINS])
def test_private_upstream_name_still_exists_as_used(pin):
    module, value = _lookup(pin)
    if pin.kind == "value":
        assert isinstance(value, str), _changed(pin, f"is no longer a path ({value!r})")
        page = Path(value, "templates", "page.html")
        assert page.is_file(), _changed(pin, f"no longer holds templates/page.html ({value})")
    elif pin.kind == "property":
        assert isinstance(value, property), _changed(pin, "is no longer a property")
    elif pin.kind == "observer":
        assert isinstance(value, ObserveHandler), _changed(pin, "is no longer an observer")
        assert tuple(value.trait_names) == pin.observes, _changed(
            pin, f"observes {value.trait_names}, not {pin.observes}"
        )
    elif pin.kind == "function":
        assert callable(value), _changed(pin, "is no longer a function")
    if pin.parameters:
        found = _signature(pin, value)
        assert found == pin.parameters, _changed(
            pin,
            "has the parameters "
            + ", ".join(f"{n} ({k.name})" for n, k in found)
            + " instead of "
            + ", ".join(f"{n} ({k.name})" for n, k in pin.parameters),
        )
    for where in pin.mentioned_in:
        owner, _, method = where.partition(".")
        source = inspect.getsource(getattr(getattr(module, owner), method))
        assert f"self.{pin.name}" in source, _changed(pin, f"is no longer used by {where}")


# -- what the compat functions rely on beyond the signature -------------------------------


def test_kubespawner_fills_in_a_profile_list_without_a_spawner():
    from jhub_managed.compat.kubespawner import initialized_profile_list

    given = [
        {"display_name": "Small one"},
        {
            "display_name": "GPU",
            "default": True,
            "profile_options": {"image": {"display_name": "Image", "choices": {"a": {}}}},
        },
    ]
    profiles = initialized_profile_list(copy.deepcopy(given))
    assert [p["slug"] for p in profiles] == ["small-one", "gpu"]
    assert [p.get("default", False) for p in profiles] == [False, True]
    assert profiles[1]["profile_options"]["image"]["choices"]["a"]["default"] is True


def test_oauthenticator_state_reads_as_written_and_unreadable_as_empty():
    from jhub_managed.compat.oauthenticator import deserialize_state

    state = {"state_id": "abc", "next_url": "/hub/home"}
    written = base64.urlsafe_b64encode(json.dumps(state).encode()).decode("ascii")
    assert deserialize_state(written) == state
    assert deserialize_state(written.encode("ascii")) == state
    assert deserialize_state("not base64 at all!") == {}


# -- the door is the only way in ----------------------------------------------------------

PACKAGE = Path(jhub_managed.__file__).parent


def private_upstream_names_outside_compat(package: Path = PACKAGE) -> list[str]:
    """Where a module of ``package`` outside ``compat/`` names a pinned private name."""
    pinned = {pin.name for pin in PINS}
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.relative_to(package).parts[0] == "compat":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, ast.Name):
                names = [node.id]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [node.name]
            elif isinstance(node, ast.ImportFrom):
                names = (node.module or "").split(".") + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [part for a in node.names for part in a.name.split(".")]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value]
            found += [
                f"{path.relative_to(package)}:{node.lineno} {name}"
                for name in names
                if name in pinned
            ]
    return found


def test_upstream_private_names_are_used_through_compat_only():
    assert private_upstream_names_outside_compat() == []


def test_compat_for_jupyterhub_and_the_spawn_form_need_neither_kubespawner_nor_oauthenticator():
    code = (
        "import sys\n"
        "sys.modules['kubespawner'] = None\n"
        "sys.modules['oauthenticator'] = None\n"
        "import jhub_managed.compat, jhub_managed.compat.jupyterhub, jhub_managed.spawn_form\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
