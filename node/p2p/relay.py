"""Transaction relay: announcing, fetching and accepting transactions, orphans, feefilter, BIP35.

As Bitcoin Core's net_processing does it:
- a transaction entering the mempool (from a peer, the API or a reorg) is queued for every peer
  that relays transactions, unless the peer is known to have it; each peer's queue is sent as
  one ``inv`` at random intervals (Poisson, mean 2 s for outbound and 5 s for inbound peers:
  Core's trickling, which hides where a transaction came from), ancestors first, at most 1,000
  per batch, skipping what falls below the peer's ``feefilter`` (BIP133). Peers that sent
  ``wtxidrelay`` get and give wtxids (BIP339), others txids;
- an announced transaction we lack is requested once, from the first announcer; a request that
  goes unanswered for a minute may be made again to the next announcer;
- a transaction with missing inputs waits in the orphanage and its parents are requested from
  the peer that sent it; an accepted transaction releases the orphans it unblocks;
- a consensus-invalid transaction gets its sender discouraged; one refused by policy only is
  remembered (until the next block) so it is not fetched again;
- ``mempool`` (BIP35) is answered for whitelisted or local peers only; anyone else asking is
  disconnected, as Core does without NODE_BLOOM.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from collections.abc import Awaitable, Callable
from itertools import islice
from typing import TYPE_CHECKING

from node.consensus.errors import ValidationError
from node.consensus.hashes import hash_to_hex
from node.consensus.params import MAX_MONEY
from node.consensus.primitives import Tx
from node.mempool.orphans import Orphanage

from .messages import (
    FEEFILTER_VERSION,
    MAX_INV_SZ,
    MSG_TX,
    MSG_WITNESS_FLAG,
    MSG_WITNESS_TX,
    MSG_WTX,
    FeeFilter,
    GetData,
    Inv,
    InvItem,
    NotFound,
    TxMsg,
)
from .peer import Disconnect, KnownSet, Misbehaving, Peer, cancel_and_wait

if TYPE_CHECKING:
    from node.mempool.mempool import Mempool, MempoolEntry

log = logging.getLogger("minicash.p2p")

INBOUND_INVENTORY_BROADCAST_INTERVAL = 5.0  # Core: seconds, mean
OUTBOUND_INVENTORY_BROADCAST_INTERVAL = 2.0  # Core
INVENTORY_BROADCAST_MAX = 1000  # Core (v0.21 era): most tx announcements per trickle
GETDATA_TX_INTERVAL = 60.0  # Core: a tx request expires after a minute
MAX_PEER_TX_ANNOUNCEMENTS = 5000  # Core: MAX_PEER_TX_ANNOUNCEMENTS
MAX_UNREQUESTED_TXS = 1000  # ours: a flood of transactions nobody asked for
FEEFILTER_INTERVAL = 60.0  # Core: AVG_FEEFILTER_BROADCAST_INTERVAL is 10 min; ours is shorter
# Reasons that mean the transaction breaks consensus (Core: TxValidationResult::TX_CONSENSUS).
CONSENSUS_REASONS = frozenset({
    "bad-txns-vin-empty", "bad-txns-vout-empty", "bad-txns-oversize", "bad-txns-vout-negative",
    "bad-txns-vout-toolarge", "bad-txns-txouttotal-toolarge", "bad-txns-inputs-duplicate",
    "bad-cb-length", "bad-txns-prevout-null", "bad-txns-in-belowout",
    "bad-txns-inputvalues-outofrange",
})
MISSING_INPUTS = "bad-txns-inputs-missingorspent"


class TxRelay:
    """Transactions for every peer of one :class:`P2PService`; a mempool listener."""

    def __init__(self, mempool: Mempool, peers: dict[int, Peer],
                 submit_tx: Callable[[Tx], Awaitable[MempoolEntry]],
                 punish: Callable[[int, str], None],
                 may_ask_mempool: Callable[[Peer], bool],
                 rng: random.Random | None = None) -> None:
        self.mempool = mempool
        self.peers = peers
        self.submit_tx = submit_tx
        # (peer id, reason): an orphan it sent turned out invalid once its parent came. That is
        # found in the parent sender's handler, where raising Misbehaving would hit the wrong peer.
        self.punish = punish
        self.may_ask_mempool = may_ask_mempool
        self.rng = rng or random.Random()
        self.orphanage = Orphanage()
        self.recent_rejects = KnownSet(120_000)  # Core: a rolling filter of 120,000 wtxids
        self.requested: dict[bytes, tuple[Peer, float]] = {}  # hash -> (peer, when asked)
        self._queues: dict[int, dict[bytes, MempoolEntry]] = {}  # peer -> txid -> entry
        self._next_send: dict[int, float] = {}
        self._fee_filter_sent: dict[int, int] = {}
        self._task: asyncio.Task | None = None
        self.handlers = {"tx": self.on_tx, "mempool": self.on_mempool,
                         "feefilter": self.on_feefilter, "notfound": self.on_notfound}

    def start(self) -> None:
        self.mempool.listeners.append(self)
        self._task = asyncio.get_running_loop().create_task(self._trickle_loop())

    async def stop(self) -> None:
        if self in self.mempool.listeners:
            self.mempool.listeners.remove(self)
        await cancel_and_wait(self._task)

    # -- peers -------------------------------------------------------------------------------------
    def peer_established(self, peer: Peer) -> None:
        self._queues[peer.id] = {}
        self._schedule_next(peer, time.monotonic())
        self._send_fee_filter(peer)

    def peer_gone(self, peer: Peer) -> None:
        self._queues.pop(peer.id, None)
        self._next_send.pop(peer.id, None)
        self._fee_filter_sent.pop(peer.id, None)
        for h, (p, _) in list(self.requested.items()):
            if p is peer:
                del self.requested[h]
        self.orphanage.erase_for_peer(peer.id)

    def _schedule_next(self, peer: Peer, now: float) -> None:
        if peer.whitelisted:
            self._next_send[peer.id] = now  # Core: no trickle delay for noban peers
            return
        mean = INBOUND_INVENTORY_BROADCAST_INTERVAL if peer.inbound \
            else OUTBOUND_INVENTORY_BROADCAST_INTERVAL
        self._next_send[peer.id] = now + self.rng.expovariate(1 / mean)

    def _send_fee_filter(self, peer: Peer) -> None:
        if peer.version is None or peer.version.version < FEEFILTER_VERSION:
            return
        rate = self.mempool.min_fee_rate()
        if self._fee_filter_sent.get(peer.id) != rate:
            self._fee_filter_sent[peer.id] = rate
            peer.send(FeeFilter(rate))

    # -- announcing --------------------------------------------------------------------------------
    def tx_added(self, entry: MempoolEntry) -> None:
        tx = entry.tx
        for peer in self.peers.values():
            queue = self._queues.get(peer.id)
            if queue is None or not peer.relay_txs:
                continue
            if tx.wtxid in peer.known_txs or tx.txid in peer.known_txs:
                continue
            queue[tx.txid] = entry

    def tx_removed(self, entry: MempoolEntry, reason: str) -> None:
        return None  # queues are filtered against the mempool when they are sent

    async def _trickle_loop(self) -> None:
        tick = 0.05
        last_filter = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            self.flush(now)
            if now - last_filter > FEEFILTER_INTERVAL:
                last_filter = now
                for peer in self.peers.values():
                    if peer.established and not peer.closed:
                        self._send_fee_filter(peer)
            for h, (_peer, asked) in list(self.requested.items()):
                if now - asked > GETDATA_TX_INTERVAL:
                    del self.requested[h]

    def flush(self, now: float) -> None:
        """Send the queued announcements of every peer whose trickle time has come."""
        for peer in list(self.peers.values()):
            queue = self._queues.get(peer.id)
            if not queue or self._next_send.get(peer.id, now + 1) > now or peer.closed:
                continue
            self._schedule_next(peer, now)
            self._send_queue(peer, queue)

    def _send_queue(self, peer: Peer, queue: dict[bytes, MempoolEntry]) -> None:
        pool = self.mempool
        # Entries that left the pool (or were replaced) or fall below the peer's fee filter are
        # never announced: dropped from the queue (keys are always the entry's txid). In place:
        # the queue object stays the peer's, and what remains keeps its order.
        dead = [txid for txid, e in queue.items()
                if pool.get(txid) is not e or e.fee * 1000 < peer.fee_filter * e.vsize]
        for txid in dead:
            del queue[txid]
        # Parents before children, so the receiver need not park children as orphans, then the
        # higher fee rate (Core: CompareInvMempoolOrder). Only the first INVENTORY_BROADCAST_MAX
        # are wanted: a heap picks them without sorting the whole queue, as Core's SendMessages
        # does. nsmallest is stable, as sorted()[:n]: ties go in queue order.
        batch = heapq.nsmallest(INVENTORY_BROADCAST_MAX, queue.values(),
                                key=lambda e: (e.ancestor_count, -e.fee_rate))
        for e in batch:
            del queue[e.txid]
        if not batch:
            return
        kind = MSG_WTX if peer.wtxid_relay else MSG_TX
        items = []
        for e in batch:
            h = e.tx.wtxid if peer.wtxid_relay else e.txid
            peer.known_txs.add(h)
            items.append(InvItem(kind, h))
        peer.send(Inv(tuple(items)))

    # -- fetching ----------------------------------------------------------------------------------
    def _have(self, h: bytes) -> bool:
        pool = self.mempool
        return h in pool.by_wtxid or h in pool.entries or h in self.orphanage \
            or h in self.recent_rejects

    def on_tx_inv(self, peer: Peer, items: list[InvItem]) -> None:
        wanted = []
        now = time.monotonic()
        for item in items:
            base = item.type & ~MSG_WITNESS_FLAG
            if peer.wtxid_relay and base == MSG_TX:
                continue  # BIP339: a wtxid-relay peer announcing by txid is ignored
            peer.known_txs.add(item.hash)
            if self._have(item.hash):
                continue
            asked = self.requested.get(item.hash)
            if asked is not None and now - asked[1] < GETDATA_TX_INTERVAL:
                continue
            if len(wanted) >= MAX_PEER_TX_ANNOUNCEMENTS:
                break
            self.requested[item.hash] = (peer, now)
            wanted.append(InvItem(MSG_WTX if base == MSG_WTX else MSG_WITNESS_TX, item.hash))
        if wanted:
            peer.send(GetData(tuple(wanted)))

    async def on_notfound(self, peer: Peer, msg: NotFound) -> None:
        for item in msg.items:
            entry = self.requested.get(item.hash)
            if entry is not None and entry[0] is peer:
                del self.requested[item.hash]

    async def on_tx(self, peer: Peer, msg: TxMsg) -> None:
        tx = msg.tx
        peer.known_txs.add(tx.txid)
        peer.known_txs.add(tx.wtxid)
        asked = self.requested.pop(tx.wtxid, None) or self.requested.pop(tx.txid, None)
        if asked is None:
            peer.unrequested_txs += 1
            if peer.unrequested_txs > MAX_UNREQUESTED_TXS:
                # Counted afresh: a peer spared (noban, manual) is judged on what comes next.
                count, peer.unrequested_txs = peer.unrequested_txs, 0
                raise Misbehaving(f"{count} unrequested transactions")
        if tx.wtxid in self.mempool.by_wtxid or tx.wtxid in self.recent_rejects \
                or tx.wtxid in self.orphanage:
            return
        await self._accept(peer, tx)

    async def _accept(self, peer: Peer, tx: Tx) -> None:
        try:
            await self.submit_tx(tx)
        except ValidationError as e:
            self._refused(peer, tx, e)
            return
        await self._release_orphans(tx)

    def _refused(self, peer: Peer | None, tx: Tx, e: ValidationError) -> None:
        if e.reason == MISSING_INPUTS:
            parents = self.orphanage.missing_parents(tx, self.mempool)
            if parents and not any(p in self.recent_rejects for p in parents):
                if self.orphanage.add(tx, peer.id if peer else -1) and peer is not None:
                    self._fetch_parents(peer, parents)
                return
        self.recent_rejects.add(tx.wtxid)
        if peer is not None and (e.reason in CONSENSUS_REASONS
                                 or e.reason.startswith("mandatory-script-verify-flag")):
            raise Misbehaving(f"invalid transaction {hash_to_hex(tx.txid)}: {e.reason}")
        log.debug("tx %s from %r refused: %s", hash_to_hex(tx.txid), peer, e.reason)

    def _fetch_parents(self, peer: Peer, parents: list[bytes]) -> None:
        """Ask the orphan's sender for its missing parents, by txid (Core does the same even
        with wtxid-relay peers: the orphan names its parents only by txid)."""
        now = time.monotonic()
        items = []
        for txid in parents:
            if txid in self.requested:
                continue
            self.requested[txid] = (peer, now)
            items.append(InvItem(MSG_WITNESS_TX, txid))
        if items:
            log.debug("%r: fetching %d orphan parent(s)", peer, len(items))
            peer.send(GetData(tuple(items)))

    async def _release_orphans(self, parent: Tx) -> None:
        queue = [parent]
        while queue:
            for child in self.orphanage.children_of(queue.pop()):
                owner_id = self.orphanage.orphans[child.wtxid].peer
                self.orphanage._erase(child.wtxid)
                try:
                    await self.submit_tx(child)
                except ValidationError as e:
                    try:
                        self._refused(self.peers.get(owner_id), child, e)
                    except Misbehaving as m:  # raised only for a sender still connected
                        self.punish(owner_id, str(m))
                    continue
                queue.append(child)

    # -- serving -----------------------------------------------------------------------------------
    def serve_tx(self, peer: Peer, item: InvItem) -> bool:
        pool = self.mempool
        base = item.type & ~MSG_WITNESS_FLAG
        entry = pool.by_wtxid.get(item.hash) if base == MSG_WTX else pool.get(item.hash)
        if entry is None:
            return False
        witness = base == MSG_WTX or bool(item.type & MSG_WITNESS_FLAG)
        tx = entry.tx
        peer.send_raw("tx", tx.serialize() if witness else tx.serialize_legacy())
        return True

    async def on_mempool(self, peer: Peer, msg: object) -> None:
        if not self.may_ask_mempool(peer):
            raise Disconnect("mempool request from a peer that is not whitelisted or local")
        queue = self._queues.setdefault(peer.id, {})
        for entry in islice(self.mempool.entries.values(), MAX_INV_SZ):
            tx = entry.tx
            if tx.wtxid not in peer.known_txs and tx.txid not in peer.known_txs:
                queue[tx.txid] = entry

    async def on_feefilter(self, peer: Peer, msg: FeeFilter) -> None:
        if 0 <= msg.feerate <= MAX_MONEY:  # Core ignores values outside MoneyRange
            peer.fee_filter = msg.feerate

    # -- chain listener ------------------------------------------------------------------------------
    def block_connected(self, block: object, index: object) -> None:
        """Core clears its reject filter on every new tip: a refused tx may now be valid."""
        if len(self.recent_rejects):
            self.recent_rejects = KnownSet(self.recent_rejects.limit)

    def block_disconnected(self, block: object, index: object) -> None:
        return None
