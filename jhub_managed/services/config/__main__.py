from ..listen import bind_early

bind_early()  # before the application's imports: see services/listen.py

from .app import ConfigService  # noqa: E402

ConfigService.launch()
