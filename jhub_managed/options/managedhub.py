"""The suite's one set of options: :class:`ManagedHub`, one group of options per part of the
suite (each in its own module of :mod:`jhub_managed.options`), set as ``c.ManagedHub.<name>``
or as options of :func:`~jhub_managed.hub.configure`.

The :class:`ManagedHub` that ``configure()`` makes is the hub's: the managed spawners read
that same object, and the hub's services rebuild it from ``$JHUB_MANAGED_CONFIG`` through the
same validation (:meth:`ManagedHub.from_environment`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from traitlets import Any as AnyTrait
from traitlets import Dict
from traitlets.config import Config, Configurable

from .errors import ConfigureError, validated
from .general import GeneralOptions
from .health import HealthOptions
from .pages import PageOptions
from .services import ServiceOptions
from .settings import SettingsOptions
from .storage import StorageOptions
from .usage import UsageOptions

#: the environment variable in which the hub hands its services the suite's options
CONFIG_ENV = "JHUB_MANAGED_CONFIG"
#: what the services are told besides the options (see ManagedHub.service_config)
HUB_FACTS = ("staff_group", "metrics_namespace", "identity_provider_url", "kube_client")


class ManagedHub(
    GeneralOptions,
    SettingsOptions,
    ServiceOptions,
    StorageOptions,
    PageOptions,
    HealthOptions,
    UsageOptions,
    Configurable,
):
    """Options of :func:`~jhub_managed.hub.configure`, the one call that wires jhub-managed
    into a hub."""

    #: the hub's spawner report (:class:`jhub_managed.hubside.spawn_report.SpawnReport`), set
    #: by ``configure()`` in the hub's process when the health service runs; ``None`` else
    spawn_report = AnyTrait(None, allow_none=True)

    #: option sets adopted from spawner classes (with_spawner_options), one per distinct set
    _spawner_copies = Dict()

    @classmethod
    def class_own_traits(cls, **metadata: Any) -> dict[str, Any]:
        """The suite's own traits: this class's and its option groups', not those it takes
        from traitlets' ``Configurable``."""
        inherited = Configurable.class_traits(**metadata)
        return {n: t for n, t in cls.class_traits(**metadata).items() if n not in inherited}

    def __deepcopy__(self, memo: dict) -> ManagedHub:
        # one per hub process: traitlets copies each config value a spawner loads, and every
        # spawner must read this same object
        return self

    # -- the one set of options, in the services' environment ---------------------------------

    def option_values(self) -> dict[str, Any]:
        """Every option (each config trait) by name, as JSON takes it."""
        return {name: getattr(self, name) for name in sorted(self.class_traits(config=True))}

    def service_config(self) -> str:
        """``$JHUB_MANAGED_CONFIG``: every option and :data:`HUB_FACTS`, as a JSON object."""
        values = self.option_values()
        values.update({name: getattr(self, name) for name in HUB_FACTS})
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ManagedHub:
        """The hub's options, rebuilt in a service from ``$JHUB_MANAGED_CONFIG`` through the
        same validation as at hub start. Raises :class:`ConfigureError` naming a wrong one."""
        raw = environ.get(CONFIG_ENV, "")
        try:
            values = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            raise ConfigureError(f"${CONFIG_ENV} is not JSON: {e}") from None
        if not isinstance(values, dict):
            raise ConfigureError(f"${CONFIG_ENV} must be a JSON object of options")
        options = set(cls.class_traits(config=True))
        unknown = sorted(set(values) - options - set(HUB_FACTS))
        if unknown:
            raise ConfigureError(f"${CONFIG_ENV}: unknown option {unknown[0]!r}")
        config = Config({"ManagedHub": {k: v for k, v in values.items() if k in options}})
        facts = {k: v for k, v in values.items() if k in HUB_FACTS}
        return validated(f"${CONFIG_ENV}", lambda: cls(config=config, **facts))

    @classmethod
    def from_config(cls, config: Config) -> ManagedHub:
        """The options in ``c.ManagedHub`` of a hub configured without :func:`configure`
        (a spawner configured by hand); a wrong one is a :class:`ConfigureError`."""
        return validated("c.ManagedHub", lambda: cls(config=config))

    def with_options(self, where: str, **values: Any) -> ManagedHub:
        """A copy of these options with ``values`` over them, validated as at hub start."""
        config = Config({"ManagedHub": {**self.option_values(), **values}})
        facts = {name: getattr(self, name) for name in HUB_FACTS}
        copy = validated(where, lambda: type(self)(config=config, **facts))
        copy.spawn_report = self.spawn_report
        return copy

    def with_spawner_options(
        self, legacy: Mapping[str, tuple[str, Any]], log: logging.Logger
    ) -> ManagedHub:
        """These options with those set on a spawner class after :func:`configure` (or
        without it) over them, as :func:`legacy_spawner_options` finds them: deprecated,
        checked one by one, and warned about once per hub for each such set."""
        key = json.dumps(
            {option: [where, value] for option, (where, value) in legacy.items()},
            sort_keys=True,
            default=repr,
        )
        adopted = self._spawner_copies.get(key)
        if adopted is None:
            adopted = self
            for option, (where, value) in legacy.items():
                adopted = adopted.with_options(where, **{option: value})
            log.warning(
                "%s: deprecated; set %s with configure() or c.ManagedHub",
                ", ".join(where for where, _ in legacy.values()),
                ", ".join(legacy),
            )
            self._spawner_copies[key] = adopted
        return adopted

    def service_environment(self) -> dict[str, str]:
        return {
            CONFIG_ENV: self.service_config(),
            "PYTHONUNBUFFERED": "1",
            **kubernetes_environment(),
            **self.extra_service_environment,
        }


def kubernetes_environment() -> dict[str, str]:
    """What KubeSpawner's client reads from the environment, for the health service's
    ``spawner-backend`` check (JupyterHub passes services only a few variables)."""
    names = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")
    return {name: os.environ[name] for name in names if name in os.environ}
