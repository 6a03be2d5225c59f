"""Config file of the idle-culler service (``--config``): per-profile idle timeouts."""

from jhub_managed.options.errors import ConfigureError
from jhub_managed.services.culler import make_cull_arbiter, source_from_environment

try:
    source = source_from_environment()
except ConfigureError as e:
    # an exception would be logged and the culler run on without the profiles' timeouts
    raise SystemExit(f"jhub-managed idle culler: {e}") from None
c = get_config()  # noqa: F821 - provided by the culler's traitlets Application
c.IdleCuller.cull_arbiter_hook = make_cull_arbiter(source)
