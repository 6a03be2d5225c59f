"""The ``config`` service: hub admins edit the hub's settings at ``/services/config/``."""
