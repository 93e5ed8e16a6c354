"""Work on a block ahead of its connection.

Two uses. :class:`ConnectAhead` connects a new tip's transactions, as each is parsed
(``ChainState.process_raw_block``) or before the block's other checks (``process_block``),
into a view of the UTXO set that its connection will commit: their scripts go to the
signature helpers, which work while the block is still being read, checked and stored.

:func:`preverify_scripts` verifies a block's scripts off the event loop. Connecting a block
must run on the thread that owns the chain state, but its costly part, the input scripts,
depends only on the block and the coins it spends. So the node verifies those first on a
worker thread, records the transactions that passed in the script cache, and only then
connects the block, which skips them (Core's script execution cache plays the same part for
transactions seen in the mempool). While the worker verifies, the event loop keeps answering
the API and peers.

Only successes are recorded, keyed by wtxid and flags, so nothing here can make an invalid
block pass: a transaction whose coins are not found (spent, or created by a block not yet
connected) or whose scripts fail is simply left for the connection to check and reject with
Core's reason. The coins read here are fixed by their outpoints (the spending txid commits to
them), so a verdict stays true whatever the chain does meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from node.consensus.block_check import block_script_flags
from node.consensus.coin import Coin
from node.consensus.errors import ValidationError
from node.consensus.primitives import Block, BlockHeader, Tx

from .connect import TxConnector
from .index import BlockIndex
from .script_check import Check

if TYPE_CHECKING:
    from .chainstate import ChainState


def is_new_tip(chain: ChainState, block: Block | BlockHeader) -> bool:
    """Whether ``block`` would extend the tip and no known header is beyond it: a new block
    at the head of the chain, not one of a catching-up sync (Core: !IsInitialBlockDownload).
    When work ahead was a separate pass over the inputs (script checks only), it slowed a
    2,000-block sync from 0.9 to 0.6 of a file import (bench p2p): during a sync most coins
    a block spends come from blocks not connected yet. Connecting ahead is now the
    connection itself, so a sync might gain from it too; not measured yet."""
    header = block.header if isinstance(block, Block) else block
    prev = chain.index.get(header.prev_hash)
    return prev is chain.tip and chain.header_height <= prev.height + 1


class ConnectAhead:
    """Connects a new tip's transactions as they become known (:class:`TxConnector`), for
    the connection that follows the block's other checks: its scripts reach the helpers
    while the block is still being read, checked and stored. The first ValidationError is
    kept, not raised: Core checks the whole block (CheckBlock, ContextualCheckBlock) before
    connecting it, and those reasons come first. The transactions after it are left alone.
    Runs on the chain's thread, which changes no coin before the connection."""

    __slots__ = ("block_hash", "prev", "connector", "error")

    def __init__(self, block_hash: bytes, prev: BlockIndex, connector: TxConnector) -> None:
        self.block_hash = block_hash
        self.prev = prev
        self.connector = connector
        self.error: ValidationError | None = None

    def add(self, pos: int, tx: Tx) -> None:
        if self.error is None:
            try:
                if not pos and not tx.is_coinbase():
                    # Not checked yet: CheckBlock rejects it, and the connector takes a
                    # block's first transaction for its coinbase.
                    raise ValidationError("bad-cb-missing")
                self.connector.add(pos, tx)
            except ValidationError as e:
                self.error = e

    def top_up(self) -> None:
        """Refill the helpers' queues (~10 ms of work): between the long steps that follow
        the last transaction (parsing the rest, CheckBlock, storing), which add no checks."""
        self.connector.checks.top_up()  # type: ignore[union-attr]

    def abandon(self) -> None:
        """Not connected after all: the helpers drop the block's checks."""
        self.connector.checks.abandon()  # type: ignore[union-attr]


def preverify_scripts(chain: ChainState, block: Block) -> tuple[int, list[bytes]]:
    """Verify the scripts of ``block``'s transactions whose coins are known now, on the
    chain's script-check pool; returns (flags used, wtxids that passed). Reads the chain
    without changing it: safe to call from a thread other than the chain's owner."""
    prev = chain.index.get(block.header.prev_hash)
    if prev is None:
        return 0, []  # an orphan: its height, and so its flags, are unknown
    height = prev.height + 1
    flags = int(block_script_flags(height, chain.params, block.hash))
    cache = chain.script_checker.cache
    peek_coin = chain.coins.peek_coin
    earlier: dict[bytes, tuple[int, Tx]] = {}  # txid -> (position, tx) for in-block spends
    checks: list[Check] = []
    for pos, tx in enumerate(block.txs):
        if pos and not cache.covers(tx.wtxid, flags):
            coins = _spent_coins(peek_coin, tx, earlier, height)
            if coins is not None:
                checks.append((pos, tx, coins))
        earlier[tx.txid] = (pos, tx)
    return flags, chain.script_checker.verified(checks, flags) if checks else []


def _spent_coins(get: Callable[[bytes, int], Coin | None], tx: Tx,
                 earlier: dict[bytes, tuple[int, Tx]], height: int) -> list[Coin] | None:
    """The coins ``tx`` spends: outputs of ``earlier`` transactions of its block, or found
    by ``get(txid, n)``; None if one is missing."""
    coins = []
    for txin in tx.vin:
        txid, n = txin.prevout.txid, txin.prevout.n
        parent = earlier.get(txid)
        if parent is not None:
            if n >= len(parent[1].vout):
                return None
            coins.append(Coin(parent[1].vout[n], height, parent[0] == 0))
            continue
        coin = get(txid, n)
        if coin is None:
            return None
        coins.append(coin)
    return coins
