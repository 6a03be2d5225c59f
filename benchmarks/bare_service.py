"""The baseline of the service start benchmark: a bare HubOAuth tornado application.

One ``HubOAuthenticated`` route at the service's prefix that answers the caller's name;
started as the suite's services are (``python -m ... --ip --port``), with the same
environment from the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web


class NameHandler(HubOAuthenticated, web.RequestHandler):
    @web.authenticated
    def get(self):
        self.write({"name": self.current_user["name"]})


async def serve(ip: str, port: int) -> None:
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    auth = HubOAuth(cache_max_age=60)
    app = web.Application(
        [
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
            (prefix, NameHandler),
        ],
        hub_auth=auth,
        cookie_secret=os.urandom(32),
    )
    app.listen(port, ip)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.ip, args.port))


if __name__ == "__main__":
    main()
