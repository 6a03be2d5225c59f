"""jhub-managed: a JupyterHub plugin suite for running many managed hubs."""

from ._version import __version__

__all__ = ["__version__"]
