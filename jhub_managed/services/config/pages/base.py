"""What every settings page shares: the tabs, forms that carry their version, saving in
the writer thread, conflict notices, and the ceilings in words.

Every form carries the version it was rendered from; saving from an older version is
refused and the form comes back with what was typed, so nothing is lost. Every form post
needs the XSRF token (HubOAuth checks it).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from jupyterhub.utils import url_path_join
from sqlalchemy.exc import SQLAlchemyError
from tornado import web

from ....settings import SettingsError
from ....settings.forms.fields import text_rows
from ....settings.forms.profiles import blank_choice
from ....settings.quantities import format_cpu, format_memory
from ....settings.versions import parse_version
from ...redirects import safe_next
from ..editor import MAX_COMMENT_LENGTH, SaveConflict, UnknownVersion
from ..handlers import EditorHandler

TABS = (
    ("profiles", "Profiles", ""),
    ("announcement", "Announcement", "announcement"),
    ("branding", "Branding", "branding"),
    ("budgets", "Budgets", "budgets"),
    ("preview", "Preview", "preview"),
    ("history", "History", "history"),
)


class PageHandler(EditorHandler):
    tab = "profiles"

    def initialize(self, prefix: str, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        #: where the service's pages live, e.g. ``/services/config/``
        self.prefix = prefix

    def url(self, path: str = "", **query: Any) -> str:
        url = url_path_join(self.prefix, path) if path else self.prefix
        pairs = [(k, v) for k, v in query.items() if v is not None]
        return url + ("?" + urlencode(pairs, doseq=True) if pairs else "")

    def arg(self, name: str) -> str:
        """A posted field as text (``""`` when absent); NUL characters dropped."""
        value = self.get_body_argument(name, "", strip=False)
        return value.replace("\x00", "")

    def args(self, name: str) -> list[str]:
        return [v.replace("\x00", "") for v in self.get_body_arguments(name, strip=False)]

    def posted_version(self) -> int:
        version = parse_version(self.arg("version"))
        if version is None:
            raise web.HTTPError(
                400, "The form did not say which version it was made from. Reload the page."
            )
        return version

    def posted_comment(self, default: str) -> str:
        comment = " ".join(self.arg("comment").split())
        return (comment or default)[:MAX_COMMENT_LENGTH]

    def flash(self) -> dict[str, Any] | None:
        """The message after a redirect from a successful save (``?saved=N``)."""
        version = parse_version(self.get_query_argument("saved", ""))
        if version is None:
            return None
        try:
            return self.editor.summary(version)
        except (UnknownVersion, SQLAlchemyError):
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

    def render_page(self, template: str, **ns: Any) -> None:
        current = ns.pop("current", None) or self.editor.current()
        latest = None
        store_down = self.editor.source.last_error is not None
        if current.version and not store_down:
            try:
                latest = self.editor.summary(current.version)
            except UnknownVersion:
                latest = None
            except SQLAlchemyError:
                store_down = True
        context = {
            # the store can't be read: the page shows the last settings read, and says so
            "store_down": store_down,
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
            "blank_choice": blank_choice(),
            "rows": text_rows,
            "deployed_at": self.editor.deployed_at,
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
        target = safe_next(next_url, self.prefix, default)
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
