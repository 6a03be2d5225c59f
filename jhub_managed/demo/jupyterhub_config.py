"""JupyterHub configuration of ``jhub-managed demo``.

The demo command passes where to listen and where to keep data in ``JHUB_MANAGED_DEMO_*``
environment variables. Everything else is what a hub admin would write.
"""

import os
import sys

from jhub_managed.demo.settings import DEMO_SETTINGS
from jhub_managed.hub import configure

c = get_config()  # noqa: F821 - provided by JupyterHub

data_dir = os.environ["JHUB_MANAGED_DEMO_DATA_DIR"]
bin_dir = os.path.dirname(sys.executable)

c.JupyterHub.ip = os.environ.get("JHUB_MANAGED_DEMO_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("JHUB_MANAGED_DEMO_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("JHUB_MANAGED_DEMO_HUB_PORT", "8081"))
proxy_api_port = int(os.environ.get("JHUB_MANAGED_DEMO_PROXY_API_PORT", "8001"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.db_url = "sqlite:///" + os.path.join(data_dir, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(data_dir, "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = os.path.join(data_dir, "proxy.pid")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

configure(
    c,
    hub_name="demo",
    spawner="local",
    authenticator="demo",
    data_dir=data_dir,
    hub_values=DEMO_SETTINGS,
    settings_editor_groups=[],
    # a save in the settings service shows on the demo's pages within a second
    settings_refresh_interval=1,
)

c.ManagedDemoAuthenticator.password = os.environ["JHUB_MANAGED_DEMO_PASSWORD"]
c.ManagedLocalSpawner.home_dir_template = os.path.join(data_dir, "users", "{username}")
c.Spawner.cmd = [os.path.join(bin_dir, "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
# no "Would you like to get notified about official Jupyter news?" prompt, and no fetching
# of news from the web, in the demo's JupyterLab
c.Spawner.args = ["--LabApp.news_url=None"]
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120

extra = os.environ.get("JHUB_MANAGED_DEMO_EXTRA_CONFIG")
if extra:
    load_subconfig(extra)  # noqa: F821 - provided by JupyterHub
