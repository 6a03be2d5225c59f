"""The one error a wrong option raises, and the wrapper that turns traitlets' into it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from traitlets import TraitError

T = TypeVar("T")


class ConfigureError(ValueError):
    """A wrong option of :func:`~jhub_managed.hub.configure`; the message says which and why."""


def validated(where: str, make: Callable[[], T]) -> T:
    """``make()``, with a wrong value of any option as one :class:`ConfigureError` that says
    ``where`` the options came from."""
    try:
        return make()
    except (ConfigureError, TraitError) as e:  # TraitError: a wrong type
        message = str(e)
        option = where.rsplit(".", 1)[-1]
        raise ConfigureError(f"{where}: {message.removeprefix(option + ': ')}") from None


# its public name, as tracebacks print it and the docs show it
ConfigureError.__module__ = "jhub_managed.hub"
