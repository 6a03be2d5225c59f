"""The local-process twin of the managed spawner, for the demo and tests."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import List, Unicode

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

    # the operator's own spawn form, as on ManagedKubeSpawner, where KubeSpawner declares
    # these two options; set here, in this class's own section (``c.KubeSpawner`` is not
    # read, as its ``profile_list`` is not)
    profile_form_template = Unicode(
        "",
        config=True,
        help="""A Jinja2 template of the spawn form, used instead of the suite's own, as
        KubeSpawner's option of the same name: it gets ``profile_list`` (the profiles the
        user may use) and ``user_options`` (their last options), and posts KubeSpawner's
        field names (``profile``, ``profile-option-<slug>--<option>``).""",
    )
    additional_profile_form_template_paths = List(
        Unicode(),
        config=True,
        help="""Folders searched for a ``form.html`` to use as the spawn form (after
        :attr:`profile_form_template`), as KubeSpawner's option of the same name; e.g.
        ``jupyterhub_fancy_profiles.TEMPLATE_PATHS``.""",
    )

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
