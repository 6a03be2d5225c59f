"""jhub-managed in a zero-to-jupyterhub hub.

zero-to-jupyterhub's jupyterhub_config.py runs every file of
/usr/local/etc/jupyterhub/jupyterhub_config.d after its own configuration, with the hub's
config object ``c`` in scope. This one calls jhub_managed's configure() with the chart's
values under ``jupyterhub.custom.jhubManaged``: no Python lives in values files.
"""

from jhub_managed.fleet.hubconfig import configure_from_values

configure_from_values(c)  # noqa: F821 - the hub's config object, from jupyterhub_config.py
