"""Mining: ``generate`` N blocks on demand (regtest/devnet), and the :class:`Miner` service
that mines continuously for ``run --mine``.

Mined blocks are submitted through ``ChainState.process_block``, the same validation path
as blocks from peers. The proof-of-work search runs in worker processes (PowSearcher), so
the event loop stays free; work is abandoned the moment another block becomes the tip, and
the template is rebuilt when the pool's fees have grown since it was made.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from node.chain.chainstate import ChainState
from node.chain.index import BlockIndex
from node.consensus.errors import ValidationError
from node.consensus.hashes import hash_to_hex
from node.consensus.primitives import Block
from node.mempool.mempool import Mempool

from .assembler import create_template
from .pow_search import PowSearcher, solve_block, solve_block_async

log = logging.getLogger(__name__)

# Rebuild the template when the pool's fees grew by this share since it was built.
TEMPLATE_REFRESH_FEE_GROWTH = 0.10
TEMPLATE_MAX_AGE = 30.0  # seconds: also refresh the timestamp now and then


def generate(chain: ChainState, mempool: Mempool | None, n: int, script_pubkey: bytes,
             searcher: PowSearcher | None = None,
             clock: Callable[[], float] = time.time) -> list[bytes]:
    """Mine ``n`` blocks on the current tip now and return their hashes. Each block holds the
    best transactions of the pool and goes through full validation before it is counted."""
    if chain.params.name not in ("regtest", "devnet"):
        raise ValueError(f"generating blocks on demand is for regtest and devnet, "
                         f"not {chain.params.name}")
    hashes = []
    for _ in range(n):
        tip = chain.tip
        now = int(clock())
        block = solve_block(
            lambda extranonce, tip=tip, now=now: create_template(
                chain.params, tip, mempool, script_pubkey, now, extranonce).block,
            chain.params, searcher)
        if block is None:  # pragma: no cover - the extranonce space is unbounded
            raise RuntimeError("no block found")
        chain.process_block(block)
        hashes.append(block.hash)
    return hashes


class Miner:
    """Mines on the tip until stopped; ``interval`` spaces blocks out (regtest's difficulty
    is trivial, so without it blocks would come as fast as they validate)."""

    def __init__(self, chain: ChainState, mempool: Mempool | None, script_pubkey: bytes,
                 searcher: PowSearcher, *, interval: float = 0.0,
                 clock: Callable[[], float] = time.time,
                 submit: Callable[[Block], Awaitable[object]] | None = None) -> None:
        self.chain = chain
        self.mempool = mempool
        self.script_pubkey = script_pubkey
        self.searcher = searcher
        self.interval = interval
        self.clock = clock
        # The node's door for blocks (validation and relay); default: straight to the chain.
        self.submit = submit
        self.blocks_found = 0
        self._task: asyncio.Task | None = None
        self._stale = asyncio.Event()
        self._retuned = asyncio.Event()  # set by configure: the interval wait is recomputed
        self._template_fees = 0
        self._template_tip: BlockIndex | None = None

    # -- service -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self.chain.listeners.append(self)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="miner")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if self in self.chain.listeners:
            self.chain.listeners.remove(self)
        self._stale.set()
        task.cancel()
        try:
            await asyncio.wait_for(task, timeout=10)
        except (asyncio.CancelledError, TimeoutError):
            pass

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def configure(self, script_pubkey: bytes | None = None, interval: float | None = None) -> None:
        """Change what the miner pays or its pace (None: unchanged), running or not, without a
        restart: a running miner keeps the time of its last block, so the next one still comes
        an interval after it. A new script abandons the search under way (its template pays
        the old one); a new interval applies to the wait under way."""
        if script_pubkey is not None and script_pubkey != self.script_pubkey:
            self.script_pubkey = script_pubkey
            self._stale.set()
        if interval is not None:
            self.interval = interval
        self._retuned.set()

    # -- chain listener: a new tip from anywhere makes the current work stale -------------------
    def block_connected(self, block: Block, index: BlockIndex) -> None:
        if index is not self._template_tip:
            self._stale.set()

    def block_disconnected(self, block: Block, index: BlockIndex) -> None:
        self._stale.set()

    def mempool_improved(self) -> bool:
        """Whether the pool now pays enough more than the template to be worth rebuilding."""
        if self.mempool is None:
            return False
        return self.mempool.total_fees > self._template_fees * (1 + TEMPLATE_REFRESH_FEE_GROWTH)

    # -- the loop ------------------------------------------------------------------------------
    async def _run(self) -> None:
        last_block = 0.0
        while True:
            while self.interval:
                wait = last_block + self.interval - time.monotonic()
                if wait <= 0:
                    break
                self._retuned.clear()
                try:  # until the interval is over, or configure changes it
                    await asyncio.wait_for(self._retuned.wait(), wait)
                except TimeoutError:
                    pass
            block = await self._mine_one()
            if block is None:
                continue  # stale or refreshed: build a new template
            try:
                if self.submit is not None:
                    await self.submit(block)
                else:
                    self.chain.process_block(block)
            except ValidationError as e:  # pragma: no cover - our own template was invalid
                log.error("mined block %s rejected: %s", hash_to_hex(block.hash), e)
                continue
            self.blocks_found += 1
            last_block = time.monotonic()
            log.info("mined block %d %s", self.chain.height, hash_to_hex(block.hash))

    async def _mine_one(self) -> Block | None:
        tip = self.chain.tip
        now = int(self.clock())
        template = create_template(self.chain.params, tip, self.mempool, self.script_pubkey, now)
        self._template_tip = tip
        self._template_fees = template.fees
        self._stale.clear()
        started = time.monotonic()

        def build(extranonce: int) -> Block:
            if extranonce == 0:
                return template.block
            return create_template(self.chain.params, tip, self.mempool, self.script_pubkey,
                                   now, extranonce).block

        cancel = asyncio.Event()
        search = asyncio.ensure_future(
            solve_block_async(build, self.chain.params, self.searcher, cancel_event=cancel))
        try:
            while not search.done():
                watcher = asyncio.ensure_future(self._stale.wait())
                await asyncio.wait({search, watcher}, timeout=1.0,
                                   return_when=asyncio.FIRST_COMPLETED)
                watcher.cancel()
                refresh = self.mempool_improved() or \
                    time.monotonic() - started > TEMPLATE_MAX_AGE
                if (self._stale.is_set() or refresh) and not search.done():
                    cancel.set()  # abandon: a new tip, or a better template
            block = await search
        except BaseException:
            cancel.set()
            search.cancel()
            raise
        if block is None or self.chain.tip is not tip:
            return None
        return block
