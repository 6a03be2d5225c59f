"""Inside a zero-to-jupyterhub hub: ``configure()`` with the chart's ``custom.jhubManaged``.

The hub image (``helm/images/hub/``) puts ``jupyterhub_config.d/50-jhub-managed.py`` where
z2jh's ``jupyterhub_config.py`` loads it, after the chart's own configuration; that file
calls :func:`configure_from_values`. The values are read the way z2jh's hub reads them: the
YAML file the chart mounts at :data:`VALUES_FILE` (its keys are the ``jupyterhub:`` values
of our chart), ``custom.jhubManaged`` in it.

What a hub pod needs beyond the values is filled in here, unless the values say otherwise:
the services listen on every address of the pod (the proxy runs in another pod) and the
proxy reaches them through the hub's Service. The store's database password comes from the
environment (``JHUB_MANAGED_DB_PASSWORD``, set from a Kubernetes Secret with
``hub.extraEnv``), never from the values.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from ..hub import ConfigureError, ManagedHub, configure

#: where z2jh's hub finds the chart's values (z2jh.py reads the same file)
VALUES_FILE = "/usr/local/etc/jupyterhub/config/values.yaml"
VALUES_FILE_ENV = "JHUB_MANAGED_VALUES_FILE"
DB_PASSWORD_ENV = "JHUB_MANAGED_DB_PASSWORD"  # noqa: S105 - a variable name
#: the hub's Service in z2jh when fullnameOverride is "" (the chart's default)
HUB_SERVICE = "hub"


def read_values(path: str | None = None) -> dict[str, Any]:
    path = path or os.environ.get(VALUES_FILE_ENV) or VALUES_FILE
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
