"""Inside a zero-to-jupyterhub hub: ``configure()`` with the chart's ``custom.jhubManaged``.

The hub image (``helm/images/hub/``) puts ``jupyterhub_config.d/50-jhub-managed.py`` where
z2jh's ``jupyterhub_config.py`` loads it, after the chart's own configuration; that file
calls :func:`configure_from_values`. The values are read exactly as z2jh's hub reads them:
with z2jh's own ``z2jh.get_config`` (its ``jupyterhub_config.py`` puts the module on the
path), which reads the Secret ``hub``'s ``values.yaml`` mounted in
``/usr/local/etc/jupyterhub/secret/`` and merges ``existing-secret/values.yaml`` over it when
``hub.existingSecret`` is set. Where ``z2jh`` cannot be imported (a config file loaded
outside z2jh's), the same files are read in the same order and merged the same way. The
ConfigMap ``hub`` holds only the chart's files and resource names, never the values.

What a hub pod needs beyond the values is filled in here, unless the values say otherwise:
the services listen on every address of the pod (the proxy runs in another pod) and the
proxy reaches them through the hub's Service. The store's database password comes from the
environment (``JHUB_MANAGED_DB_PASSWORD``, set from a Kubernetes Secret with
``hub.extraEnv``), never from the values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml

from ..hub import ConfigureError, ManagedHub, configure

#: where z2jh's hub pod mounts its configuration (z2jh.py's own paths)
Z2JH_DIR = "/usr/local/etc/jupyterhub"
#: the chart's values as z2jh 4.4 mounts them, in the order z2jh merges them
VALUES_SOURCES = ("secret/values.yaml", "existing-secret/values.yaml")
#: a values file to read instead, for a hub configured from values outside z2jh
VALUES_FILE_ENV = "JHUB_MANAGED_VALUES_FILE"
DB_PASSWORD_ENV = "JHUB_MANAGED_DB_PASSWORD"  # noqa: S105 - a variable name
#: the hub's Service in z2jh when fullnameOverride is "" (the chart's default)
HUB_SERVICE = "hub"


def _load_yaml(path: str) -> dict[str, Any]:
    try:
        with open(path) as f:
            values = yaml.safe_load(f) or {}
    except OSError as e:
        raise ConfigureError(f"can't read the chart's values at {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigureError(f"the chart's values at {path} are not YAML: {e}") from None
    if not isinstance(values, dict):
        raise ConfigureError(f"the chart's values at {path} are not a mapping")
    return values


def merge_values(a: Mapping, b: Mapping) -> dict:
    """``b`` over ``a``, mappings merged key by key, anything else replaced: z2jh's merge."""
    merged = dict(a)
    for key, value in b.items():
        if isinstance(merged.get(key), Mapping) and isinstance(value, Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def z2jh_values(root: str = Z2JH_DIR) -> dict[str, Any]:
    """The chart's values from the files z2jh mounts under ``root``, merged as z2jh does."""
    values: dict[str, Any] = {}
    found = []
    for source in VALUES_SOURCES:
        path = os.path.join(root, source)
        if os.path.exists(path):
            found.append(path)
            values = merge_values(values, _load_yaml(path))
    if not found:
        paths = " or ".join(os.path.join(root, s) for s in VALUES_SOURCES)
        raise ConfigureError(
            f"can't read the chart's values: neither {paths} exists (z2jh's hub mounts its "
            "Secret `hub` there)"
        )
    return values


def read_values(path: str | None = None) -> dict[str, Any]:
    """The chart's values: ``path`` (or ``$JHUB_MANAGED_VALUES_FILE``) when given, else what
    z2jh's own ``get_config`` reads, else the same files z2jh reads."""
    path = path or os.environ.get(VALUES_FILE_ENV)
    if path:
        return _load_yaml(path)
    try:
        from z2jh import get_config  # type: ignore[import-not-found]  # in z2jh's hub only
    except ImportError:
        return z2jh_values()
    custom = get_config("custom", {})
    if not custom and not any(os.path.exists(os.path.join(Z2JH_DIR, s)) for s in VALUES_SOURCES):
        return z2jh_values()  # says which files are missing
    return {"custom": custom}


def hub_service_name() -> str:
    """The hub's Service name, from z2jh's own helper where the hub has it."""
    try:
        from z2jh import get_name  # type: ignore[import-not-found]  # in z2jh's hub only
    except ImportError:
        return HUB_SERVICE
    try:
        return get_name("hub")
    except Exception:
        return HUB_SERVICE


def with_db_password(db_url: str, password: str) -> str:
    """``db_url`` with ``password`` put in, unless the URL has one already."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.password or url.drivername.startswith("sqlite"):
        return db_url
    return url.set(password=password).render_as_string(hide_password=False)


def options_from_values(values: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``configure()`` that ``values`` give a hub in a pod."""
    custom = values.get("custom") or {}
    if not isinstance(custom, dict):
        raise ConfigureError("custom: must be a mapping")
    options = custom.get("jhubManaged") or {}
    if not isinstance(options, dict):
        raise ConfigureError("custom.jhubManaged: must be a mapping of configure() options")
    options = dict(options)
    known = set(ManagedHub.class_own_traits(config=True))
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigureError(
            f"custom.jhubManaged.{unknown[0]} is not an option of configure(); options are: "
            + ", ".join(sorted(known))
        )
    options.setdefault("service_ip", "0.0.0.0")  # noqa: S104 - the proxy is another pod
    if not options.get("service_host"):
        options["service_host"] = hub_service_name()
    password = os.environ.get(DB_PASSWORD_ENV)
    if password and options.get("db_url"):
        options["db_url"] = with_db_password(options["db_url"], password)
    return options


def configure_from_values(c, values_file: str | None = None) -> ManagedHub:
    """Call ``configure(c, ...)`` with the values under ``custom.jhubManaged``."""
    options = options_from_values(read_values(values_file))
    try:
        return configure(c, **options)
    except ConfigureError as e:
        raise ConfigureError(f"custom.jhubManaged: {e}") from None
