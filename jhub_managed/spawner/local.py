"""The local-process twin of the managed spawner, for the demo and tests."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Unicode

from ..settings.quantities import parse_memory
from .mixin import ManagedSpawnerMixin

#: kubespawner_override keys the local spawner can honour, and the Spawner trait each sets
LOCAL_TRAITS = {
    "cpu_limit": "cpu_limit",
    "cpu_guarantee": "cpu_guarantee",
    "mem_limit": "mem_limit",
    "mem_guarantee": "mem_guarantee",
    "default_url": "default_url",
    "environment": "environment",
}


class ManagedLocalSpawner(ManagedSpawnerMixin, SimpleLocalProcessSpawner):
    """Managed profiles on local processes, all run as the hub's own system user.

    Applies the same profiles as :class:`ManagedKubeSpawner`: environment, default URL and
    CPU/memory limits (as the ``CPU_LIMIT``/``MEM_LIMIT`` environment variables single-user
    servers read). Images do not apply. For the demo and tests: users are not isolated
    from each other.
    """

    image_applies: ClassVar[bool] = False

    home_dir_template = Unicode(
        "/tmp/jhub-managed/{username}",  # noqa: S108 - overridden by the demo and the chart
        config=True,
        help="Home directory of each user's server; ``{username}`` is replaced.",
    )

    def apply_override(self, override: dict[str, Any]) -> None:
        for key, value in override.items():
            trait = LOCAL_TRAITS.get(key)
            if trait is None:
                if key != "image":
                    self.log.debug("%s does not apply on the local spawner", key)
                continue
            if key in ("mem_limit", "mem_guarantee"):
                value = parse_memory(value)
            if key == "environment":
                # None removes a variable, as KubeSpawner takes it
                merged = {**self.environment, **value}
                value = {name: text for name, text in merged.items() if text is not None}
            setattr(self, trait, value)

    def get_args(self):
        args = super().get_args()
        if os.geteuid() == 0 and "--allow-root" not in args:
            args.append("--allow-root")
        return args
