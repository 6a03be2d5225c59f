"""kubespawner's private names, used here only (by the managed KubeSpawner).

Checked on kubespawner 7.0.0 (what JupyterHub 5.5's z2jh 4.4.0 ships) and 7.1.0
(``tests/test_upstream_pins.py`` names the one that changed, and the installed version,
when one does).
"""

from __future__ import annotations

from typing import Any

from kubespawner import KubeSpawner


def initialized_profile_list(profile_list: list[dict]) -> list[dict]:
    """A ``profile_list`` filled in as KubeSpawner fills it in before use: slugs from
    display names, one default profile, each option's default choice, ``unlisted_choice``.

    ``KubeSpawner._get_initialized_profile_list``, private, called without a spawner (the
    method reads nothing of ``self``): the suite checks and offers an operator's
    ``profile_list`` exactly as KubeSpawner would read it, before any spawner exists.
    Changes ``profile_list`` in place, as KubeSpawner does: pass a copy. Checked on
    kubespawner 7.0.0 and 7.1.0.
    """
    return KubeSpawner._get_initialized_profile_list(None, profile_list)


def apply_overrides(spawner: KubeSpawner, override: dict[str, Any]) -> None:
    """Apply a profile's ``kubespawner_override`` to ``spawner`` as KubeSpawner does: dicts
    merged into the trait's value (``None`` removes a key), callables called with the
    spawner, everything else set.

    ``KubeSpawner._apply_overrides``, private: the suite applies the selection it validated
    itself, and must apply it the same way KubeSpawner applies its own profiles. Checked on
    kubespawner 7.0.0 and 7.1.0.
    """
    spawner._apply_overrides(override)


def sorted_dict_values(spawner: KubeSpawner, value: Any) -> Any:
    """A KubeSpawner list-or-dict trait (``volumes``, ``volume_mounts``, ...) as the list
    KubeSpawner makes of it: a dict's values sorted by key, a list as it is.

    ``KubeSpawner._sorted_dict_values``, private: the shared directory is added to the
    volumes in the order the pod will have them. Checked on kubespawner 7.0.0 and 7.1.0.
    """
    return spawner._sorted_dict_values(value)
