"""Which services run, where they listen, and the idle culler."""

from __future__ import annotations

from traitlets import Dict, HasTraits, List, Unicode, validate
from traitlets import Integer as Int

from ..scopes import SERVICE_NAMES
from .errors import ConfigureError


class ServiceOptions(HasTraits):
    services = List(
        Unicode(),
        default_value=list(SERVICE_NAMES),
        config=True,
        help="Which of the hub-managed services to run: any of config, usage, health.",
    )

    @validate("services")
    def _check_services(self, proposal):
        unknown = sorted(set(proposal.value) - set(SERVICE_NAMES))
        if unknown:
            raise ConfigureError(
                f"unknown service {unknown[0]!r}; services are {', '.join(SERVICE_NAMES)}"
            )
        return proposal.value

    service_ip = Unicode(
        "127.0.0.1",
        config=True,
        help="""Address the services listen on (``0.0.0.0`` in a hub pod, so that the proxy
        reaches them).""",
    )
    service_host = Unicode(
        "",
        config=True,
        help="""Host name the proxy uses to reach the services; defaults to ``service_ip``.
        In a hub pod, the hub's Kubernetes service name (``hub`` in zero-to-jupyterhub).""",
    )
    service_ports = Dict(
        value_trait=Int(),
        config=True,
        help="""Port of each service, e.g. ``{"config": 10101}``. A service without a port
        gets a free one at hub start (fine on one machine; set them in a hub pod).""",
    )
    extra_service_environment = Dict(
        value_trait=Unicode(),
        config=True,
        help="Extra environment variables for every jhub-managed service.",
    )
    service_start_timeout = Int(
        60,
        config=True,
        help="""Seconds the hub waits at start for each jhub-managed service to answer at its
        root before it gives up and exits (JupyterHub's own default is 10, short for a busy
        node).""",
    )

    # -- the idle culler -----------------------------------------------------------------------

    idle_timeout = Int(
        3600,
        config=True,
        help="""Seconds of inactivity after which a server is stopped, unless its profile sets
        its own ``idle_timeout``. 0 turns the idle culler off.""",
    )
    cull_every = Int(
        300,
        config=True,
        help="How often, in seconds, the idle culler looks for idle servers.",
    )

    @validate("idle_timeout", "cull_every")
    def _check_positive(self, proposal):
        if proposal.value < 0:
            raise ConfigureError(f"{proposal.trait.name} cannot be negative")
        return proposal.value
