"""Config file of the idle-culler service (``--config``): per-profile idle timeouts."""

from jhub_managed.services.culler import make_cull_arbiter, source_from_environment

c = get_config()  # noqa: F821 - provided by the culler's traitlets Application
c.IdleCuller.cull_arbiter_hook = make_cull_arbiter(source_from_environment())
