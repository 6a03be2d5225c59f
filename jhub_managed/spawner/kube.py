"""The managed spawner on Kubernetes: KubeSpawner with managed profiles."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from jupyterhub.utils import maybe_future
from kubespawner import KubeSpawner
from traitlets import default

from ..compat.kubespawner import apply_overrides, initialized_profile_list, sorted_dict_values
from ..settings.quantities import parse_memory
from .mixin import ManagedSpawnerMixin

#: kubespawner_override keys holding memory quantities. The settings accept them as bytes
#: or with a K/M/G/T or Ki/Mi/Gi/Ti suffix; JupyterHub's memory traits take only numbers
#: and K/M/G/T strings, so they are passed on as bytes.
MEMORY_KEYS = ("mem_limit", "mem_guarantee")

LABEL_HUB = "hub.jupyter.org/managed-hub"
LABEL_PROFILE = "hub.jupyter.org/managed-profile"
ANNOTATION_GROUPS = "hub.jupyter.org/managed-groups"
SHARED_VOLUME = "jhm-shared"
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def attribution(hub_name: str, profile_slug: str, groups: list[str]) -> tuple[dict, dict]:
    """Labels and annotations that let usage and cost be split by hub, profile and group.

    Label values must be valid Kubernetes label values; hub names and profile slugs are
    validated to be, so they go in as they are. Group names can be anything, so they go in an
    annotation (JSON), where any text is allowed.
    """
    labels = {LABEL_HUB: hub_name}
    if profile_slug and _LABEL_VALUE.fullmatch(profile_slug):
        labels[LABEL_PROFILE] = profile_slug
    annotations = {ANNOTATION_GROUPS: json.dumps(sorted(groups))}
    return labels, annotations


def shared_volume(config: dict[str, Any], *, writable: bool) -> tuple[dict, dict]:
    """The shared directory's volume and mount: read-only unless ``writable``."""
    volume = {"name": SHARED_VOLUME, "persistentVolumeClaim": {"claimName": config["pvc"]}}
    mount = {
        "name": SHARED_VOLUME,
        "mountPath": config.get("mount_path", "/home/jovyan/shared"),
        "readOnly": not writable,
    }
    if config.get("sub_path"):
        mount["subPath"] = config["sub_path"]
    return volume, mount


def initialized_profiles(value: Any) -> list[dict] | None:
    """A ``profile_list`` value (a list, or a dict of profiles by sort key, as KubeSpawner
    takes it) filled in as KubeSpawner fills it in (slugs from display names, one default,
    ...); ``None`` for none."""
    if isinstance(value, dict):
        value = [value[key] for key in sorted(value)]
    if not isinstance(value, list) or not value:
        return None
    return initialized_profile_list(copy.deepcopy(value))


class ManagedKubeSpawner(ManagedSpawnerMixin, KubeSpawner):
    """KubeSpawner whose profiles come from the hub's settings, filtered by group.

    ``profile_list`` is a callable over the current settings version, so an admin's edit is
    used by the next spawn. A ``profile_list`` set in the config (a list, a dict or a
    callable, as KubeSpawner takes it; z2jh's ``singleuser.profileList``) becomes the hub's
    starting profiles (the ``hub_values`` layer) when ``hub_values`` has none. The request is
    validated (and refused with 400/403) before the pod is made; the pod carries labels
    naming the hub and the profile.

    The spawn form is the suite's own unless the operator set KubeSpawner's
    ``profile_form_template`` or a ``form.html`` in ``additional_profile_form_template_paths``
    (as jupyterhub-fancy-profiles' ``setup_ui(c)`` does): then it is theirs, given the
    profiles this user may use; what it posts is checked as the suite's own form's post.
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

    async def configured_profile_list(self) -> list[dict] | None:
        value = self.profile_list
        if value is ManagedKubeSpawner._profiles_for_spawner or not value:
            return None
        if callable(value):
            value = await maybe_future(value(self))
        return initialized_profiles(value)

    def apply_override(self, override: dict[str, Any]) -> None:
        override = {
            key: parse_memory(value) if key in MEMORY_KEYS else value
            for key, value in override.items()
        }
        apply_overrides(self, override)

    async def load_user_options(self):
        """Called by KubeSpawner's start: the selection was validated and applied already.

        Adds what every pod of a managed hub carries, with or without profiles: attribution
        labels and annotations, and the shared directory.
        """
        await self.load_configured_profiles()
        chosen_for = self.managed_selection_options
        if self.managed_profiles() and (
            self.managed_selection is None or chosen_for != dict(self.user_options or {})
        ):
            await self.apply_managed_options(self.user_options)
        slug = self.managed_selection.slug if self.managed_selection else ""
        labels, annotations = attribution(self.managed_hub.hub_name, slug, self.user_group_names())
        self.extra_labels = {**self.extra_labels, **labels}
        self.extra_annotations = {**self.extra_annotations, **annotations}
        shared = self.managed_hub.shared_storage
        if shared:
            volume, mount = shared_volume(shared, writable=bool(self.user.admin))
            # kubespawner takes volumes as a list or as a dict of them
            volumes = sorted_dict_values(self, self.volumes)
            mounts = sorted_dict_values(self, self.volume_mounts)
            self.volumes = [v for v in volumes if v.get("name") != SHARED_VOLUME] + [volume]
            self.volume_mounts = [m for m in mounts if m.get("name") != SHARED_VOLUME] + [mount]
