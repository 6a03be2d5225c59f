"""The settings pages, one module per tab; server-rendered forms that work without
JavaScript."""

from .announcement import AnnouncementPage
from .branding import BrandingPage
from .budgets import BudgetsPage
from .history import DiffPage, HistoryPage, RestorePage
from .preview import PreviewPage
from .profiles import ProfileEditPage, ProfilesPage

__all__ = [
    "AnnouncementPage",
    "BrandingPage",
    "BudgetsPage",
    "DiffPage",
    "HistoryPage",
    "PreviewPage",
    "ProfileEditPage",
    "ProfilesPage",
    "RestorePage",
]
