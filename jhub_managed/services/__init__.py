"""The hub-managed services: ``config`` (settings), ``usage`` (reports, metrics), ``health``."""
