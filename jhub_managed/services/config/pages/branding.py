"""The Branding tab: the organization's name, address, logo and contact on the hub."""

from __future__ import annotations

from ....settings.forms import branding as branding_forms
from .sections import SectionPage


class BrandingPage(SectionPage):
    tab = section = "branding"
    field_map = branding_forms.BRANDING_FIELD_MAP
    to_view = staticmethod(branding_forms.branding_to_view)

    def get(self):
        current = self.editor.current()
        self.show(
            branding_forms.branding_to_view(current.document.get("branding")), current=current
        )

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
        branding = branding_forms.branding_from_form(self.arg)
        view = dict(branding)
        await self.save_section(branding, view, expected, "Changed the branding")
