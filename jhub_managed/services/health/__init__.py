"""The ``health`` service: ``GET|HEAD /services/health/`` answers 200 or 503 with every check."""
