"""The settings pages, one module per tab; server-rendered forms that work without
JavaScript."""

from .announcement import AnnouncementPage
from .branding import BrandingPage
from .history import DiffPage, HistoryPage, RestorePage
from .preview import PreviewPage
from .profiles import ProfileEditPage, ProfilesPage

__all__ = [
    "AnnouncementPage",
    "BrandingPage",
    "DiffPage",
    "HistoryPage",
    "PreviewPage",
    "ProfileEditPage",
    "ProfilesPage",
    "RestorePage",
]
