"""The settings pages: server-rendered forms that work without JavaScript.

Every form carries the version it was rendered from; saving from an older version is
refused and the form comes back with what was typed, so nothing is lost. Every form post
needs the XSRF token (HubOAuth checks it).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

from jupyterhub.utils import url_path_join
from tornado import web

from ...settings import SettingsError, profiles_for_groups
from ...settings.announcement import PAGES, announcement_html, render_markdown
from ...settings.diff import describe_value, diff_documents
from ...settings.quantities import format_cpu, format_memory
from ...spawner.form import render_profile_form, resources_in_words
from . import forms
from .editor import MAX_COMMENT_LENGTH, MAX_VERSION, SaveConflict, SaveRefused, UnknownVersion
from .handlers import EditorHandler

TABS = (
    ("profiles", "Profiles", ""),
    ("announcement", "Announcement", "announcement"),
    ("branding", "Branding", "branding"),
    ("preview", "Preview", "preview"),
    ("history", "History", "history"),
)
HISTORY_PAGE = 50


class PageHandler(EditorHandler):
    tab = "profiles"

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")

    def url(self, path: str = "", **query: Any) -> str:
        url = url_path_join(self.service.prefix, path) if path else self.service.prefix
        pairs = [(k, v) for k, v in query.items() if v is not None]
        return url + ("?" + urlencode(pairs, doseq=True) if pairs else "")

    def arg(self, name: str) -> str:
        """A posted field as text (``""`` when absent); NUL characters dropped."""
        value = self.get_body_argument(name, "", strip=False)
        return value.replace("\x00", "")

    def args(self, name: str) -> list[str]:
        return [v.replace("\x00", "") for v in self.get_body_arguments(name, strip=False)]

    def posted_version(self) -> int:
        text = self.arg("version").strip()
        if not text.isdigit() or len(text) > 10 or int(text) > MAX_VERSION:
            raise web.HTTPError(
                400, "The form did not say which version it was made from. Reload the page."
            )
        return int(text)

    def posted_comment(self, default: str) -> str:
        comment = " ".join(self.arg("comment").split())
        return (comment or default)[:MAX_COMMENT_LENGTH]

    def flash(self) -> dict[str, Any] | None:
        """The message after a redirect from a successful save (``?saved=N``)."""
        text = self.get_query_argument("saved", "")
        if not (text.isdigit() and 0 < len(text) <= 10 and int(text) <= MAX_VERSION):
            return None
        try:
            return self.editor.summary(int(text))
        except UnknownVersion:
            return None

    def conflict_message(self, e: SaveConflict) -> dict[str, Any]:
        try:
            latest = self.editor.summary(e.current) if e.current else None
        except UnknownVersion:
            latest = None
        return {
            "expected": e.expected,
            "current": e.current,
            "latest": latest,
            "diff_url": self.url("history/diff", **{"from": e.expected, "to": e.current}),
        }

    def document_at(self, version: int, fallback: dict) -> dict:
        """The resolved settings of ``version`` (a form's starting point), else ``fallback``."""
        try:
            return self.editor.resolved_at(version)
        except UnknownVersion:
            return fallback

    @staticmethod
    def clash_notes(clashes, theirs: dict, field_of) -> dict[str, list[str]]:
        """A note at each field both you and the other editor changed (yours is kept)."""
        notes: dict[str, list[str]] = {}
        for path in clashes:
            field = field_of(path)
            if field:
                value = theirs
                for key in path:
                    value = value.get(key) if isinstance(value, dict) else None
                shown = value if isinstance(value, str) else json.dumps(value)
                notes.setdefault(field, []).append(
                    f"Also changed meanwhile, to “{shown[:200]}”. Yours is kept below."
                )
        return notes

    async def hub_groups(self) -> list[str]:
        return await self.service.groups.names()

    def render_page(self, template: str, **ns: Any) -> None:
        current = ns.pop("current", None) or self.editor.current()
        latest = None
        if current.version:
            try:
                latest = self.editor.summary(current.version)
            except UnknownVersion:
                latest = None
        context = {
            "tabs": [(key, title, self.url(path)) for key, title, path in TABS],
            "tab": self.tab,
            "url": self.url,
            "version": current.version,
            "latest": latest,
            "document": current.document,
            "flash": self.flash(),
            "conflict": None,
            "general_errors": [],
            "field_errors": {},
            "ceilings": ceilings_in_words(self.editor.ceilings),
            "max_comment": MAX_COMMENT_LENGTH,
            "field_notes": {},
            "blank_choice": forms.blank_choice(),
            "rows": forms.text_rows,
        }
        context.update(ns)
        self.write(self.render_template(f"service/config/{template}", **context))

    async def save(self, document: dict, *, comment: str, expected: int, action: str):
        return await self.run_blocking(
            self.editor.save,
            document,
            author=self.author,
            comment=comment,
            expected_version=expected,
            action=action,
        )

    def saved_redirect(self, path: str, version: int, next_url: str | None = None) -> None:
        default = self.url(path, saved=version)
        target = forms.safe_next(next_url, self.service.prefix, default)
        if target != default:
            separator = "&" if "?" in target else "?"
            target = f"{target}{separator}saved={version}"
        self.redirect(target)


def ceilings_in_words(ceilings) -> dict[str, str]:
    words = {}
    if ceilings.cpu_guarantee is not None:
        words["cpu_guarantee"] = f"at most {format_cpu(ceilings.cpu_guarantee)}"
    if ceilings.cpu_limit is not None:
        words["cpu_limit"] = f"at most {format_cpu(ceilings.cpu_limit)}"
    if ceilings.mem_guarantee is not None:
        words["mem_guarantee"] = f"at most {format_memory(ceilings.mem_guarantee)}"
    if ceilings.mem_limit is not None:
        words["mem_limit"] = f"at most {format_memory(ceilings.mem_limit)}"
    if ceilings.gpu_limit is not None:
        words["gpu_limit"] = f"at most {ceilings.gpu_limit}"
        words["gpu_guarantee"] = f"at most {ceilings.gpu_limit}"
    if ceilings.image_patterns is not None:
        words["image"] = (
            "must match one of: " + ", ".join(ceilings.image_patterns)
            if ceilings.image_patterns
            else "the operator allows no image"
        )
    if ceilings.node_selectors is not None:
        words["node_selectors"] = "; ".join(
            ", ".join(f"{k}={v}" for k, v in selector) for selector in ceilings.node_selectors
        )
    return words


def profile_card(profile: dict) -> dict[str, Any]:
    override = profile.get("kubespawner_override") or {}
    options = []
    for key, option in (profile.get("profile_options") or {}).items():
        choices = option.get("choices") or {}
        unlisted = option.get("unlisted_choice") or {}
        options.append(
            {
                "key": key,
                "display_name": option.get("display_name") or key,
                "choices": [
                    {
                        "display_name": c.get("display_name") or k,
                        "groups": c.get("allowed_groups") or [],
                        "image": (c.get("kubespawner_override") or {}).get("image"),
                    }
                    for k, c in choices.items()
                ],
                "unlisted": bool(unlisted.get("enabled")),
                "unlisted_groups": unlisted.get("allowed_groups") or [],
            }
        )
    try:
        resources = resources_in_words(override)
    except (TypeError, ValueError):
        resources = []
    return {
        "profile": profile,
        "resources": resources,
        "image": override.get("image"),
        "options": options,
        "idle": forms.minutes_text(profile.get("idle_timeout")),
    }


# -- profiles -------------------------------------------------------------------------------


class ProfilesPage(PageHandler):
    """The profile list: cards with edit, duplicate, reorder, default and delete."""

    def get(self):
        self.show()

    def show(self, current=None, **ns):
        current = current or self.editor.current()
        cards = [profile_card(p) for p in current.profiles]
        self.render_page("index.html", current=current, cards=cards, **ns)

    async def post(self):
        expected = self.posted_version()
        slug = self.arg("slug")
        action = self.arg("do")
        current = self.editor.current()
        if current.version != expected:
            self.set_status(409)
            self.show(
                current, conflict=self.conflict_message(SaveConflict(expected, current.version))
            )
            return
        document = copy.deepcopy(current.document)
        profiles = document.get("profiles") or []
        try:
            name = next((p.get("display_name") or slug) for p in profiles if p.get("slug") == slug)
        except StopIteration:
            raise web.HTTPError(404, "There is no profile '%s'.", slug[:100]) from None
        changes = {
            "up": (partial(forms.move_profile, delta=-1), f"Moved profile '{name}' up"),
            "down": (partial(forms.move_profile, delta=1), f"Moved profile '{name}' down"),
            "default": (forms.make_default, f"Made profile '{name}' the default"),
            "delete": (forms.delete_profile, f"Deleted profile '{name}'"),
        }
        if action not in changes:
            raise web.HTTPError(400, "Unknown action.")
        change, comment = changes[action]
        document["profiles"] = change(profiles, slug)
        try:
            saved = await self.save(document, comment=comment, expected=expected, action=action)
        except SaveConflict as e:
            self.set_status(409)
            self.show(conflict=self.conflict_message(e))
            return
        except SaveRefused as e:
            self.set_status(400)
            self.show(general_errors=e.errors)
            return
        self.saved_redirect("", saved.version)


class ProfileEditPage(PageHandler):
    """Add, duplicate or edit one profile."""

    async def get(self, slug: str | None = None):
        current = self.editor.current()
        profiles = current.profiles
        if slug is None:
            copy_of = self.get_query_argument("copy_of", "")
            source = next((p for p in profiles if p.get("slug") == copy_of), None)
            if copy_of and source is None:
                raise web.HTTPError(404, "There is no profile '%s' to copy.", copy_of[:100])
            taken = {p.get("slug") for p in profiles}
            profile = forms.copy_for_duplicate(source, taken) if source else {}
            view = forms.profile_to_view(profile)
            if not source:
                view["default"] = not profiles
        else:
            profile = next((p for p in profiles if p.get("slug") == slug), None)
            if profile is None:
                raise web.HTTPError(404, "There is no profile '%s'.", slug[:100])
            view = forms.profile_to_view(profile)
        await self.show(view, slug, current=current)

    async def show(self, view: dict, original_slug: str | None, **ns):
        current = ns.pop("current", None) or self.editor.current()
        version = ns.pop("form_version", current.version)
        groups = await self.hub_groups()
        referenced = sorted(
            {g for p in current.profiles for g in (p.get("allowed_groups") or [])}, key=str.casefold
        )
        suggestions = sorted(set(groups) | set(referenced), key=str.casefold)
        self.render_page(
            "profile.html",
            current=current,
            form_version=version,
            view=view,
            original_slug=original_slug,
            hub_groups=groups,
            group_suggestions=suggestions,
            next_url=forms.safe_next(self.get_argument("next", ""), self.service.prefix, ""),
            comment=self.arg("comment") if self.request.method == "POST" else "",
            form_action=self.request.path,
            **ns,
        )

    async def post(self, slug: str | None = None):
        expected = self.posted_version()
        view = forms.view_from_form(self.arg)
        action = self.arg("do") or "save"
        if action.startswith("add-choice:"):
            index = action.partition(":")[2]
            if index.isdigit():
                forms.add_choice_row(view, int(index))
            await self.show(view, slug, form_version=expected)
            return
        if action == "add-option":
            forms.add_option(view)
            await self.show(view, slug, form_version=expected)
            return
        profile, fields, field_errors = forms.view_to_profile(view)
        current = self.editor.current()
        # a profile someone else deleted meanwhile is added again, after the conflict notice
        others = [p for p in current.profiles if p.get("slug") != slug]
        if profile.get("slug") and any(p.get("slug") == profile["slug"] for p in others):
            field_errors.setdefault("slug", []).append(
                f"another profile uses the slug '{profile['slug']}' already"
            )
        if field_errors:
            self.set_status(400)
            await self.show(view, slug, form_version=expected, field_errors=field_errors)
            return
        if current.version != expected:
            await self.show_merged(profile, fields, slug, expected, current.version)
            return
        document = copy.deepcopy(current.document)
        document["profiles"], index = forms.put_profile(
            document.get("profiles") or [], profile, slug
        )
        what = "Added" if slug is None else "Edited"
        comment = self.posted_comment(f"{what} profile '{profile['display_name']}'")
        try:
            saved = await self.save(document, comment=comment, expected=expected, action="profile")
        except SaveConflict as e:
            await self.show_merged(profile, fields, slug, expected, e.current)
            return
        except SaveRefused as e:
            by_field, rest = forms.place_errors(e.errors, f"/profiles/{index}", fields)
            self.set_status(400)
            await self.show(
                view,
                slug,
                form_version=expected,
                field_errors=by_field,
                general_errors=[describe_error(err, document) for err in rest],
            )
            return
        self.saved_redirect("", saved.version, self.get_argument("next", ""))

    async def show_merged(
        self, mine: dict, fields: dict[str, str], slug: str | None, expected: int, newer: int
    ) -> None:
        """Someone saved since this form was opened: show it again with my changes over
        theirs, from the newest version, so that saving again loses neither."""
        current = self.editor.current()

        def find(document: dict) -> dict | None:
            return next(
                (p for p in document.get("profiles") or [] if slug and p.get("slug") == slug),
                None,
            )

        base = find(self.document_at(expected, current.document)) or {}
        theirs = find(current.document) or base  # deleted meanwhile: saving adds it again
        merged, clashes = forms.three_way(base, mine, theirs)
        notes = self.clash_notes(
            clashes, theirs, lambda path: forms.field_for("/" + "/".join(path), fields)
        )
        self.set_status(409)
        await self.show(
            forms.profile_to_view(merged or mine),
            slug,
            current=current,
            conflict=self.conflict_message(SaveConflict(expected, max(newer, current.version))),
            field_notes=notes,
        )


def describe_error(error: SettingsError, document: dict) -> SettingsError:
    """An error not next to a field of this form, with the profile it is in named."""
    parts = error.path.split("/")
    if len(parts) > 2 and parts[1] == "profiles" and parts[2].isdigit():
        profiles = document.get("profiles") or []
        index = int(parts[2])
        if index < len(profiles):
            name = profiles[index].get("display_name") or profiles[index].get("slug")
            return SettingsError(error.path, f"profile '{name}': {error.message}")
    return error


# -- announcement and branding --------------------------------------------------------------


class SectionPage(PageHandler):
    """A page that edits one section of the document: the announcement or the branding."""

    #: the document's key, also the tab and the log's action
    section: str
    #: field name -> JSON pointer tail, to show errors next to their field
    field_map: dict
    #: the section as the form shows it
    to_view = staticmethod(lambda section: section)

    def show(self, view: dict, **ns):  # pragma: no cover - each page has its own
        raise NotImplementedError

    async def save_section(self, value: dict, view: dict, expected: int, default: str) -> None:
        """Save ``value`` as the section: redirect when saved, else show why (409, 400)."""
        document = copy.deepcopy(self.editor.current().document)
        document[self.section] = value
        try:
            saved = await self.save(
                document,
                comment=self.posted_comment(default),
                expected=expected,
                action=self.section,
            )
        except SaveConflict as e:
            # someone saved first: their changes where the form left a field as it was
            current = self.editor.current()
            base = self.to_view(self.document_at(expected, current.document).get(self.section))
            theirs = self.to_view(current.document.get(self.section))
            merged, clashes = forms.three_way(base, view, theirs)
            self.set_status(409)
            self.show(
                merged,
                current=current,
                conflict=self.conflict_message(e),
                field_notes=self.clash_notes(clashes, theirs, lambda path: path[0]),
            )
            return
        except SaveRefused as e:
            by_field, rest = forms.place_errors(e.errors, f"/{self.section}", self.field_map)
            self.set_status(400)
            self.show(
                view,
                form_version=expected,
                field_errors=by_field,
                general_errors=[describe_error(err, document) for err in rest],
            )
            return
        self.saved_redirect(self.section, saved.version)


class AnnouncementPage(SectionPage):
    tab = section = "announcement"
    field_map = forms.ANNOUNCEMENT_FIELDS
    to_view = staticmethod(forms.announcement_to_view)

    def get(self):
        current = self.editor.current()
        announcement = current.document.get("announcement") or {}
        self.show(forms.announcement_to_view(announcement), current=current)

    def show(self, view: dict, **ns):
        current = ns.pop("current", None) or self.editor.current()
        announcement = current.document.get("announcement") or {}
        preview_text = ns.pop("preview_text", None)
        self.render_page(
            "announcement.html",
            current=current,
            form_version=ns.pop("form_version", current.version),
            view=view,
            pages=PAGES,
            state=forms.announcement_state(announcement, datetime.now(timezone.utc)),
            live_html={page: announcement_html(announcement, page) for page in PAGES},
            preview_html=render_markdown(preview_text) if preview_text else "",
            comment=self.arg("comment") if self.request.method == "POST" else "",
            **ns,
        )

    async def post(self):
        expected = self.posted_version()
        announcement, view, field_errors = forms.announcement_from_form(self.arg, self.args)
        action = self.arg("do") or "save"
        if action == "preview":
            self.show(view, form_version=expected, preview_text=announcement["text"])
            return
        if action == "clear":
            announcement["text"] = ""
            view["text"] = ""
        if field_errors:
            self.set_status(400)
            self.show(view, form_version=expected, field_errors=field_errors)
            return
        default = "Removed the announcement" if not announcement["text"] else "Set the announcement"
        await self.save_section(announcement, view, expected, default)


class BrandingPage(SectionPage):
    tab = section = "branding"
    field_map = forms.BRANDING_FIELD_MAP
    to_view = staticmethod(forms.branding_to_view)

    def get(self):
        current = self.editor.current()
        self.show(forms.branding_to_view(current.document.get("branding")), current=current)

    def show(self, view: dict, **ns):
        current = ns.pop("current", None) or self.editor.current()
        self.render_page(
            "branding.html",
            current=current,
            form_version=ns.pop("form_version", current.version),
            view=view,
            comment=self.arg("comment") if self.request.method == "POST" else "",
            **ns,
        )

    async def post(self):
        expected = self.posted_version()
        branding = forms.branding_from_form(self.arg)
        view = dict(branding)
        await self.save_section(branding, view, expected, "Changed the branding")


# -- preview --------------------------------------------------------------------------------


class PreviewPage(PageHandler):
    """The spawn page's profile cards as members of some groups see them."""

    tab = "preview"

    async def get(self):
        current = self.editor.current()
        chosen = [g for g in self.get_query_arguments("group") if g.strip()][:50]
        hub_groups = await self.hub_groups()
        referenced = {g for p in current.profiles for g in (p.get("allowed_groups") or [])}
        for profile in current.profiles:
            for option in (profile.get("profile_options") or {}).values():
                for choice in (option.get("choices") or {}).values():
                    referenced.update(choice.get("allowed_groups") or [])
                referenced.update((option.get("unlisted_choice") or {}).get("allowed_groups") or [])
        groups = sorted(set(hub_groups) | referenced | set(chosen), key=str.casefold)
        visible = profiles_for_groups(current.profiles, chosen)
        self.render_page(
            "preview.html",
            current=current,
            groups=groups,
            chosen=chosen,
            visible=visible,
            form_html=render_profile_form(
                visible, {}, image_applies=self.service.suite_config.get("spawner") != "local"
            )
            if visible
            else "",
            announcement_html=announcement_html(current.document.get("announcement"), "spawn"),
        )


# -- history --------------------------------------------------------------------------------


class HistoryPage(PageHandler):
    tab = "history"

    def get(self):
        self.show()

    def show(self, **ns):
        before_text = self.get_query_argument("before", "")
        before = (
            int(before_text)
            if before_text.isdigit() and len(before_text) <= 10 and int(before_text) <= MAX_VERSION
            else None
        )
        records = self.editor.store.history(limit=HISTORY_PAGE, before=before)
        versions = [r.summary() for r in records]
        more = len(versions) == HISTORY_PAGE and versions[-1]["version"] > 1
        current = self.editor.current()
        self.render_page(
            "history.html",
            current=current,
            versions=versions,
            show_version_0=not more,
            older_url=self.url("history", before=versions[-1]["version"]) if more else None,
            **ns,
        )


class RestorePage(PageHandler):
    tab = "history"

    async def post(self, version_text: str):
        expected = self.posted_version()
        version = int(version_text) if len(version_text) <= 10 else MAX_VERSION + 1
        comment = " ".join(self.arg("comment").split())[:MAX_COMMENT_LENGTH]
        try:
            saved = await self.run_blocking(
                self.editor.restore,
                version,
                author=self.author,
                comment=comment,
                expected_version=expected,
            )
        except UnknownVersion as e:
            raise web.HTTPError(404, str(e)) from None
        except SaveConflict as e:
            self.set_status(409)
            HistoryPage.show(self, conflict=self.conflict_message(e))
            return
        except SaveRefused as e:
            self.set_status(400)
            HistoryPage.show(
                self,
                general_errors=e.errors,
                refused_restore=version,
            )
            return
        self.saved_redirect("history", saved.version)


class DiffPage(PageHandler):
    tab = "history"

    def get(self):
        current = self.editor.current()

        def version_arg(name: str, default: int) -> int:
            text = self.get_query_argument(name, "")
            if not text:
                return default
            if not text.isdigit() or len(text) > 10 or int(text) > MAX_VERSION:
                raise web.HTTPError(400, f"'{name}' must be a version number.")
            return int(text)

        to = version_arg("to", current.version)
        start = version_arg("from", max(0, to - 1))
        try:
            old, new = self.editor.resolved_at(start), self.editor.resolved_at(to)
            old_summary, new_summary = self.editor.summary(start), self.editor.summary(to)
        except UnknownVersion as e:
            raise web.HTTPError(404, str(e)) from None
        changes = diff_documents(old, new)
        versions = [r.summary() for r in self.editor.store.history(limit=200)]
        self.render_page(
            "diff.html",
            current=current,
            start=old_summary,
            end=new_summary,
            changes=changes,
            describe=describe_value,
            versions=versions,
            document_json=json.dumps(new, indent=2, sort_keys=False, ensure_ascii=False),
            quote=quote,
        )
