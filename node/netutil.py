"""How the node writes and reaches network addresses, for its logs, its welcome banner, the
P2P listener and the client commands alike: :class:`HostPort` (HOST:PORT, an IPv6 host in
brackets), the hosts it listens on by default, the URL that reaches an API bound to one, and
the one-line error for a listener that cannot bind. Imports nothing of the node: the config layer and the P2P layer both use it.
"""

from __future__ import annotations

import ipaddress
import os
from typing import NamedTuple

# Where the node listens unless told otherwise: P2P on every interface, as Bitcoin Core's
# -bind; the REST API, which carries the admin routes, on loopback only (API.md).
DEFAULT_P2P_HOST = "0.0.0.0"
DEFAULT_REST_HOST = "127.0.0.1"


class HostPort(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def bind_failed(what: str, host: str, port: int, exc: OSError) -> RuntimeError:
    """The one-line error for a listener that cannot bind ``host``:``port`` (``run`` shows
    it as is): ``what`` it was for, the address as HostPort writes it, and the errno's text,
    where asyncio words a failed bind at length."""
    reason = os.strerror(exc.errno) if exc.errno else exc
    return RuntimeError(f"cannot {what} on {HostPort(host, port)}: {reason}")


def connect_url(bind: tuple[str, int]) -> str:
    """The base URL of a node whose API listens on ``bind`` (its rest-bind, HOST, PORT).

    A wildcard address (0.0.0.0, ::) is where the node listens, not an address to connect
    to: it is reached on the loopback address of the same family, the interface Core's
    bitcoin-cli connects to by default (-rpcconnect=127.0.0.1). An IPv6 host is bracketed,
    as :class:`HostPort` writes it."""
    host, port = bind
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None  # a host name
    if ip is not None and ip.is_unspecified:
        host = "::1" if ip.version == 6 else "127.0.0.1"
    return f"http://{HostPort(host, port)}"
