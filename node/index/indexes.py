"""The :class:`Indexes` service: keeps the transaction and script-hash indexes in step with the
chain and the pool, and answers the Esplora API's queries from them with bounded reads."""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from node.chain.chainstate import ChainState
from node.chain.index import BlockIndex
from node.consensus.coin import Coin
from node.consensus.errors import DecodeError, MinicashError
from node.consensus.hashes import hash_to_hex
from node.consensus.primitives import Block, OutPoint, TxOut
from node.mempool.mempool import Mempool, MempoolEntry
from node.storage.codec import decode_block_undo
from node.storage.errors import StorageError

from .mempool_view import MempoolView
from .store import (
    HEIGHT_POS,
    HISTORY_PREFIX,
    LAYOUT_VERSION,
    SPENDER_PREFIX,
    SPENDER_VALUE,
    STATS_PREFIX,
    STATS_VALUE,
    TIP_KEY,
    TX_PREFIX,
    TX_VALUE,
    UTXO_PREFIX,
    UTXO_VALUE,
    VERSION_KEY,
    IndexDB,
    outpoint_key,
    prefix_end,
    spent_from_undo,
    wipe,
    write_connect,
    write_disconnect,
)

log = logging.getLogger(__name__)

INDEXES_DIR = "indexes"
_U32 = struct.Struct(">I")
_HISTORY_KEY_PREFIX_LEN = 1 + 32  # b"h" + script hash


class TooManyUtxos(MinicashError):
    """A script has more unspent outputs than the caller's limit (Esplora: "Too many
    unspent transaction outputs")."""


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a confirmed transaction is: its block, that block's height, its index in it."""

    block_hash: bytes
    height: int
    position: int


@dataclass(frozen=True, slots=True)
class Spender:
    """The input spending an output: ``height`` is None while the spender is in the pool."""

    txid: bytes
    vin: int
    height: int | None


@dataclass(frozen=True, slots=True)
class TxoStats:
    """Esplora's ``chain_stats`` / ``mempool_stats`` of a script."""

    funded_txo_count: int = 0
    funded_txo_sum: int = 0
    spent_txo_count: int = 0
    spent_txo_sum: int = 0
    tx_count: int = 0


@dataclass(frozen=True, slots=True)
class ScriptHashStats:
    chain: TxoStats
    mempool: TxoStats


@dataclass(frozen=True, slots=True)
class HistoryItem:
    txid: bytes
    height: int
    block_hash: bytes


@dataclass(frozen=True, slots=True)
class Utxo:
    outpoint: OutPoint
    value: int
    height: int | None  # None: created by a pool transaction


def _txo_stats(tx_count: int, funded: int, funded_sum: int, spent: int,
               spent_sum: int) -> TxoStats:
    return TxoStats(funded, funded_sum, spent, spent_sum, tx_count)


class Indexes:
    """The tx index and the script-hash index; a chain listener and a mempool listener."""

    def __init__(self, datadir: Path, chain: ChainState, mempool: Mempool | None) -> None:
        self.datadir = Path(datadir)
        self.chain = chain
        self.mempool = mempool
        self._db: IndexDB | None = None
        self._tip: bytes | None = None  # the last block indexed, as stored under b"T"
        self._pool = MempoolView()

    # -- lifetime ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the database, catch up with the chain, then follow the chain and the pool."""
        if self._db is not None:
            return
        self.datadir.mkdir(parents=True, exist_ok=True)
        db = IndexDB(self.datadir / INDEXES_DIR)
        self._db = db
        try:
            version = db.get(VERSION_KEY)
            if version != LAYOUT_VERSION:
                if version is not None or db.get(TIP_KEY) is not None:
                    log.info("index layout changed: rebuilding the indexes")
                    wipe(db)
                db.put(VERSION_KEY, LAYOUT_VERSION)
            self._tip = db.get(TIP_KEY)
            self._catch_up()
        except BaseException:
            self._db = None
            db.close()
            raise
        self.chain.listeners.append(self)
        if self.mempool is not None:
            entries = sorted(self.mempool.entries.values(),
                             key=lambda e: (e.time, e.ancestor_count))
            for entry in entries:
                self._pool.add(entry.tx, self._pool_prevout)
            self.mempool.listeners.append(self)

    def stop(self) -> None:
        """Stop following, make the index durable, close the database."""
        db = self._db
        if db is None:
            return
        if self in self.chain.listeners:
            self.chain.listeners.remove(self)
        if self.mempool is not None and self in self.mempool.listeners:
            self.mempool.listeners.remove(self)
        self._pool.clear()
        self._db = None
        try:
            if self._tip is not None:
                db.put(TIP_KEY, self._tip, sync=True)  # everything before it is durable too
        finally:
            db.close()

    @property
    def db(self) -> IndexDB:
        if self._db is None:
            raise RuntimeError("the indexes are not started")
        return self._db

    @property
    def tip(self) -> bytes | None:
        """Hash of the last block indexed."""
        return self._tip

    # -- catching up ---------------------------------------------------------------------------
    def _catch_up(self) -> None:
        """Bring the index from its own tip to the chain's: undo blocks no longer on the active
        chain, then index the active blocks after the fork."""
        chain = self.chain
        start = 0
        if self._tip is not None:
            index = chain.index.get(self._tip)
            while index is not None and not chain.is_active(index):
                if not self._disconnect(index):
                    index = None
                    break
                index = index.prev
            if index is None:
                log.warning("the index tip %s is unknown or cannot be undone: rebuilding "
                            "the indexes", hash_to_hex(self._tip or bytes(32)))
                wipe(self.db)
                self.db.put(VERSION_KEY, LAYOUT_VERSION)
                self._tip = None
            else:
                start = index.height + 1
        if start <= chain.height:
            log.info("indexing blocks %d to %d", start, chain.height)
        for height in range(start, chain.height + 1):
            self._connect(chain.active[height])

    def _undo_data(self, index: BlockIndex, block: Block) -> list[list[Coin]] | None:
        if len(block.txs) == 1:
            return []  # only a coinbase: nothing spent (the genesis block has no undo data)
        raw = self.chain.blocks.get_undo(index.hash)
        if raw is None:
            return None
        try:
            undo = decode_block_undo(raw)
        except DecodeError:
            return None
        if len(undo) != len(block.txs) - 1 or any(
                len(u) != len(tx.vin) for u, tx in zip(undo, block.txs[1:], strict=True)):
            return None
        return undo

    def _connect(self, index: BlockIndex, block: Block | None = None) -> None:
        if block is None:
            block = self.chain.read_block(index)
            if block is None:
                raise StorageError(f"cannot index block {hash_to_hex(index.hash)}: its data "
                                   f"is missing from the block store")
        spent = self._spent(index, block)
        if spent is None:
            raise StorageError(f"cannot index block {hash_to_hex(index.hash)}: its undo data "
                               f"is missing or does not match the block")
        write_connect(self.db, block, index.height, spent)
        self._tip = index.hash

    def _spent(self, index: BlockIndex, block: Block) -> list[list[tuple[bytes, int]]] | None:
        """(script hash, value) spent by each input of each non-coinbase transaction: from
        the pool's records for transactions that came through it (the common case once
        synced), otherwise from the block's undo data."""
        pool = self._pool
        spent: list[list[tuple[bytes, int]]] = []
        undo: list[list[Coin]] | None = None
        for pos in range(1, len(block.txs)):
            known = pool.spent_outputs(block.txs[pos])
            if known is None:
                if undo is None:
                    undo = self._undo_data(index, block)
                    if undo is None:
                        return None
                known = spent_from_undo(undo[pos - 1])
            spent.append(known)
        return spent

    def _disconnect(self, index: BlockIndex, block: Block | None = None) -> bool:
        """Undo the index tip ``index``; False if its block or undo data is unavailable."""
        if block is None:
            block = self.chain.read_block(index)
            if block is None:
                return False
        undo = self._undo_data(index, block)
        if undo is None:
            return False
        write_disconnect(self.db, block, index.height, undo)
        self._tip = block.header.prev_hash
        return True

    # -- ChainListener -------------------------------------------------------------------------
    def block_connected(self, block: Block, index: BlockIndex) -> None:
        try:
            if self._tip == block.header.prev_hash:
                self._connect(index, block)
            else:  # out of step (missed a notification): resynchronise from the chain
                self._catch_up()
        finally:
            self._pool.confirmed.clear()

    def block_disconnected(self, block: Block, index: BlockIndex) -> None:
        self._pool.confirmed.clear()
        if self._tip != index.hash or not self._disconnect(index, block):
            self._catch_up()

    # -- MempoolListener -----------------------------------------------------------------------
    def tx_added(self, entry: MempoolEntry) -> None:
        self._pool.add(entry.tx, self._pool_prevout)

    def tx_removed(self, entry: MempoolEntry, reason: str) -> None:
        self._pool.remove(entry.tx, confirmed=reason == "block")

    def _pool_prevout(self, outpoint: OutPoint) -> TxOut | None:
        if self.mempool is not None:
            parent = self.mempool.get(outpoint.txid)
            if parent is not None:
                vout = parent.tx.vout
                return vout[outpoint.n] if outpoint.n < len(vout) else None
        coin = self.chain.get_coin(outpoint)
        return None if coin is None else coin.txout

    # -- queries -------------------------------------------------------------------------------
    def tx_location(self, txid: bytes) -> TxLocation | None:
        """Where a confirmed transaction is (None if unconfirmed or unknown)."""
        raw = self.db.get(TX_PREFIX + txid)
        if raw is None:
            return None
        height, position, block_hash = TX_VALUE.unpack(raw)
        return TxLocation(block_hash, height, position)

    def spender(self, outpoint: OutPoint) -> Spender | None:
        """The input spending ``outpoint``, confirmed or in the pool (None if unspent)."""
        raw = self.db.get(SPENDER_PREFIX + outpoint_key(outpoint.txid, outpoint.n))
        if raw is not None:
            txid, vin, height = SPENDER_VALUE.unpack(raw)
            return Spender(txid, vin, height)
        pool = self._pool.spends.get(outpoint)
        return None if pool is None else Spender(pool[0], pool[1], None)

    def scripthash_stats(self, sh: bytes) -> ScriptHashStats:
        raw = self.db.get(STATS_PREFIX + sh)
        chain = _txo_stats(*STATS_VALUE.unpack(raw)) if raw is not None else TxoStats()
        pool = self._pool.stats.get(sh)
        return ScriptHashStats(chain, _txo_stats(*pool) if pool else TxoStats())

    def history_chain(self, sh: bytes, after_txid: bytes | None = None,
                      limit: int = 25) -> list[HistoryItem]:
        """Confirmed transactions touching ``sh``, newest first (height, then position in the
        block, descending). ``after_txid`` is Esplora's ``last_seen_txid``: the page continues
        after it; a txid that is not in this script's confirmed history gives an empty page
        (as Esplora does). Reads only the keys it returns."""
        if limit <= 0:
            return []
        db = self.db
        prefix = HISTORY_PREFIX + sh
        if after_txid is None:
            stop = prefix_end(prefix)
        else:
            raw = db.get(TX_PREFIX + after_txid)
            if raw is None:
                return []
            hp = raw[:HEIGHT_POS.size]
            if db.get(prefix + hp + after_txid) is None:
                return []
            stop = prefix + hp  # every key of an earlier transaction sorts below this
        items: list[HistoryItem] = []
        it = db.range(prefix, stop, reverse=True)
        try:
            for key, _ in islice(it, limit):
                txid = key[_HISTORY_KEY_PREFIX_LEN + HEIGHT_POS.size:]
                height, _pos = HEIGHT_POS.unpack_from(key, _HISTORY_KEY_PREFIX_LEN)
                loc = db.get(TX_PREFIX + txid)
                if loc is None:
                    raise db.corrupted(f"history names {hash_to_hex(txid)}, not in the tx index")
                items.append(HistoryItem(txid, height, loc[-32:]))
        finally:
            it.close()
        return items

    def history_mempool(self, sh: bytes, limit: int = 50) -> list[bytes]:
        """Txids of pool transactions touching ``sh``, newest first."""
        txids = self._pool.history.get(sh)
        if not txids or limit <= 0:
            return []
        return list(islice(reversed(txids), limit))

    def utxos(self, sh: bytes, limit: int | None = None) -> list[Utxo]:
        """Unspent outputs paying ``sh``, confirmed and in the pool, minus those the pool
        spends: pool outputs first (newest first), then confirmed ones by height, newest
        first. Reads only this script's keys; with ``limit``, raises :class:`TooManyUtxos`
        rather than return more than ``limit``."""
        spends = self._pool.spends
        result: list[Utxo] = []
        pool_outs = self._pool.funded.get(sh)
        if pool_outs:
            for op, value in reversed(pool_outs.items()):
                if op not in spends:
                    result.append(Utxo(op, value, None))
        if limit is not None and len(result) > limit:
            raise TooManyUtxos(f"more than {limit} unspent outputs")
        confirmed: list[Utxo] = []
        skip = len(UTXO_PREFIX) + len(sh)
        for key, value in self.db.iterate(UTXO_PREFIX + sh):
            op = OutPoint(key[skip:skip + 32], _U32.unpack_from(key, skip + 32)[0])
            if op in spends:
                continue
            amount, height = UTXO_VALUE.unpack(value)
            confirmed.append(Utxo(op, amount, height))
            if limit is not None and len(result) + len(confirmed) > limit:
                raise TooManyUtxos(f"more than {limit} unspent outputs")
        confirmed.sort(key=lambda u: -u.height)  # type: ignore[operator]
        return result + confirmed

