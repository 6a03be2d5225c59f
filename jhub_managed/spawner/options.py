"""What a spawn request asks for: the spawn form's fields and a launch link's arguments
as kubespawner-shaped ``user_options`` (pure functions; checked afterwards, as every
request is)."""

from __future__ import annotations

from ..settings.profiles import UNLISTED_SUFFIX


def without_opt_prefix(query_data) -> dict:
    """The launch link's arguments by option name. JupyterHub 6 strips the ``opt-`` prefix
    before it calls ``options_from_query``; 5.5 passes the arguments as they came."""
    data = dict(query_data)
    prefixed = {key[4:]: value for key, value in data.items() if key.startswith("opt-")}
    return prefixed or data


def options_from_form(
    formdata: dict[str, list[str]], *, plain_keys: bool = False
) -> dict[str, str]:
    """Form fields (kubespawner's names) to kubespawner-shaped ``user_options``.

    ``profile`` picks the profile; ``profile-option-{slug}--{option}`` its choices and
    ``...--unlisted-choice`` free text. Fields of other profiles are ignored, and so are
    fields that are not options (a spawn page's own controls, such as the
    ``select-profile`` radio buttons of jupyterhub-fancy-profiles), as KubeSpawner ignores
    them. With ``plain_keys`` (launch links), plain ``{option}`` keys are options too.
    """

    def first(value):
        if isinstance(value, list):
            return value[0] if value else ""
        return value

    data = {k: first(v) for k, v in formdata.items()}
    slug = data.get("profile", "")
    options: dict[str, str] = {"profile": slug} if slug else {}
    prefix = f"profile-option-{slug}--"
    for key, value in data.items():
        if key == "profile" or key == "_xsrf":
            continue
        if key.startswith(prefix):
            key = key[len(prefix) :]
        elif key.startswith("profile-option-") or not plain_keys:
            continue
        if value in ("", None):
            continue
        options[key] = value
    return options


def typed_values_as_kubespawner_reads_them(
    profiles: list[dict], options: dict[str, str]
) -> dict[str, str]:
    """A form's free text read as KubeSpawner reads it, where the suite's reading differs.

    KubeSpawner takes an option's typed value whenever one is posted. So does this where
    the option's list value is not one of its choices: jupyterhub-fancy-profiles' "Build
    your own image" posts its own entry there, with the built image as the typed value. A
    listed choice picked after text was typed stays the choice, as on the suite's own form.
    Fields under a typed value (``<option>--unlisted-choice--<field>``: the image builder's
    repository and ref) are not options: KubeSpawner keeps but never reads them; they are
    left out. The result is checked as every request is (groups, pattern, ceilings).
    """
    profile = next((p for p in profiles if p.get("slug") == options.get("profile")), None)
    if profile is None:
        return options
    read = dict(options)
    for key, option in (profile.get("profile_options") or {}).items():
        typed = f"{key}{UNLISTED_SUFFIX}"
        for field in [k for k in read if k.startswith(f"{typed}--")]:
            del read[field]
        if read.get(typed) and read.get(key) not in (None, *(option.get("choices") or {})):
            read[key] = "unlisted_choice"
    return read
