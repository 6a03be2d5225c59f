"""The baseline of ``bench_health``: a bare tornado handler returning fixed JSON.

``python benchmarks/bare_json.py PORT PATH FILE`` serves the bytes of ``FILE`` (the health
service's cached answer) at ``PATH`` on 127.0.0.1, with the same status, headers and server
settings as the service, and nothing else: what answering costs without the service.
"""

from __future__ import annotations

import asyncio
import sys

from tornado import web
from tornado.httpserver import HTTPServer


def main(argv: list[str]) -> None:
    port, path, body_file = int(argv[0]), argv[1], argv[2]
    with open(body_file, "rb") as f:
        body = f.read()

    class Bare(web.RequestHandler):
        def get(self):
            self.set_status(200)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(body)

    async def serve():
        app = web.Application([(path, Bare)], log_function=lambda handler: None)
        server = HTTPServer(app, xheaders=True, max_body_size=4 * 1024 * 1024)
        server.listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main(sys.argv[1:])
