"""What the API reads and calls: the node's services, behind one small object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from node.chain.chainstate import ChainState
from node.chain.index import BlockIndex
from node.consensus.params import Params
from node.consensus.primitives import Block, Tx
from node.mempool.fees import FeeEstimator
from node.mempool.mempool import Mempool, MempoolEntry


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
    # The node's doors for new blocks and transactions (validation off the event loop, relay
    # to peers). Without them, the API calls the chain and the mempool directly.
    submit_block: Callable[[Block, bytes | None], Awaitable[BlockIndex | None]] | None = None
    submit_tx: Callable[[Tx], Awaitable[MempoolEntry]] | None = None
    p2p: Any | None = None  # node.p2p.service.P2PService: peers and bans for the admin routes

    async def process_block(self, block: Block, raw: bytes | None = None) -> BlockIndex | None:
        if self.submit_block is not None:
            return await self.submit_block(block, raw)
        return self.chain.process_block(block, raw)

    async def accept_tx(self, tx: Tx) -> MempoolEntry:
        if self.submit_tx is not None:
            return await self.submit_tx(tx)
        return self.mempool.accept(tx)


CTX_KEY = web.AppKey("ctx", ApiContext)
