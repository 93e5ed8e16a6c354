"""What the API reads and calls: the node's services, behind one small object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from node.chain.chainstate import ChainState
from node.consensus.params import Params
from node.mempool.fees import FeeEstimator
from node.mempool.mempool import Mempool


@dataclass
class ApiContext:
    params: Params
    chain: ChainState
    mempool: Mempool
    fees: FeeEstimator
    indexes: Any | None = None  # node.index.Indexes, or None with --no-index
    cookie: str | None = None  # the admin token; None: admin routes refuse everything
    # Admin hooks the running node provides.
    info: Callable[[], dict] = field(default=lambda: {})
    generate: Callable[[int, bytes], Awaitable[list[bytes]]] | None = None
    set_mining: Callable[[bool, bytes | None, float | None], Awaitable[dict]] | None = None
    request_stop: Callable[[], None] | None = None


CTX_KEY = web.AppKey("ctx", ApiContext)
