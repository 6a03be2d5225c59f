"""What a hub admin may put in a profile's ``kubespawner_override``: an allow-list.

Whoever writes a kubespawner ``profile_list`` controls the pods it makes: ``privileged``,
``uid: 0``, a ``hostPath`` volume, ``extra_pod_config`` with ``hostNetwork``, tolerations
and affinities around the node selectors, service accounts. In a managed fleet the operator
owns the nodes and a hub admin is a community's own person, so the hub admins' layer may set
only the keys of the settings schema's closed ``kubespawner_override``
(:data:`HUB_ADMIN_KEYS`), plus the keys the operator allows a trusted hub
(:class:`AdminAllowList`). Within those keys, environment variables the hub and the suite
rely on, and extended resources the operator did not name, are refused as well.

The operator's layers (``operator_defaults``, ``hub_values``) may set any key. Hub admins
save whole documents, profiles the operator made included, so a key outside the list is
accepted where the operator's layers set the same value at the same place (the same
profile slug, option and choice): a hub admin may keep, reorder or remove what the operator
set, never add to it or change it.

Because a hub admin's ``profiles`` list replaces the operator's whole (see ``layers.py``),
checking the *resolved* document against the operator's layers alone judges exactly the hub
admins' part; the same function serves the save, the restore and the spawn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .ceilings import Ceilings
from .errors import SettingsError
from .pointer import pointer
from .schema import KUBESPAWNER_OVERRIDE

#: the keys a hub admin may set, from the settings schema (one source for docs and checks)
HUB_ADMIN_KEYS = frozenset(KUBESPAWNER_OVERRIDE["properties"])
#: the value of :attr:`AdminAllowList.extra_keys` that allows a hub admin any key
ANY_KEY = "*"
RESOURCE_KEYS = ("extra_resource_limits", "extra_resource_guarantees")

#: environment names a hub admin may not set, by prefix: JupyterHub's own (the server's
#: token, its URLs, OAuth), JupyterHub's old names, the ones Kubernetes sets for service
#: discovery, and the suite's own
RESERVED_ENV_PREFIXES = ("JUPYTERHUB_", "JPY_", "KUBERNETES_", "JHUB_MANAGED_")
#: and by name: what JupyterHub sets from the resource limits (servers read them to size
#: themselves), what KubeSpawner sets from the image, and what the docker-stacks images'
#: start script acts on as root (user and group ids, sudo, ownership of directories)
RESERVED_ENV_NAMES = frozenset(
    {
        "MEM_LIMIT",
        "MEM_GUARANTEE",
        "CPU_LIMIT",
        "CPU_GUARANTEE",
        "JUPYTER_IMAGE",
        "JUPYTER_IMAGE_SPEC",
        "NB_USER",
        "NB_UID",
        "NB_GROUP",
        "NB_GID",
        "NB_UMASK",
        "GRANT_SUDO",
        "CHOWN_HOME",
        "CHOWN_HOME_OPTS",
        "CHOWN_EXTRA",
        "CHOWN_EXTRA_OPTS",
    }
)
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def reserved_env_name(name: str) -> bool:
    upper = name.upper()
    return upper in RESERVED_ENV_NAMES or upper.startswith(RESERVED_ENV_PREFIXES)


@dataclass(frozen=True)
class AdminAllowList:
    """The KubeSpawner keys hub admins may set beyond :data:`HUB_ADMIN_KEYS`.

    ``{"*"}`` allows any key (a hub whose admins the operator trusts with its nodes).
    Reserved environment names and unnamed resources stay refused whatever is allowed.
    """

    extra_keys: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, keys: Iterable[str] | None) -> AdminAllowList:
        """Build from the operator's list; raises ``ValueError`` naming a bad entry."""
        if isinstance(keys, str | bytes | Mapping):
            raise ValueError(f"a list of KubeSpawner setting names is needed, not {keys!r}")
        extra = set()
        for key in keys or ():
            if not isinstance(key, str) or not (key == ANY_KEY or _KEY.fullmatch(key)):
                raise ValueError(
                    f"{key!r} is not a KubeSpawner setting name (or {ANY_KEY!r} for any)"
                )
            extra.add(key)
        return cls(frozenset(extra))

    def allows(self, key: str) -> bool:
        return key in HUB_ADMIN_KEYS or key in self.extra_keys or ANY_KEY in self.extra_keys


def not_allowed_message(key: str) -> str:
    return (
        f"'{key}' is not among the settings hub admins may give a profile; only the operator "
        "can set it, or allow it to this hub's admins (hub_admin_override_keys)"
    )


def admin_override_errors(
    document: Mapping[str, Any],
    base: Mapping[str, Any],
    allow: AdminAllowList,
    ceilings: Ceilings,
) -> list[SettingsError]:
    """What the profiles of ``document`` set that a hub admin may not, with its path.

    ``document`` is a resolved settings document (or the hub admins' layer itself) and
    ``base`` what the operator's layers resolve to; a key the operator's layers set the same
    way at the same place is not the hub admins' doing and passes.
    """
    errors: list[SettingsError] = []
    profiles = document.get("profiles")
    if not isinstance(profiles, list):
        return errors
    if profiles is base.get("profiles") or profiles == base.get("profiles"):
        return errors  # the operator's own profiles, untouched
    base_profiles = {p.get("slug"): p for p in base.get("profiles") or [] if isinstance(p, Mapping)}
    for index, profile in enumerate(profiles):
        if not isinstance(profile, Mapping):
            continue
        inherited = base_profiles.get(profile.get("slug")) or {}
        path = ["profiles", index]
        errors += _override_errors(profile, inherited, path, allow, ceilings)
        options = profile.get("profile_options")
        if not isinstance(options, Mapping):
            continue
        base_options = _mapping(inherited.get("profile_options"))
        for key, option in options.items():
            if not isinstance(option, Mapping):
                continue
            base_option = _mapping(base_options.get(key))
            option_path = [*path, "profile_options", key]
            choices = option.get("choices")
            base_choices = _mapping(base_option.get("choices"))
            for name, choice in (choices if isinstance(choices, Mapping) else {}).items():
                if isinstance(choice, Mapping):
                    errors += _override_errors(
                        choice,
                        _mapping(base_choices.get(name)),
                        [*option_path, "choices", name],
                        allow,
                        ceilings,
                    )
            unlisted = option.get("unlisted_choice")
            if isinstance(unlisted, Mapping):
                errors += _override_errors(
                    unlisted,
                    _mapping(base_option.get("unlisted_choice")),
                    [*option_path, "unlisted_choice"],
                    allow,
                    ceilings,
                )
    return errors


def refused_profiles(
    document: Mapping[str, Any],
    base: Mapping[str, Any],
    allow: AdminAllowList,
    ceilings: Ceilings,
) -> dict[int, list[SettingsError]]:
    """The profiles (by index) that set what a hub admin may not, and why."""
    refused: dict[int, list[SettingsError]] = {}
    for error in admin_override_errors(document, base, allow, ceilings):
        index = int(error.path.split("/")[2])
        refused.setdefault(index, []).append(error)
    return refused


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _override_errors(
    entry: Mapping[str, Any],
    inherited_entry: Mapping[str, Any],
    path: list,
    allow: AdminAllowList,
    ceilings: Ceilings,
) -> list[SettingsError]:
    override = entry.get("kubespawner_override")
    if not isinstance(override, Mapping) or not override:
        return []
    inherited = _mapping(inherited_entry.get("kubespawner_override"))
    path = [*path, "kubespawner_override"]
    errors = []
    for key, value in override.items():
        if key in inherited and inherited[key] == value:
            continue  # the operator's, kept as it was
        if not allow.allows(key):
            errors.append(SettingsError(pointer([*path, key]), not_allowed_message(key)))
        elif key == "environment" and isinstance(value, Mapping):
            errors += _entry_errors(
                value,
                _mapping(inherited.get(key)),
                [*path, key],
                lambda name: reserved_env_name(str(name)),
                lambda name: (
                    f"'{name}' is set by JupyterHub, KubeSpawner or jhub-managed; "
                    "only the operator's own settings can change it in a profile"
                ),
            )
            # None (removing a variable) and valueFrom (reading secrets, the pod's fields)
            # are the operator's; a hub admin's value is text
            texts = {n: v for n, v in value.items() if not reserved_env_name(str(n))}
            errors += _entry_errors(
                texts,
                _mapping(inherited.get(key)),
                [*path, key],
                lambda name, texts=texts: not isinstance(texts[name], str),
                lambda name: (
                    f"'{name}' must be text; removing a variable (null) or reading it from "
                    "elsewhere (valueFrom) is for the operator's own settings"
                ),
            )
        elif key in RESOURCE_KEYS and isinstance(value, Mapping):
            errors += _entry_errors(
                value,
                _mapping(inherited.get(key)),
                [*path, key],
                lambda resource: not ceilings.names_resource(str(resource)),
                lambda resource: (
                    f"'{resource}' is not a resource the operator offers to "
                    "profiles (the operator names them in the ceilings' extra_resources)"
                ),
            )
    return errors


def _entry_errors(
    entries: Mapping[str, Any],
    inherited: Mapping[str, Any],
    path: list,
    refused: Callable[[str], bool],
    message: Callable[[str], str],
) -> list[SettingsError]:
    """The entries of a mapping (environment names, resources) a hub admin may not set,
    unless the operator's layers set the same entry the same way."""
    return [
        SettingsError(pointer([*path, name]), message(name))
        for name, setting in entries.items()
        if refused(name) and not (name in inherited and inherited[name] == setting)
    ]
