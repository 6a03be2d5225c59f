"""Config file of the idle-culler service (``--config``): per-profile idle timeouts."""

from jhub_managed.services.culler import cull_arbiter

c = get_config()  # noqa: F821 - provided by the culler's traitlets Application
c.IdleCuller.cull_arbiter_hook = cull_arbiter
