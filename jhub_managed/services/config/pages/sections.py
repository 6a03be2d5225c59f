"""Pages that edit one section of the document as a whole: announcement and branding."""

from __future__ import annotations

import copy

from ....settings.forms.fields import place_errors
from ....settings.merge import three_way
from ..editor import SaveConflict, SaveRefused
from .base import PageHandler, describe_error


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
            merged, clashes = three_way(base, view, theirs)
            self.set_status(409)
            self.show(
                merged,
                current=current,
                conflict=self.conflict_message(e),
                field_notes=self.clash_notes(clashes, theirs, lambda path: path[0]),
            )
            return
        except SaveRefused as e:
            by_field, rest = place_errors(e.errors, f"/{self.section}", self.field_map)
            self.set_status(400)
            self.show(
                view,
                form_version=expected,
                field_errors=by_field,
                general_errors=[describe_error(err, document) for err in rest],
            )
            return
        self.saved_redirect(self.section, saved.version)
