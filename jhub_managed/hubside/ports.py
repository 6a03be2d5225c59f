"""Ports for services without a configured one, chosen without binding anything.

A port the kernel picks (port 0) is let go until the service binds it, and in the meantime
any process that binds port 0 or connects somewhere may be handed it. So the port is chosen
below the kernel's ephemeral range, where no process is handed one unless it asks for it by
number; ports some socket holds (``/proc/net/tcp``, ``tcp6``) are left out. Reading those
tables binds nothing, so a configuration can be loaded (or checked) any number of times.
"""

from __future__ import annotations

import random
from collections.abc import Collection

EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
SOCKET_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (32768, Linux's default, elsewhere)."""
    try:
        with open(EPHEMERAL_RANGE) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def ports_in_use() -> set[int]:
    """The local ports of every TCP socket of this machine's network namespace, as far as
    the kernel's tables can be read (none where there are no such tables)."""
    used: set[int] = set()
    for table in SOCKET_TABLES:
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 1 and ":" in fields[1]:
                used.add(int(fields[1].rsplit(":", 1)[1], 16))
    return used


def quiet_port(taken: Collection[int] = ()) -> int:
    """A port below the kernel's ephemeral range that no socket holds now, and not one of
    ``taken`` (the ports chosen already for the same hub)."""
    low = ephemeral_low()
    first = min(20000, low // 2)
    avoid = ports_in_use() | set(taken)
    for _ in range(200):
        port = random.randrange(first, low)  # noqa: S311 - a port, no secret
        if port not in avoid:
            return port
    free = sorted(set(range(first, low)) - avoid)
    if not free:
        raise RuntimeError(f"no free port between {first} and {low}")
    return random.choice(free)  # noqa: S311
