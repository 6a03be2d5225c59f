from .app import HealthService

HealthService.launch()
