"""The on-disk part of the indexes: key encoding (layout in :mod:`node.index`), the database with
ranged reads, and the changes one block makes when it is connected or disconnected."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

from node.consensus.coin import Coin
from node.consensus.primitives import Block
from node.consensus.script.script import MAX_SCRIPT_SIZE
from node.storage.db import _PLYVEL_ERRORS, Database, WriteBatch

LAYOUT_VERSION = b"\x01"
RECOVERY_HINT = "delete the datadir's indexes/ directory; the node rebuilds it from its blocks"

VERSION_KEY = b"V"
TIP_KEY = b"T"
TX_PREFIX = b"t"
SPENDER_PREFIX = b"s"
HISTORY_PREFIX = b"h"
UTXO_PREFIX = b"u"
STATS_PREFIX = b"S"

_U32 = struct.Struct(">I")
TX_VALUE = struct.Struct(">II32s")  # height, position, block hash
SPENDER_VALUE = struct.Struct(">32sII")  # txid, vin, height
UTXO_VALUE = struct.Struct(">QI")  # value, height
STATS_VALUE = struct.Struct(">5Q")  # tx_count, funded count, funded sum, spent count, spent sum
HEIGHT_POS = struct.Struct(">II")
_ZERO_STATS = (0, 0, 0, 0, 0)

_sha256 = hashlib.sha256


def script_hash(script_pubkey: bytes) -> bytes:
    """Electrum's and Esplora's script hash, in internal byte order."""
    return _sha256(script_pubkey).digest()


def outpoint_key(txid: bytes, n: int) -> bytes:
    return txid + _U32.pack(n)


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    p = bytearray(prefix)
    while p and p[-1] == 0xFF:
        p.pop()
    if not p:
        return None
    p[-1] += 1
    return bytes(p)


class IndexDB(Database):
    """The ``indexes/`` database: a :class:`Database` that can also read a key range, either
    way, and stop at its end (history paging reads exactly the keys it returns)."""

    __slots__ = ()

    def __init__(self, path: Path) -> None:
        super().__init__(path, create=True, recovery_hint=RECOVERY_HINT)

    def range(self, start: bytes | None, stop: bytes | None,
              reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for keys in ``[start, stop)``, ascending or (``reverse``) descending."""
        try:
            with self._db.iterator(start=start, stop=stop, reverse=reverse,
                                   verify_checksums=True) as it:
                yield from it
        except _PLYVEL_ERRORS as exc:
            raise self._error(exc, "read from") from None


def _stats_add(db: Database, batch: WriteBatch, deltas: dict[bytes, list[int]]) -> None:
    """Apply per-script-hash deltas to the running ``S`` totals (read, add, write)."""
    get = db.get
    unpack = STATS_VALUE.unpack
    pack = STATS_VALUE.pack
    for sh, d in deltas.items():
        key = STATS_PREFIX + sh
        raw = get(key)
        if raw is not None:
            c = unpack(raw)
            d = [c[0] + d[0], c[1] + d[1], c[2] + d[2], c[3] + d[3], c[4] + d[4]]
        if not any(d):
            batch.delete(key)
        elif min(d) < 0:
            raise db.corrupted(f"script hash {sh[::-1].hex()} would have negative totals")
        else:
            batch.put(key, pack(*d))


def spent_from_undo(coins: Sequence[Coin]) -> list[tuple[bytes, int]]:
    """(script hash, value) of each coin of one transaction's undo data."""
    return [(_sha256(c.txout.script_pubkey).digest(), c.txout.value) for c in coins]


def write_connect(db: Database, block: Block, height: int,
                  spent: Sequence[Sequence[tuple[bytes, int]]]) -> None:
    """Index ``block`` at ``height``. ``spent`` holds, for each non-coinbase transaction, the
    (script hash, value) of the output each input spends (see :func:`spent_from_undo`). One
    batch, with the new tip.

    Operations go to the batch in block order, so an output created and spent in the same
    block is put, then deleted: LevelDB applies a batch in order."""
    block_hash = block.hash
    batch = db.new_batch()
    put = batch.put
    delete = batch.delete
    deltas: dict[bytes, list[int]] = {}
    u32 = _U32.pack
    hp_pack = HEIGHT_POS.pack
    spender_pack = SPENDER_VALUE.pack
    utxo_pack = UTXO_VALUE.pack
    sha = _sha256
    for pos, tx in enumerate(block.txs):
        txid = tx.txid
        hp = hp_pack(height, pos)
        put(TX_PREFIX + txid, hp + block_hash)
        touched: dict[bytes, None] = {}
        if pos:
            for vin, (txin, (sh, value)) in enumerate(zip(tx.vin, spent[pos - 1], strict=True)):
                prev = txin.prevout
                op = prev.txid + u32(prev.n)
                put(SPENDER_PREFIX + op, spender_pack(txid, vin, height))
                delete(UTXO_PREFIX + sh + op)
                d = deltas.get(sh)
                if d is None:
                    d = deltas[sh] = [0, 0, 0, 0, 0]
                d[3] += 1
                d[4] += value
                touched[sh] = None
        for n, out in enumerate(tx.vout):
            spk = out.script_pubkey
            if spk[:1] == b"\x6a" or len(spk) > MAX_SCRIPT_SIZE:  # is_unspendable, inlined
                continue
            sh = sha(spk).digest()
            put(UTXO_PREFIX + sh + txid + u32(n), utxo_pack(out.value, height))
            d = deltas.get(sh)
            if d is None:
                d = deltas[sh] = [0, 0, 0, 0, 0]
            d[1] += 1
            d[2] += out.value
            touched[sh] = None
        for sh in touched:
            put(HISTORY_PREFIX + sh + hp + txid, b"")
            deltas[sh][0] += 1
    _finish(db, batch, deltas, block_hash)


def write_disconnect(db: Database, block: Block, height: int,
                     undo: Sequence[Sequence[Coin]]) -> None:
    """Remove ``block`` (at ``height``, the index tip) from the index: the exact inverse of
    :func:`write_connect`, in one batch, with the tip moved to its parent.

    Last transaction first, each one's outputs before its inputs: an output created and spent
    in this block is restored by its spender, then deleted with its creator."""
    batch = db.new_batch()
    put = batch.put
    delete = batch.delete
    deltas: dict[bytes, list[int]] = {}
    u32 = _U32.pack
    hp_pack = HEIGHT_POS.pack
    utxo_pack = UTXO_VALUE.pack
    sha = _sha256
    for pos in range(len(block.txs) - 1, -1, -1):
        tx = block.txs[pos]
        txid = tx.txid
        delete(TX_PREFIX + txid)
        touched: dict[bytes, None] = {}
        for n, out in enumerate(tx.vout):
            spk = out.script_pubkey
            if spk[:1] == b"\x6a" or len(spk) > MAX_SCRIPT_SIZE:
                continue
            sh = sha(spk).digest()
            delete(UTXO_PREFIX + sh + txid + u32(n))
            d = deltas.get(sh)
            if d is None:
                d = deltas[sh] = [0, 0, 0, 0, 0]
            d[1] -= 1
            d[2] -= out.value
            touched[sh] = None
        if pos:
            coins = undo[pos - 1]
            for vin, txin in enumerate(tx.vin):
                coin = coins[vin]
                txout = coin.txout
                prev = txin.prevout
                op = prev.txid + u32(prev.n)
                delete(SPENDER_PREFIX + op)
                sh = sha(txout.script_pubkey).digest()
                put(UTXO_PREFIX + sh + op, utxo_pack(txout.value, coin.height))
                d = deltas.get(sh)
                if d is None:
                    d = deltas[sh] = [0, 0, 0, 0, 0]
                d[3] -= 1
                d[4] -= txout.value
                touched[sh] = None
        hp = hp_pack(height, pos)
        for sh in touched:
            delete(HISTORY_PREFIX + sh + hp + txid)
            deltas[sh][0] -= 1
    _finish(db, batch, deltas, block.header.prev_hash)


def _finish(db: Database, batch: WriteBatch, deltas: dict[bytes, list[int]],
            tip: bytes) -> None:
    _stats_add(db, batch, deltas)
    batch.put(TIP_KEY, tip)
    db.write(batch)


def wipe(db: Database, chunk: int = 50_000) -> None:
    """Delete every key (a rebuild follows), in bounded batches."""
    while True:
        keys = []
        for key, _ in db.iterate():
            keys.append(key)
            if len(keys) >= chunk:
                break
        if not keys:
            return
        with db.batch() as batch:
            for key in keys:
                batch.delete(key)

