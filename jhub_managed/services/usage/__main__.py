from .app import UsageService

UsageService.launch()
