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

from ..compat.jupyterhub import spawner_log_name
from ..options.legacy import legacy_spawner_options
from ..options.managedhub import ManagedHub
from ..settings import (
    Ceilings,
    ProfileRequestError,
    ProfileSelection,
    override_errors,
    profiles_for_groups,
    select_profile,
)
from ..settings.allowlist import AdminAllowList, refused_profiles
from ..spawn_form import operator_form_template, render_operator_form, render_profile_form
from ..store.source import LayeredSnapshot, SettingsSnapshot, SettingsSource
from .configured import MAX_REMEMBERED_LISTS, ConfiguredProfilesError, check_configured_profiles
from .options import options_from_form, typed_values_as_kubespawner_reads_them, without_opt_prefix
from .refusal import SpawnRefused, describe_selection, log_refusal
from .usage_events import UsageEventHooks


class SpawnRequestRefused(web.HTTPError, ValueError):
    """A spawn request refused with 400/403; also a ``ValueError``, which is what
    KubeSpawner raises for options it refuses."""


class ManagedSpawnerMixin(UsageEventHooks, Configurable):
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
        data = without_opt_prefix(query_data)
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
        report = self.managed_hub.spawn_report
        if report is not None:
            report.note_spawn(self.settings_source, profile=profile, refused=refused)

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
            spawner_log_name(self),
            selection.slug,
            describe_selection(selection.choices, selection.unlisted),
        )

    def apply_override(self, override: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- usage: exact starts and stops (the hooks are in usage_events.py) ---------------------

    usage_events = Bool(
        config=True,
        help="""Record each server's start and stop in the usage store, from the spawner
        (exact times). By default, when the usage service runs (``ManagedHub.services``).""",
    )

    @default("usage_events")
    def _default_usage_events(self):
        return "usage" in self.managed_hub.services


#: kept importable from here, where they were first
__all__ = [
    "MAX_REMEMBERED_LISTS",
    "ConfiguredProfilesError",
    "ManagedSpawnerMixin",
    "SpawnRequestRefused",
    "check_configured_profiles",
    "options_from_form",
]
