"""The ``usage`` service: who used what, for how long, at ``/services/usage/``."""
