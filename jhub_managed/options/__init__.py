"""The suite's options: :class:`~jhub_managed.options.managedhub.ManagedHub`, composed of one
group of options per part of the suite (one module each), and the deprecated spawner options.

Read in the hub's process (``configure()``, the spawners) and in every service's (rebuilt from
``$JHUB_MANAGED_CONFIG``); nothing here starts, opens or binds anything.
"""
