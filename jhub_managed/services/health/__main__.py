"""The ``health`` service: checks on a schedule, the probe at ``api/health``, the status page."""

from ..listen import bind_early

bind_early()  # before the application's imports: see services/listen.py

from .app import HealthService  # noqa: E402

HealthService.launch()
