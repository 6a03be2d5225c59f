"""The spawn form: one card per profile, rendered from the (group-filtered) profile list;
or the operator's own template, as KubeSpawner renders ``profile_form_template`` and a
``form.html`` in ``additional_profile_form_template_paths`` (jupyterhub-fancy-profiles and
other spawn-page extensions).

Pure rendering, shared by the spawners and by the settings service's preview; it imports
no spawner, so the settings service loads neither kubespawner nor the Kubernetes client.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import os
from collections.abc import Sequence
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    Template,
    TemplateNotFound,
    select_autoescape,
)

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


# -- the operator's own template --------------------------------------------------------------

#: the template KubeSpawner looks for in ``additional_profile_form_template_paths``
OPERATOR_FORM = "form.html"


def _kubespawner_templates() -> list[str]:
    """KubeSpawner's own template folder (its ``form.html`` includes ``style.css`` from
    there), found without importing kubespawner; none where it is not installed."""
    spec = importlib.util.find_spec("kubespawner")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [os.path.join(location, "templates") for location in spec.submodule_search_locations]


@functools.lru_cache(maxsize=16)
def _operator_environment(paths: tuple[str, ...]) -> tuple[Environment, FileSystemLoader]:
    """The environment KubeSpawner renders profile forms with: the operator's folders, then
    KubeSpawner's own; ``tojson`` keeps the profiles' order. Unlike KubeSpawner's, it
    escapes what it inserts (hub admins write the profiles' names and descriptions here, not
    only the operator); ``tojson`` output is safe to insert either way."""
    operator = FileSystemLoader(list(paths))
    env = Environment(
        loader=ChoiceLoader([operator, FileSystemLoader(_kubespawner_templates())]),
        autoescape=True,
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    return env, operator


@functools.lru_cache(maxsize=16)
def _from_string(template: str, paths: tuple[str, ...]) -> Template:
    return _operator_environment(paths)[0].from_string(template)


def operator_form_template(template: str, paths: Sequence[str]) -> Template | None:
    """The operator's spawn-form template, as KubeSpawner picks it: ``template`` (its
    ``profile_form_template``) when set, else a ``form.html`` in one of ``paths`` (its
    ``additional_profile_form_template_paths``); ``None`` when the operator set neither, and
    the suite's own form is shown. A template file changed on disk is read again."""
    key = tuple(str(p) for p in paths or ())
    if template:
        return _from_string(template, key)
    if not key:
        return None
    env, operator = _operator_environment(key)
    try:
        operator.get_source(env, OPERATOR_FORM)
    except TemplateNotFound:
        return None
    return env.get_template(OPERATOR_FORM)


def template_profile_list(profiles: list[dict]) -> list[dict]:
    """``profiles`` (already filtered for the user) as a KubeSpawner form template gets its
    ``profile_list``: filled in as KubeSpawner fills it in (a default profile and choice,
    ``unlisted_choice`` with ``enabled`` and ``display_name_in_choices``), every other key
    kept as it is, extension keys included. ``allowed_groups`` is left out: the list is
    already this user's, and other groups' names are none of the page's business."""
    result = []
    for profile in copy.deepcopy(profiles):
        profile.pop("allowed_groups", None)
        for option in (profile.get("profile_options") or {}).values():
            choices = option.get("choices") or {}
            for choice in choices.values():
                choice.pop("allowed_groups", None)
            if choices and not any(c.get("default") for c in choices.values()):
                next(iter(choices.values()))["default"] = True
            unlisted = option.setdefault("unlisted_choice", {})
            unlisted.pop("allowed_groups", None)
            unlisted.setdefault("enabled", False)
            if unlisted["enabled"]:
                unlisted.setdefault("display_name_in_choices", "Other...")
        result.append(profile)
    if result and not any(p.get("default") for p in result):
        result[0]["default"] = True
    return result


def render_operator_form(
    template: Template, profiles: list[dict], user_options: dict[str, Any] | None = None
) -> str:
    """HTML of the operator's spawn form for ``profiles`` (already filtered for the user),
    with the variables KubeSpawner 7.1 gives it: ``profile_list`` and ``user_options`` (the
    user's last options, ``{}`` when they no longer hold; 7.0 gives only ``profile_list``)."""
    return template.render(
        profile_list=template_profile_list(profiles), user_options=dict(user_options or {})
    )
