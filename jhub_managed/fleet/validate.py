"""``fleet validate``: every check of a hub's merged values, each error naming hub, file, key.

1. The chart's ``values.schema.json`` (our keys, strict).
2. Each dependency chart's own schema (zero-to-jupyterhub's, shipped in its chart in the
   chart's ``charts/`` folder) over its default values with ours merged on top, as Helm
   checks a subchart (see :mod:`.dependency`).
3. Each ``configure()`` option through its trait's own validation.
4. The settings layers (``operator_defaults``, ``hub_values`` and both resolved) against the
   settings schema and the operator's ceilings.
5. What neither schema can say: z2jh's culler or services clashing with ours, profiles in
   z2jh's ``singleuser.profileList``, service ports missing from the hub Service or its
   network policy, and secrets written into values files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jsonschema

from ..hub import CULLER_SERVICE, SERVICE_NAMES, ManagedHub
from ..settings import Ceilings, document_errors, resolve_layers
from ..settings.layers import operator_layer
from ..settings.pointer import parts
from .dependency import SubChart
from .fleetfile import Fleet, FleetError, Hub, unknown_keys
from .schema import VALUES_PATH, chart_schema
from .values import MergedValues, key_path

_SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|PRIVATE_KEY)", re.IGNORECASE)


def _ours(merged: MergedValues) -> dict[str, Any]:
    options = merged.get(*VALUES_PATH, default={})
    return options if isinstance(options, dict) else {}


def hub_values(fleet: Fleet, hub: Hub) -> MergedValues:
    """The hub's merged values, with ``hub_name`` defaulting to the hub's name in the fleet."""
    merged = fleet.merged(hub)
    options = merged.get(*VALUES_PATH)
    if isinstance(options, dict) and "hub_name" not in options:
        options["hub_name"] = hub.name
        merged.origins[(*VALUES_PATH, "hub_name")] = fleet.file
    return merged


class Checker:
    """Collects every error of one hub's values."""

    def __init__(
        self,
        hub: Hub,
        merged: MergedValues,
        chart_schema: dict[str, Any],
        subcharts: list[SubChart],
    ):
        self.hub = hub
        self.merged = merged
        self.chart_schema = chart_schema
        self.subcharts = subcharts
        self.errors: list[FleetError] = []

    def latest(self, *paths: tuple[Any, ...]) -> tuple[Any, ...]:
        """Of two keys that disagree, the one set by the later file (the likelier change)."""
        files = self.merged.files

        def rank(path):
            origin = self.merged.origin(path)
            return files.index(origin) if origin in files else -1

        return max(paths, key=rank)

    def error(self, path: tuple[Any, ...], message: str) -> None:
        file = self.merged.origin(path)
        self.errors.append(
            FleetError(message, hub=self.hub.name, file=file or "", key=key_path(path))
        )

    def run(self) -> list[FleetError]:
        self.check_schema(self.chart_schema, self.merged.values, lambda path: path, "")
        for subchart in self.subcharts:
            if subchart.schema is not None:
                self.check_schema(
                    subchart.schema,
                    subchart.values(self.merged.values),
                    subchart.parent_path,
                    f"{subchart.dependency.known_as}: ",
                )
        options = _ours(self.merged)
        if not any(e.key.startswith(key_path(VALUES_PATH)) for e in self.errors):
            self.check_options(options)
            self.check_settings(options)
        self.check_chart_rules(options)
        return self.errors

    # -- schemas ---------------------------------------------------------------------------

    def check_schema(self, schema, instance, where: Callable[[tuple], tuple], label: str) -> None:
        """``where`` makes a key path of ``instance`` one of the merged values."""
        validator = jsonschema.Draft7Validator(schema)
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            path = where(tuple(error.absolute_path))
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                allowed = set(error.schema.get("properties", {}))
                for key in unknown_keys(error):
                    self.error((*path, key), f"{label}unknown key {key!r}{_known(allowed)}")
                continue
            self.error(path, label + _message(error))

    # -- configure() options, through the traits' own validation ----------------------------

    def check_options(self, options: dict[str, Any]) -> None:
        for name, value in options.items():
            try:
                ManagedHub(**{name: value})
            except Exception as e:  # ConfigureError or traitlets' TraitError
                message = str(e).strip().splitlines()[0].removeprefix(f"{name}: ")
                path: tuple[Any, ...] = (*VALUES_PATH, name)
                if isinstance(value, dict):
                    # "ceiling 'cpu_limit': ...": the key inside, so the right file is named
                    named = [k for k in value if f"'{k}'" in message]
                    if len(named) == 1:
                        path = (*path, named[0])
                self.error(path, message)

    # -- settings layers ---------------------------------------------------------------------

    def check_settings(self, options: dict[str, Any]) -> None:
        try:
            ceilings = Ceilings.from_config(options.get("ceilings"))
        except (ValueError, TypeError):
            return  # reported by check_options
        # profiles filled in as KubeSpawner fills them in (a missing slug derived), as the hub does
        layers = [
            (name, options.get(name) and operator_layer(options[name]))
            for name in ("operator_defaults", "hub_values")
        ]
        for name, layer in layers:
            if not layer:
                continue
            for problem in document_errors(layer, ceilings):
                path = (*VALUES_PATH, name, *_pointer_parts(problem.path))
                self.error(path, problem.message + self.ceiling_origin(path, problem.message))
        if all(layer for _, layer in layers):
            resolved = resolve_layers([layer for _, layer in layers])
            # what neither layer shows alone (a hub's profile completed by the defaults)
            already = {e.key for e in self.errors}
            for problem in document_errors(resolved, ceilings):
                path = (*VALUES_PATH, "hub_values", *_pointer_parts(problem.path))
                if key_path(path) in already:
                    continue
                self.error(path, f"with operator_defaults under it: {problem.message}")

    def ceiling_origin(self, path: tuple[Any, ...], message: str) -> str:
        """Where the ceiling came from, when another file than the offending value's."""
        if "ceiling" not in message or not path:
            return ""
        ceiling = (*VALUES_PATH, "ceilings", path[-1])
        origin = self.merged.origin(ceiling)
        if ceiling in self.merged.origins and origin != self.merged.origin(path):
            return f" (ceilings.{path[-1]} is set in {origin})"
        return ""

    # -- what the schemas can't say ------------------------------------------------------------

    def check_chart_rules(self, options: dict[str, Any]) -> None:
        jh = self.merged.get("jupyterhub", default={}) or {}
        if not isinstance(jh, dict):
            return
        idle_timeout = options.get("idle_timeout", 3600)
        cull = jh.get("cull") if isinstance(jh.get("cull"), dict) else {}
        if idle_timeout and cull.get("enabled", True) is not False:
            self.error(
                ("jupyterhub", "cull", "enabled"),
                "zero-to-jupyterhub's idle culler must be off (false) while jhub-managed's "
                "runs (idle_timeout is not 0): both would start a service named "
                f"{CULLER_SERVICE!r}",
            )
        hub = jh.get("hub") if isinstance(jh.get("hub"), dict) else {}
        services = hub.get("services") if isinstance(hub.get("services"), dict) else {}
        for name in services:
            if name in (*SERVICE_NAMES, CULLER_SERVICE):
                self.error(
                    ("jupyterhub", "hub", "services", name),
                    f"{name!r} is a jhub-managed service: configure() defines it (with its "
                    "URL from service_host and service_ports); remove it here",
                )
        singleuser = jh.get("singleuser") if isinstance(jh.get("singleuser"), dict) else {}
        hub_profiles = (options.get("hub_values") or {}).get("profiles")
        if singleuser.get("profileList") and hub_profiles:
            # without hub_values profiles, z2jh's profileList is the hub_values layer
            self.error(
                ("jupyterhub", "singleuser", "profileList"),
                "would be ignored: profiles come from the hub's settings, and "
                "custom.jhubManaged.hub_values has profiles; keep one of the two",
            )
        self.check_ports(options, hub)
        self.check_secrets(options, hub)

    def check_ports(self, options: dict[str, Any], hub: dict[str, Any]) -> None:
        if options.get("spawner", "kube") != "kube":
            return
        running = options.get("services", list(SERVICE_NAMES))
        ports = options.get("service_ports") or {}
        service = hub.get("service") if isinstance(hub.get("service"), dict) else {}
        extra = service.get("extraPorts") or []
        on_service = {
            p.get("port")
            for p in extra
            if isinstance(p, dict) and p.get("targetPort", p.get("port")) == p.get("port")
        }
        policy = hub.get("networkPolicy") if isinstance(hub.get("networkPolicy"), dict) else {}
        allowed = {
            port.get("port")
            for rule in policy.get("ingress") or []
            if isinstance(rule, dict)
            for port in rule.get("ports") or []
            if isinstance(port, dict)
        }
        for name in running:
            if name not in ports:
                self.error(
                    (*VALUES_PATH, "service_ports", name),
                    f"the {name} service needs a fixed port in a hub pod (the proxy and "
                    "Prometheus reach it through the hub's Service)",
                )
                continue
            port = ports[name]
            port_key = (*VALUES_PATH, "service_ports", name)
            if port not in on_service:
                self.error(
                    self.latest(port_key, ("jupyterhub", "hub", "service", "extraPorts")),
                    f"port {port} of the {name} service is not on the hub Service: "
                    "jupyterhub.hub.service.extraPorts needs {port: %d, targetPort: %d}"
                    % (port, port),
                )
            if policy.get("enabled", True) and port not in allowed:
                self.error(
                    self.latest(port_key, ("jupyterhub", "hub", "networkPolicy", "ingress")),
                    f"the hub's network policy does not let the proxy in on port {port} of "
                    f"the {name} service (jupyterhub.hub.networkPolicy.ingress)",
                )

    def check_secrets(self, options: dict[str, Any], hub: dict[str, Any]) -> None:
        db_url = options.get("db_url")
        if isinstance(db_url, str) and re.match(r"^[^:/]+://[^/@:]*:[^/@]+@", db_url):
            self.error(
                (*VALUES_PATH, "db_url"),
                "a password in db_url: leave it out and give it in JHUB_MANAGED_DB_PASSWORD "
                "from a Kubernetes Secret (jupyterhub.hub.extraEnv with valueFrom.secretKeyRef)",
            )
        config = hub.get("config") if isinstance(hub.get("config"), dict) else {}
        for section, traits in config.items():
            if not isinstance(traits, dict):
                continue
            for trait in ("client_secret", "api_token"):
                if traits.get(trait):
                    self.error(
                        ("jupyterhub", "hub", "config", section, trait),
                        "a secret in a values file: set OAUTH_CLIENT_SECRET in "
                        "jupyterhub.hub.extraEnv from a Kubernetes Secret "
                        "(valueFrom.secretKeyRef) instead",
                    )
        env = hub.get("extraEnv")
        entries: list[tuple[tuple, str, Any]] = []
        if isinstance(env, dict):
            entries = [(("jupyterhub", "hub", "extraEnv", k), k, v) for k, v in env.items()]
        elif isinstance(env, list):
            entries = [
                (("jupyterhub", "hub", "extraEnv", i), str(v.get("name", "")), v)
                for i, v in enumerate(env)
                if isinstance(v, dict)
            ]
        for path, name, value in entries:
            literal = value if isinstance(value, str) else None
            if isinstance(value, dict) and "value" in value:
                literal = value["value"]
            if literal and _SECRET_NAME.search(name):
                self.error(
                    path,
                    f"{name} is given as text in a values file: take it from a Kubernetes "
                    "Secret with valueFrom.secretKeyRef",
                )
        db = hub.get("db") if isinstance(hub.get("db"), dict) else {}
        if db.get("password"):
            self.error(
                ("jupyterhub", "hub", "db", "password"),
                "the hub database's password in a values file: put it in a Kubernetes Secret "
                "and name it in jupyterhub.hub.existingSecret",
            )


def _known(allowed: set[str]) -> str:
    if not allowed or len(allowed) > 40:
        return ""
    return f" (known: {', '.join(sorted(allowed))})"


def _message(error: jsonschema.ValidationError) -> str:
    message = error.message
    if len(message) > 240:
        message = message[:240] + "..."
    return message


def _pointer_parts(pointer: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in parts(pointer)]


def load_chart_schema(fleet: Fleet) -> dict[str, Any]:
    """The chart's values schema, made from the traits (as helm is given it)."""
    return chart_schema()


def validate_hub(
    fleet: Fleet, hub: Hub, subcharts: list[SubChart], chart_schema=None
) -> list[FleetError]:
    """Every error of one hub's values; ``subcharts`` are the chart's dependencies as found
    in its ``charts/`` folder (:func:`.dependency.find_subcharts`)."""
    try:
        merged = hub_values(fleet, hub)
    except FleetError as e:
        return [e]
    schema = chart_schema if chart_schema is not None else load_chart_schema(fleet)
    return Checker(hub, merged, schema, subcharts).run()
