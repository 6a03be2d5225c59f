from .app import ConfigService

ConfigService.launch()
