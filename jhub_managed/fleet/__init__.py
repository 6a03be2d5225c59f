"""Deploying the suite to a fleet of hubs: the Helm chart's values and ``jhub-managed fleet``.

- :mod:`.schema`: the chart's ``values.schema.json``, generated from :class:`ManagedHub`'s
  traits (the same help text as the configuration reference).
- :mod:`.hubconfig`: what the hub image's ``jupyterhub_config.d`` file calls inside a
  zero-to-jupyterhub hub: ``configure()`` with the values under ``custom.jhubManaged``.
- :mod:`.fleetfile`, :mod:`.values`, :mod:`.validate`: the fleet file, merged values with
  the file each key came from, and every check of ``fleet validate``.
- :mod:`.dependency`: the chart's dependencies (zero-to-jupyterhub's chart) as Helm finds
  them in its ``charts/`` folder, with their own values schemas.
- :mod:`.commands`: ``jhub-managed fleet``, its commands by concern in :mod:`.precheck`
  (validate), :mod:`.rollout` (render, deploy) and :mod:`.survey` (status, report), its
  options in :mod:`.parser`; :mod:`.helm` and :mod:`.probe` run helm and ask the hubs.

Only :mod:`.hubconfig` runs inside a hub; it imports nothing of the rest.
"""
