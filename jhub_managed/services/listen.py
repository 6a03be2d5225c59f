"""Take a service's port first, before the slow imports of its application.

JupyterHub waits for each managed service at start, and JupyterHub 5.5 (what
zero-to-jupyterhub 4.4.0's hub image ships) gives it ten tries of one second, then stops the
hub. A service whose imports take longer (a busy node, a cold disk) would stop the hub. Once
the port is bound, the kernel holds JupyterHub's connections until the application answers,
so the wait ends as soon as the service is ready, however long its imports took.

Stdlib only: ``__main__`` of each service calls :func:`bind_early` before importing its app;
``ServiceApp.run`` serves on the socket taken here (:func:`take`), or binds as usual.
"""

from __future__ import annotations

import socket
import sys

_bound: dict[tuple[str, int], socket.socket] = {}


def _option(argv: list[str], name: str) -> str:
    for index, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
        if arg == f"--{name}" and index + 1 < len(argv):
            return argv[index + 1]
    return ""


def bind_early(argv: list[str] | None = None) -> None:
    """Bind and listen on ``--ip``/``--port`` of the command line, if both are given."""
    argv = sys.argv[1:] if argv is None else argv
    ip, port = _option(argv, "ip"), _option(argv, "port")
    if not ip or not port.isdigit() or int(port) == 0:
        return
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, int(port)))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        # the application's own listen() reports it, with its own message
        sock.close()
        return
    _bound[(ip, int(port))] = sock


def take(ip: str, port: int) -> socket.socket | None:
    """The socket bound early for ``ip:port``, once; ``None`` if there is none."""
    return _bound.pop((ip, port), None)
