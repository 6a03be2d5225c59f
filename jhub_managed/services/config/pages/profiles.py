"""The Profiles tab: the list of profiles, and the form that adds or edits one."""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

from tornado import web

from ....settings import merge
from ....settings.forms import profiles as profile_forms
from ....settings.forms.fields import field_for, minutes_text, place_errors
from ....spawn_form import resources_in_words
from ...redirects import safe_next
from ..editor import SaveConflict, SaveRefused
from ..groups import HubGroups
from .base import PageHandler, describe_error


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
        "idle": minutes_text(profile.get("idle_timeout")),
    }


# -- profiles -------------------------------------------------------------------------------


class ProfilesPage(PageHandler):
    """The profile list: cards with edit, duplicate, reorder, default and delete."""

    def get(self):
        self.show()

    def show(self, current=None, **ns):
        current = current or self.editor.current()
        cards = [profile_card(p) for p in current.profiles]
        # profiles a version that reached the store another way gave keys only the operator
        # may set: the spawner doesn't offer them, and this says why
        for index, errors in self.editor.refused_profiles(current.document).items():
            cards[index]["not_offered"] = [e.message for e in errors]
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
            "up": (partial(merge.move_profile, delta=-1), f"Moved profile '{name}' up"),
            "down": (partial(merge.move_profile, delta=1), f"Moved profile '{name}' down"),
            "default": (merge.make_default, f"Made profile '{name}' the default"),
            "delete": (merge.delete_profile, f"Deleted profile '{name}'"),
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

    def initialize(self, groups: HubGroups, image_applies: bool = True, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        #: the hub's groups, suggested for ``allowed_groups``
        self.groups = groups
        #: whether images mean anything to this hub's spawner (not on the local one): when
        #: not, the form has no image fields (and keeps the images a profile has)
        self.image_applies = image_applies

    async def get(self, slug: str | None = None):
        current = self.editor.current()
        profiles = current.profiles
        if slug is None:
            copy_of = self.get_query_argument("copy_of", "")
            source = next((p for p in profiles if p.get("slug") == copy_of), None)
            if copy_of and source is None:
                raise web.HTTPError(404, "There is no profile '%s' to copy.", copy_of[:100])
            taken = {p.get("slug") for p in profiles}
            profile = profile_forms.copy_for_duplicate(source, taken) if source else {}
            view = profile_forms.profile_to_view(profile)
            if not source:
                view["default"] = not profiles
        else:
            profile = next((p for p in profiles if p.get("slug") == slug), None)
            if profile is None:
                raise web.HTTPError(404, "There is no profile '%s'.", slug[:100])
            view = profile_forms.profile_to_view(profile)
        await self.show(view, slug, current=current)

    async def show(self, view: dict, original_slug: str | None, **ns):
        current = ns.pop("current", None) or self.editor.current()
        version = ns.pop("form_version", current.version)
        groups = await self.groups.names()
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
            next_url=safe_next(self.get_argument("next", ""), self.prefix, ""),
            comment=self.arg("comment") if self.request.method == "POST" else "",
            form_action=self.request.path,
            image_applies=self.image_applies,
            **ns,
        )

    async def post(self, slug: str | None = None):
        expected = self.posted_version()
        view = profile_forms.view_from_form(self.arg)
        action = self.arg("do") or "save"
        if action.startswith("add-choice:"):
            index = action.partition(":")[2]
            if index.isdigit():
                profile_forms.add_choice_row(view, int(index))
            await self.show(view, slug, form_version=expected)
            return
        if action == "add-option":
            profile_forms.add_option(view)
            await self.show(view, slug, form_version=expected)
            return
        current = self.editor.current()
        original = next((p for p in current.profiles if slug and p.get("slug") == slug), None)
        profile, fields, field_errors = profile_forms.view_to_profile(view, original)
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
        document["profiles"], index = merge.put_profile(
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
            by_field, rest = place_errors(e.errors, f"/profiles/{index}", fields)
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
        merged, clashes = merge.three_way(base, mine, theirs)
        notes = self.clash_notes(
            clashes, theirs, lambda path: field_for("/" + "/".join(path), fields)
        )
        self.set_status(409)
        await self.show(
            profile_forms.profile_to_view(merged or mine),
            slug,
            current=current,
            conflict=self.conflict_message(SaveConflict(expected, max(newer, current.version))),
            field_notes=notes,
        )
