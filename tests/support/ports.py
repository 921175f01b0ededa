"""A free loopback port for a server that a test starts later.

Some tests must name a port before its server runs (a manifest's manifestURL, a
``--port``), so they probe for a free one first. The kernel's own pick (a bind to port 0)
comes from the ephemeral range, the range every outgoing connection on the machine takes
its local port from: between the probe and the server's bind, any client connection
(the suite's own included) may take it. So the port is drawn from below that range,
where only servers that ask for a port by number ever bind.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 10_000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nobody listens on, outside the ephemeral range when it can."""
    low = _ephemeral_low()
    candidates = random.sample(range(LOWEST, low), min(64, low - LOWEST)) if low > LOWEST \
        else []
    for port in [*candidates, 0]:  # 0: the kernel's pick, if every candidate is taken
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError(f"no free port on {host}")
