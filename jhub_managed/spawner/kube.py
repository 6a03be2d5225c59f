"""The managed spawner on Kubernetes: KubeSpawner with managed profiles."""

from __future__ import annotations

from typing import Any

from kubespawner import KubeSpawner
from traitlets import default

from ..settings.quantities import parse_memory
from .mixin import ManagedSpawnerMixin

#: kubespawner_override keys holding memory quantities. The settings accept them as bytes
#: or with a K/M/G/T or Ki/Mi/Gi/Ti suffix; JupyterHub's memory traits take only numbers
#: and K/M/G/T strings, so they are passed on as bytes.
MEMORY_KEYS = ("mem_limit", "mem_guarantee")


class ManagedKubeSpawner(ManagedSpawnerMixin, KubeSpawner):
    """KubeSpawner whose profiles come from the hub's settings, filtered by group.

    ``profile_list`` is a callable over the current settings version, so an admin's edit is
    used by the next spawn. The request is validated (and refused with 400/403) before the
    pod is made; the pod carries labels naming the hub and the profile.
    """

    @default("profile_list")
    def _managed_profile_list(self):
        return ManagedKubeSpawner._profiles_for_spawner

    @staticmethod
    def _profiles_for_spawner(spawner: ManagedKubeSpawner) -> list[dict]:
        return spawner.allowed_profiles()

    @default("options_form")
    def _managed_options_form_default(self):
        return ManagedSpawnerMixin.managed_options_form

    def apply_override(self, override: dict[str, Any]) -> None:
        override = {
            key: parse_memory(value) if key in MEMORY_KEYS else value
            for key, value in override.items()
        }
        self._apply_overrides(override)
        self.extra_labels = {
            **self.extra_labels,
            "hub.jupyter.org/managed-hub": self.hub_name,
            "hub.jupyter.org/managed-profile": self.managed_selection.slug,
        }

    async def load_user_options(self):
        """Called by KubeSpawner's start: the selection was validated and applied already."""
        if self.managed_selection is None:
            await self.apply_managed_options(self.user_options)
