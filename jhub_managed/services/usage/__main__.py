from ..listen import bind_early

bind_early()  # before the application's imports: see services/listen.py

from .app import UsageService  # noqa: E402

UsageService.launch()
