"""Free TCP ports on loopback, for the tests that start real nodes and clients."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now at ``host`` (the OS's pick; ``"::1"`` for an IPv6 bind:
    a port free on 127.0.0.1 need not be free there); the caller binds it soon after."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
