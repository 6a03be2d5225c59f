"""Managed spawners: profiles from the hub's settings, group-restricted, operator-bounded."""

from .kube import ManagedKubeSpawner
from .local import ManagedLocalSpawner
from .mixin import ManagedSpawnerMixin

__all__ = ["ManagedKubeSpawner", "ManagedLocalSpawner", "ManagedSpawnerMixin"]
