"""The spawn form: one card per profile, rendered from the (group-filtered) profile list.

Pure rendering, shared by the spawners and by the settings service's preview; it imports
no spawner, so the settings service loads neither kubespawner nor the Kubernetes client.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from .settings.profiles import UNLISTED_SUFFIX
from .settings.quantities import format_cpu, format_memory, parse_memory
from .settings.validate import gpu_count

_FORM_ENV = Environment(
    loader=PackageLoader("jhub_managed", "templates"),
    autoescape=select_autoescape(default=True),
)


def resources_in_words(override: dict[str, Any]) -> list[str]:
    """``{"cpu_limit": 2, "mem_limit": "4G"}`` -> ``["up to 2 CPUs", "up to 4 GB memory"]``."""
    words = []
    cpu_g, cpu_l = override.get("cpu_guarantee"), override.get("cpu_limit")
    if cpu_g is not None or cpu_l is not None:
        if cpu_g is not None and cpu_l is not None and cpu_g != cpu_l:
            words.append(f"{format_cpu(cpu_g)} guaranteed, up to {format_cpu(cpu_l)}")
        else:
            words.append(format_cpu(cpu_l if cpu_l is not None else cpu_g))
    try:
        mem_g, mem_l = (
            parse_memory(override.get("mem_guarantee")),
            parse_memory(override.get("mem_limit")),
        )
    except ValueError:
        mem_g = mem_l = None
    if mem_g is not None or mem_l is not None:
        if mem_g is not None and mem_l is not None and mem_g != mem_l:
            words.append(f"{format_memory(mem_g)} memory guaranteed, up to {format_memory(mem_l)}")
        else:
            words.append(f"{format_memory(mem_l if mem_l is not None else mem_g)} memory")
    gpus = gpu_count(override)
    if gpus:
        words.append("1 GPU" if gpus == 1 else f"{gpus} GPUs")
    return words


def render_profile_form(
    profiles: list[dict],
    previous: dict[str, Any] | None = None,
    *,
    image_applies: bool = True,
    error: str = "",
) -> str:
    """HTML of the spawn form for ``profiles`` (already filtered for the user).

    ``previous`` is the user's last ``user_options``, preselected; ``image_applies`` says
    whether images mean something on this spawner (not on the local one).
    """
    cards = []
    for profile in profiles:
        override = profile.get("kubespawner_override") or {}
        cards.append(
            {
                "profile": profile,
                "resources": resources_in_words(override),
                "image": override.get("image") if image_applies else None,
            }
        )
    return _FORM_ENV.get_template("spawner/form.html").render(
        cards=cards,
        previous=previous or {},
        unlisted_suffix=UNLISTED_SUFFIX,
        image_applies=image_applies,
        error=error,
    )
