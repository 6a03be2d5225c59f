"""The users' storage on Kubernetes: a home volume each, a shared directory."""

from __future__ import annotations

from traitlets import Dict, HasTraits, validate

from .errors import ConfigureError


class StorageOptions(HasTraits):
    home_storage = Dict(
        config=True,
        help="""Per-user home volumes on Kubernetes, through kubespawner's storage options:
        ``{"capacity": "10Gi", "storage_class": "standard", "mount_path": "/home/jovyan"}``
        (``storage_class`` optional). Each user gets a claim, made at their first start.
        Empty: no persistent home.""",
    )

    shared_storage = Dict(
        config=True,
        help="""A directory shared by the hub's users on Kubernetes: ``{"pvc": "<claim>",
        "mount_path": "/home/jovyan/shared", "sub_path": ""}``. Read-only for users,
        read-write for hub admins. Empty: none.""",
    )

    #: storage option -> (its keys, the required one, what the required one is)
    _STORAGE_KEYS = {
        "home_storage": ({"capacity", "storage_class", "mount_path"}, "capacity", "e.g. '10Gi'"),
        "shared_storage": ({"pvc", "mount_path", "sub_path"}, "pvc", "the name of its claim"),
    }

    @validate("home_storage", "shared_storage")
    def _check_storage(self, proposal):
        name = proposal.trait.name
        keys, required, what = self._STORAGE_KEYS[name]
        value = dict(proposal.value)
        unknown = sorted(set(value) - keys)
        if unknown:
            raise ConfigureError(f"{name}: unknown key {unknown[0]!r}")
        if value and not value.get(required):
            raise ConfigureError(f"{name} needs '{required}': {what}")
        return value
