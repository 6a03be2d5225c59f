"""The Preview tab: the spawn page as members of some groups see it."""

from __future__ import annotations

from typing import Any

from ....settings import profiles_for_groups
from ....settings.announcement import announcement_html
from ....spawn_form import render_profile_form
from ..groups import HubGroups
from .base import PageHandler


class PreviewPage(PageHandler):
    """The spawn page's profile cards as members of some groups see them."""

    tab = "preview"

    def initialize(self, groups: HubGroups, image_applies: bool, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        self.groups = groups
        #: whether a profile's image means anything to this hub's spawner
        self.image_applies = image_applies

    async def get(self):
        current = self.editor.current()
        chosen = [g for g in self.get_query_arguments("group") if g.strip()][:50]
        hub_groups = await self.groups.names()
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
            form_html=render_profile_form(visible, {}, image_applies=self.image_applies)
            if visible
            else "",
            announcement_html=announcement_html(current.document.get("announcement"), "spawn"),
        )
