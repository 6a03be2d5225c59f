"""The demo hub: a real JupyterHub with every part of the suite on the local spawner."""
