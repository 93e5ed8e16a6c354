"""Orphan transactions: ones whose inputs are unknown, kept until a parent arrives (Core's
TxOrphanage). Bounded in count and size, expiring, and indexed by the outpoints they spend so
that a newly accepted transaction finds the orphans it unblocks at once."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from node.consensus.errors import ValidationError
from node.consensus.primitives import OutPoint, Tx

from .mempool import Mempool, MempoolEntry
from .policy import MAX_STANDARD_TX_WEIGHT

DEFAULT_MAX_ORPHAN_TRANSACTIONS = 100  # Core: -maxorphantx
ORPHAN_TX_EXPIRE_TIME = 20 * 60  # Core: orphans older than 20 minutes are dropped


@dataclass(slots=True)
class Orphan:
    tx: Tx
    peer: int  # who sent it (-1: local), so a misbehaving peer's orphans can be dropped
    expires: float


class Orphanage:
    def __init__(self, max_orphans: int = DEFAULT_MAX_ORPHAN_TRANSACTIONS,
                 clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.max_orphans = max_orphans
        self.clock = clock
        self.rng = rng or random.Random()
        self.orphans: dict[bytes, Orphan] = {}  # by wtxid
        self._by_prevout: dict[OutPoint, set[bytes]] = {}

    def __len__(self) -> int:
        return len(self.orphans)

    def __contains__(self, wtxid: bytes) -> bool:
        return wtxid in self.orphans

    def add(self, tx: Tx, peer: int = -1) -> bool:
        """Keep ``tx`` until its parents arrive. Refuses huge ones (they would let a peer fill
        memory cheaply); evicts a random orphan when full, as Core does."""
        if tx.wtxid in self.orphans or tx.weight > MAX_STANDARD_TX_WEIGHT:
            return False
        self.expire()
        while len(self.orphans) >= self.max_orphans:
            self._erase(self.rng.choice(list(self.orphans)))
        self.orphans[tx.wtxid] = Orphan(tx, peer, self.clock() + ORPHAN_TX_EXPIRE_TIME)
        for txin in tx.vin:
            self._by_prevout.setdefault(txin.prevout, set()).add(tx.wtxid)
        return True

    def missing_parents(self, tx: Tx, mempool: Mempool) -> list[bytes]:
        """Txids of the parents to ask peers for: inputs neither in the pool nor the UTXO set."""
        return sorted({i.prevout.txid for i in tx.vin
                       if i.prevout.txid not in mempool
                       and mempool.chain.get_coin(i.prevout) is None})

    def children_of(self, tx: Tx) -> list[Tx]:
        wtxids: set[bytes] = set()
        for n in range(len(tx.vout)):
            wtxids |= self._by_prevout.get(OutPoint(tx.txid, n), set())
        return [self.orphans[w].tx for w in wtxids]

    def erase_for_peer(self, peer: int) -> int:
        doomed = [w for w, o in self.orphans.items() if o.peer == peer]
        for w in doomed:
            self._erase(w)
        return len(doomed)

    def expire(self) -> int:
        now = self.clock()
        doomed = [w for w, o in self.orphans.items() if o.expires <= now]
        for w in doomed:
            self._erase(w)
        return len(doomed)

    def _erase(self, wtxid: bytes) -> None:
        orphan = self.orphans.pop(wtxid, None)
        if orphan is None:
            return
        for txin in orphan.tx.vin:
            waiting = self._by_prevout.get(txin.prevout)
            if waiting is not None:
                waiting.discard(wtxid)
                if not waiting:
                    del self._by_prevout[txin.prevout]


def accept_with_orphans(mempool: Mempool, orphanage: Orphanage, tx: Tx,
                        peer: int = -1) -> list[MempoolEntry]:
    """Accept ``tx``; if its inputs are missing keep it as an orphan (and re-raise); if it is
    accepted, accept every orphan it unblocks, transitively. Returns what entered the pool."""
    try:
        accepted = [mempool.accept(tx)]
    except ValidationError as e:
        if e.reason == "bad-txns-inputs-missingorspent" and \
                orphanage.missing_parents(tx, mempool):
            orphanage.add(tx, peer)
        raise
    queue = [tx]
    while queue:
        parent = queue.pop()
        for child in orphanage.children_of(parent):
            try:
                accepted.append(mempool.accept(child))
            except ValidationError as e:
                if e.reason == "bad-txns-inputs-missingorspent" and \
                        orphanage.missing_parents(child, mempool):
                    continue  # still waits for another parent
                orphanage._erase(child.wtxid)  # invalid: forget it
                continue
            orphanage._erase(child.wtxid)
            queue.append(child)
    return accepted
