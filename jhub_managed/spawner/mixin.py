"""What the managed spawners share: profiles from the settings store, filtered by group,
validated on the server, applied before start."""

from __future__ import annotations

import inspect
import json
from typing import Any, ClassVar

from sqlalchemy.orm import object_session
from tornado import web
from traitlets import Bool, Instance, default, observe
from traitlets.config import Configurable

from ..hub import ManagedHub, legacy_spawner_options
from ..services.health import spawnreport
from ..settings import (
    Ceilings,
    ProfileRequestError,
    ProfileSelection,
    document_errors,
    override_errors,
    profiles_for_groups,
    select_profile,
)
from ..settings.allowlist import AdminAllowList, refused_profiles
from ..settings.profiles import UNLISTED_SUFFIX
from ..spawn_form import operator_form_template, render_operator_form, render_profile_form
from ..store.attribution import DEFAULT_CHECK_USER
from ..store.source import LayeredSnapshot, SettingsSnapshot, SettingsSource
from .refusal import SpawnRefused, describe_selection, log_refusal
from .usage_events import RESOURCE_TRAITS, UsageEvents, session_facts


class SpawnRequestRefused(web.HTTPError, ValueError):
    """A spawn request refused with 400/403; also a ``ValueError``, which is what
    KubeSpawner raises for options it refuses."""


class ManagedSpawnerMixin(Configurable):
    """Profiles that hub admins edit, restricted by group, bounded by operator ceilings.

    Mixed in before a JupyterHub spawner class. The profile logic itself lives in
    :mod:`jhub_managed.settings`; this class reads the settings and applies the selection.
    """

    managed_hub = Instance(
        ManagedHub,
        config=True,
        help="""The suite's options (:class:`jhub_managed.hub.ManagedHub`): the store, the
        settings layers, the operator's ceilings, the hub's name, what hub admins may
        override and the shared directory.

        Set by :func:`jhub_managed.hub.configure` to the object it made, which the hub's
        services rebuild from their environment: the options are declared and checked once.
        For a spawner configured by hand, made from ``c.ManagedHub.<option>``. The options
        this class used to take itself (``settings_db_url``, ``hub_name``,
        ``operator_defaults``, ``hub_values``, ``ceilings``, ``hub_admin_override_keys``,
        ``shared_storage``) are deprecated; when still set, they are put over these,
        checked the same way.
        """,
    )

    @default("managed_hub")
    def _default_managed_hub(self):
        return ManagedHub.from_config(self.config)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # made now for a spawner configured by hand: a wrong option stops it here
        hub = self.managed_hub
        sections = [cls.__name__ for cls in reversed(type(self).__mro__)]
        legacy = legacy_spawner_options(self.config, sections)
        if legacy:
            self.managed_hub = hub.with_spawner_options(legacy, self.log)

    settings_snapshot = Instance(
        SettingsSnapshot,
        allow_none=True,
        config=True,
        help="""The hub's settings snapshot, shared by every spawner and the hub's pages.

        Set by :func:`jhub_managed.hub.configure`, which makes it when the hub starts. Without
        it (a spawner configured by hand), each spawner reads the store itself, on every read.
        """,
    )

    _own_source: SettingsSource | LayeredSnapshot | None = None
    _ceilings: Ceilings | None = None
    #: the spawner's own profile list from the config (kubespawner's ``profile_list``)
    _configured_profiles: list[dict] | None = None

    @property
    def settings_source(self) -> SettingsSnapshot | LayeredSnapshot | SettingsSource:
        """Where this spawner reads the settings: the hub's snapshot (no I/O), read over the
        config's own profile list when that is this spawner's starting layer; for a spawner
        configured without :func:`~jhub_managed.hub.configure`, a source of its own."""
        own_profiles = self._configured_profiles and not self.managed_hub.hub_values.get("profiles")
        if self.settings_snapshot is not None and not own_profiles:
            return self.settings_snapshot
        if self._own_source is None:
            if self.settings_snapshot is not None:
                self._own_source = self.settings_snapshot.over(self.starting_hub_values())
            else:
                self._own_source = SettingsSource.for_hub(
                    self.managed_hub, hub_values=self.starting_hub_values(), log=self.log
                )
        return self._own_source

    # -- profiles from the spawner's own config ---------------------------------------------

    def starting_hub_values(self) -> dict:
        """``hub_values``, with the config's own profile list as its profiles when it gives
        none: a hub that had ``profile_list`` keeps its profiles, and hub admins edit on top."""
        hub_values = self.managed_hub.hub_values
        if self._configured_profiles and not hub_values.get("profiles"):
            return {**hub_values, "profiles": self._configured_profiles}
        return hub_values

    async def configured_profile_list(self) -> list[dict] | None:
        """The profile list the config gives the spawner class itself; ``None`` for none."""
        return None

    async def load_configured_profiles(self) -> None:
        """Read the config's profile list (a callable is called now), validated as a layer.

        Raises ``HTTPError`` 500 naming the problem when it is not a valid layer: a hub
        operator's mistake, which no spawn should paper over.
        """
        profiles = await self.configured_profile_list()
        if profiles:
            try:
                check_configured_profiles(
                    profiles, self.operator_ceilings, self.managed_hub.valid_profile_lists
                )
            except ConfiguredProfilesError as e:
                raise web.HTTPError(500, str(e), reason="Server Error") from None
            self.managed_hub.report_unknown_keys(profiles, self.log)
        if profiles != self._configured_profiles:
            self._configured_profiles = profiles
            self._own_source = None

    @property
    def operator_ceilings(self) -> Ceilings:
        if self._ceilings is None:
            self._ceilings = Ceilings.from_config(self.managed_hub.ceilings)
        return self._ceilings

    def managed_profiles(self) -> list[dict]:
        """Every profile of the current settings version that may be offered, unfiltered."""
        return self.offered_profiles(self.settings_source.current())

    # -- security: a hub admin's profile never sets what only the operator may --------------

    _screened: tuple[int, int, list[dict]] | None = None

    def offered_profiles(self, current) -> list[dict]:
        """``current``'s profiles without those that set what a hub admin may not.

        Saves are checked already; this catches a version that reached the store another
        way (written to the database directly, or saved under a wider allow-list), so that
        its keys never reach the pod. Such a profile is not offered, and the refusal is
        logged; the settings pages say why.
        """
        screened = self._screened
        if screened and screened[0] == current.version and screened[1] == id(current.document):
            return screened[2]
        refused = refused_profiles(
            current.document,
            self.settings_source.base_document(),
            AdminAllowList.from_config(self.managed_hub.hub_admin_override_keys),
            self.operator_ceilings,
        )
        for index, errors in refused.items():
            self.log.warning(
                "Profile %r of settings version %d is not offered: %s",
                current.profiles[index].get("slug"),
                current.version,
                "; ".join(f"{e.path}: {e.message}" for e in errors),
            )
        offered = [p for i, p in enumerate(current.profiles) if i not in refused]
        self._screened = (current.version, id(current.document), offered)
        return offered

    def user_group_names(self) -> list[str]:
        """The user's hub groups; none for a user object without them."""
        return [g.name for g in getattr(self.user, "groups", None) or []]

    def allowed_profiles(self) -> list[dict]:
        """The profiles this spawner's user may use, trimmed to their allowed choices."""
        return profiles_for_groups(self.managed_profiles(), self.user_group_names())

    # -- the form ---------------------------------------------------------------------------

    #: whether the image of a profile means something on this spawner
    image_applies: ClassVar[bool] = True

    #: the last form this spawner rendered, and what it was rendered from
    _last_form: tuple[tuple, str] | None = None

    def render_profile_form(self, profiles: list[dict], error: str = "") -> str:
        return render_profile_form(
            profiles, self.user_options or {}, image_applies=self.image_applies, error=error
        )

    def _form_for(self, current, groups: list[str], profiles: list[dict]) -> str:
        """The form for these settings, groups and previous options; a reload of the spawn
        page with nothing changed gets the one rendered last."""
        try:
            options = json.dumps(self.user_options or {}, sort_keys=True)
        except (TypeError, ValueError):
            return self.render_profile_form(profiles)
        key = (id(current.document), current.version, tuple(groups), options)
        if self._last_form is not None and self._last_form[0] == key:
            return self._last_form[1]
        html = self.render_profile_form(profiles)
        self._last_form = (key, html)
        return html

    async def managed_options_form(self, spawner=None) -> str:
        await self.load_configured_profiles()
        current = self.settings_source.current()
        if not current.profiles:
            return ""
        groups = self.user_group_names()
        offered = self.offered_profiles(current)
        profiles = profiles_for_groups(offered, groups)
        if not profiles:
            raise SpawnRefused(403, "No profile on this hub is open to you.", self.hub_contact())
        template = operator_form_template(
            getattr(self, "profile_form_template", ""),
            getattr(self, "additional_profile_form_template_paths", None) or [],
        )
        if template is not None:
            return render_operator_form(
                template, profiles, self._options_that_hold(offered, groups)
            )
        return self._form_for(current, groups, profiles)

    def _options_that_hold(self, profiles: list[dict], groups: list[str]) -> dict:
        """The user's last options when this user may still make that request, else ``{}``
        (what the operator's template is given to preselect, as KubeSpawner 7.1 means to)."""
        options = self.user_options
        if not options or not isinstance(options, dict):
            return {}
        try:
            select_profile(profiles, groups, options)
        except ProfileRequestError:
            return {}
        return dict(options)

    def hub_contact(self) -> str:
        """Whom users ask for access: the branding's contact, as hub admins set it."""
        branding = self.settings_source.current().document.get("branding") or {}
        return str(branding.get("contact") or "")

    @default("options_form")
    def _managed_options_form_default(self):
        return ManagedSpawnerMixin.managed_options_form

    @default("options_from_form")
    def _managed_options_from_form_default(self):
        return options_from_form

    def options_from_query(self, query_data):
        """Launch links: ``/hub/spawn?opt-profile=<slug>&opt-<option>=<choice>``.

        Older links say ``profile=<slug>`` without the prefix; JupyterHub drops un-prefixed
        arguments when ``opt-`` ones are present, so the profile is then taken from the
        request itself. The request is checked here, before anything starts.
        """
        data = _without_opt_prefix(query_data)
        handler = getattr(self, "handler", None)
        if "profile" not in data and handler is not None:
            profile = handler.get_query_argument("profile", None)
            if profile:
                data["profile"] = [profile]
        options = options_from_form(data, plain_keys=True)
        self.select(options)
        return options

    async def run_options_from_form(self, form_data):
        """The form's options, checked before anything starts (a refusal re-shows the form
        with the reason, and JupyterHub does not begin a spawn that would fail). The
        config's own profile list is read first: a form may be posted to a spawner that
        never rendered it (the hub restarted while the page was open)."""
        await self.load_configured_profiles()
        options = super().run_options_from_form(form_data)
        if inspect.isawaitable(options):
            options = await options
        if isinstance(options, dict):
            options = typed_values_as_kubespawner_reads_them(self.managed_profiles(), options)
        self.select(options)
        return options

    # -- applying a request -----------------------------------------------------------------

    @default("apply_user_options")
    def _managed_apply_default(self):
        return ManagedSpawnerMixin.apply_managed_options

    managed_selection: ProfileSelection | None = None
    #: the ``user_options`` that ``managed_selection`` was made for
    managed_selection_options: dict | None = None

    def select(self, user_options: dict | None) -> ProfileSelection | None:
        """Validate ``user_options`` for this user; raise ``HTTPError`` 400/403 with why.

        ``None`` when the hub offers no profiles at all: servers start with the spawner's
        own configuration, and there is nothing to choose.
        """
        profiles = self.managed_profiles()
        if not profiles:
            self._report_spawn_to_health("", "")
            chosen = sorted(k for k, v in (user_options or {}).items() if v not in ("", None))
            if chosen:
                raise SpawnRequestRefused(
                    400,
                    f"This hub offers no profiles, so '{chosen[0]}' can't be chosen.",
                    reason="Bad Request",
                )
            return None
        try:
            selection = select_profile(profiles, self.user_group_names(), user_options)
        except ProfileRequestError as e:
            self._refuse(user_options, e.status, e.message)
        errors = override_errors(selection.override, self.operator_ceilings, "")
        message = "; ".join(f"{e.path.strip('/')}: {e.message}" for e in errors)
        self._report_spawn_to_health(selection.slug, message)
        if errors:
            self._refuse(
                user_options, 403, f"This selection is beyond what the hub allows: {message}"
            )
        return selection

    def _report_spawn_to_health(self, profile: str, refused: str) -> None:
        """Tell the health service which settings this spawn used and what was refused."""
        spawnreport.note_spawn(self.settings_source, profile=profile, refused=refused)

    def _refuse(self, user_options: dict | None, status: int, message: str):
        """Log the refusal once, at INFO, and raise it for the user to read."""
        refusal = SpawnRefused(status, message, self.hub_contact() if status == 403 else "")
        profile = (user_options or {}).get("profile") if isinstance(user_options, dict) else None
        log_refusal(self.log, self.user.name, profile, refusal)
        raise refusal

    _previous_user_options: dict | None = None

    @observe("user_options")
    def _remember_previous_options(self, change):
        self._previous_user_options = change.old

    def _forget_refused_options(self) -> None:
        """JupyterHub stores a request's options before they are checked; a refused request
        must change nothing, so the options of the last accepted request are put back."""
        previous = self._previous_user_options
        if not isinstance(previous, dict):  # the first options this spawner was given
            previous = {}
        orm_spawner = getattr(self, "orm_spawner", None)
        if orm_spawner is not None and orm_spawner.user_options != previous:
            orm_spawner.user_options = previous
            session = object_session(orm_spawner)
            if session is not None:
                session.commit()
        self.user_options = previous

    async def apply_managed_options(self, user_options: dict | None) -> None:
        """JupyterHub's ``apply_user_options`` hook: validate, then apply the selection."""
        try:
            await self.load_configured_profiles()
            selection = self.select(user_options)
        except web.HTTPError:
            self._forget_refused_options()
            raise
        self.managed_selection = selection
        self.managed_selection_options = dict(user_options or {})
        if selection is None:
            return
        self.apply_override(selection.override)
        self.log.info(
            "Starting %s with profile %s: %s",
            self._log_name,
            selection.slug,
            describe_selection(selection.choices, selection.unlisted),
        )

    def apply_override(self, override: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- usage: exact starts and stops (the logic is in usage_events.py) ---------------------

    usage_events = Bool(
        config=True,
        help="""Record each server's start and stop in the usage store, from the spawner
        (exact times). By default, when the usage service runs (``ManagedHub.services``).""",
    )

    @default("usage_events")
    def _default_usage_events(self):
        return "usage" in self.managed_hub.services

    _usage_facts = None
    _usage_stop_requested = False
    _usage_seen: tuple = (None, None)

    def _usage_session_facts(self, started):
        """This server's session as the usage store keeps it; ``None`` if it can't be said."""
        try:
            selection = self.managed_selection
            if selection is None and self.user_options and self.managed_profiles():
                try:
                    selection = self.select(self.user_options)
                except Exception:
                    selection = None
            authenticator = getattr(self, "authenticator", None)
            return session_facts(
                user_name=self.user.name,
                server_name=self.name,
                started=started,
                groups=self.user_group_names(),
                user_options=self.user_options,
                profile=selection.profile if selection else None,
                spawner_resources={k: getattr(self, k, None) for k in RESOURCE_TRAITS},
                override=selection.override if selection else None,
                last_activity=self.orm_spawner.last_activity,
                staff_group=getattr(authenticator, "staff_group", self.managed_hub.staff_group),
                check_user=getattr(authenticator, "health_check_user", DEFAULT_CHECK_USER),
            )
        except Exception:
            self.log.exception("Usage: can't describe the session of %s", self._log_name)
            return None

    def run_pre_spawn_hook(self):
        """The hub has set ``started``: the session begins (recorded in the background)."""
        if self.usage_events:
            self._usage_stop_requested = False
            self._usage_facts = self._usage_session_facts(self.orm_spawner.started)
            if self._usage_facts is not None:
                UsageEvents.for_store(self.managed_hub.db_url).started(self._usage_facts)
        return super().run_pre_spawn_hook()

    async def poll(self):
        # the hub clears ``started`` and moves ``last_activity`` before the post-stop hook:
        # remember them while the server is known to run
        orm_spawner = getattr(self, "orm_spawner", None)
        if orm_spawner is not None and orm_spawner.started:
            self._usage_seen = (orm_spawner.started, orm_spawner.last_activity)
        return await super().poll()

    async def stop(self, now=False):
        self._usage_stop_requested = True
        return await super().stop(now=now)

    def run_post_stop_hook(self):
        """The session ends: seen stopping, or found gone (closed at its last activity)."""
        if self.usage_events:
            try:
                facts = self._usage_facts
                started, last_activity = self._usage_seen
                if facts is None and started is not None:
                    facts = self._usage_session_facts(started)
                if facts is not None:
                    UsageEvents.for_store(self.managed_hub.db_url).stopped(
                        facts,
                        seen=self._usage_stop_requested,
                        last_activity=last_activity,
                    )
            except Exception:
                self.log.exception("Usage: can't record the stop of %s", self._log_name)
            self._usage_facts = None
            self._usage_seen = (None, None)
            self._usage_stop_requested = False
        return super().run_post_stop_hook()


#: how many valid configured profile lists a hub remembers (a callable may make one per user)
MAX_REMEMBERED_LISTS = 256


class ConfiguredProfilesError(ValueError):
    """The config's ``profile_list`` is not a valid settings layer (the message says why)."""


def check_configured_profiles(
    profiles: list[dict], ceilings: Ceilings, valid: set[str] | None = None
) -> None:
    """Validate the config's profile list as a settings layer of the operator's.

    The profiles' shape (names, slugs, options, choices, defaults, groups) is checked as in
    every layer; the ``kubespawner_override`` values are the operator's own, which may use
    any KubeSpawner key and value as KubeSpawner takes them (``environment`` entries set to
    ``None`` to remove them, for example), and the ceilings are applied to what a spawn
    selects. ``valid`` remembers lists already found valid (by their JSON), so a spawn pays
    for this once per list. Raises :class:`ConfiguredProfilesError`.
    """
    try:
        key = json.dumps(profiles, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        key = None
    if valid is not None and key is not None and key in valid:
        return
    errors = document_errors({"profiles": _without_overrides(profiles)}, ceilings)
    if errors:
        detail = "; ".join(f"{e.path or '/'}: {e.message}" for e in errors[:5])
        raise ConfiguredProfilesError(
            f"The hub's profile_list is not a valid settings layer: {detail}"
        )
    if valid is not None and key is not None:
        if len(valid) >= MAX_REMEMBERED_LISTS:
            valid.clear()  # a callable making ever new lists: start again, never grow
        valid.add(key)


def _without_overrides(value: Any) -> Any:
    """A copy of ``value`` with every ``kubespawner_override`` emptied."""
    if isinstance(value, dict):
        return {
            k: ({} if k == "kubespawner_override" else _without_overrides(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_overrides(v) for v in value]
    return value


def _reason(status: int) -> str:
    return {400: "Bad Request", 403: "Forbidden"}.get(status, "Error")


def _without_opt_prefix(query_data) -> dict:
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
