"""The one door to upstream's private names.

JupyterHub, kubespawner and oauthenticator each have a few private methods, attributes and
modules that the suite needs (no public way does the same thing). Every one of them is used
through a module here, one per upstream package, as a small named function, a re-export or
an override with a docstring saying what it is, why the suite needs it and on which
upstream versions it was checked. ``tests/test_upstream_pins.py`` checks that each still
exists with the signature used here, on the versions installed, and that no other module
of the package reaches them directly.

The modules import only their own upstream package: :mod:`.jupyterhub` needs neither
kubespawner nor oauthenticator, so the services and the spawn form stay importable without
them.
"""
