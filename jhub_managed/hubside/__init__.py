"""What runs in the hub's process and is neither the spawner nor the authenticator:
``configure()`` and its steps (one per part of the suite it wires), the hub-start hook, the
template variables and notices on the hub's pages, the spawner report and the role that
follows the hub's admins.

Nothing here holds module-level state: each hub's objects are made by ``configure()`` and
handed to whoever needs them. The services' processes never import this package.
"""
