"""What the hub does when it starts, not when its configuration is loaded.

``configure()`` only builds configuration, so a config file can be loaded (or checked) any
number of times without touching anything. What must happen in a running hub, before it
serves its first page, is run by :func:`on_hub_start`: today, starting the settings snapshot
(its first read creates and migrates the store; then its refresher thread).

JupyterHub (5.5 and 6) has no start hook of its own; it builds its Jinja environments once,
while it starts (``init_tornado_settings``), after its database and roles and before it
listens, with ``c.JupyterHub.jinja_environment_options``. An extension given there is made
then, and that is the hook. Whatever reads the snapshot first starts it anyway, so a
configuration used without a hub (a spawner made by hand, a test) works the same.
"""

from __future__ import annotations

from collections.abc import Callable

from jinja2 import Environment
from jinja2.ext import Extension
from traitlets.config import Config

from .config_values import configured


def on_hub_start(c: Config, *steps: Callable[[], None]) -> None:
    """Run ``steps`` (each once; they must be idempotent) when the hub configured by ``c``
    starts."""
    options = configured(c.JupyterHub, "jinja_environment_options", {})
    extensions = list(options.get("extensions") or [])
    extensions.append(_start_extension(steps))
    options["extensions"] = extensions
    c.JupyterHub.jinja_environment_options = options


def _start_extension(steps: tuple[Callable[[], None], ...]) -> type[Extension]:
    class HubStart(Extension):
        """Runs the hub's start steps when JupyterHub builds its template environment."""

        def __init__(self, environment: Environment):
            super().__init__(environment)
            for step in steps:
                step()

    return HubStart
