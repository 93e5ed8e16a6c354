"""Which queued announcements one trickle sends, and in what order: live ones only, at most
INVENTORY_BROADCAST_MAX, parents before children (fewer in-pool ancestors first), then higher
fee rate first, then the order they were queued in; the rest stay queued in their order."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from node.mempool.mempool import MempoolEntry
from node.p2p import relay as relay_mod
from node.p2p.messages import MSG_TX, MSG_WTX, Inv
from node.p2p.relay import TxRelay


@dataclass(eq=False)
class FakeTx:
    """What relay and MempoolEntry read of a transaction: its two hashes, made from a name."""
    name: str
    txid: bytes = field(init=False)
    wtxid: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.txid = self.name.encode().ljust(32, b"t")
        self.wtxid = self.name.encode().ljust(32, b"w")


def entry(name: str, ancestor_count: int, fee: int, vsize: int = 100) -> MempoolEntry:
    """A real pool entry, so the order follows MempoolEntry's own txid and fee_rate."""
    return MempoolEntry(FakeTx(name), fee, vsize, sigop_cost=0, time=0,  # type: ignore[arg-type]
                        height=0, ancestor_count=ancestor_count)


@dataclass
class FakePool:
    entries: dict[bytes, MempoolEntry] = field(default_factory=dict)

    def get(self, txid: bytes) -> MempoolEntry | None:
        return self.entries.get(txid)


@dataclass
class FakePeer:
    wtxid_relay: bool
    fee_filter: int = 1000  # sat/kvB: an entry needs fee >= vsize
    known_txs: set[bytes] = field(default_factory=set)
    sent: list[Inv] = field(default_factory=list)

    def send(self, msg: Inv) -> None:
        self.sent.append(msg)


def names(entries) -> list[str]:
    return [e.tx.name for e in entries]


@pytest.mark.parametrize("wtxid_relay", [True, False])
def test_a_trickle_sends_parents_first_then_by_fee_rate_then_in_queue_order(monkeypatch,
                                                                             wtxid_relay):
    monkeypatch.setattr(relay_mod, "INVENTORY_BROADCAST_MAX", 5)
    entries = [
        entry("a", 1, 1000), entry("b", 2, 5000), entry("c", 1, 2000),
        entry("d", 1, 1000),  # ties with a: after it
        entry("e", 3, 100_000), entry("f", 1, 3000, vsize=200),
        entry("g", 1, 9000),  # replaced in the pool: dropped
        entry("h", 1, 50),  # below the peer's fee filter: dropped
        entry("i", 2, 5000), entry("j", 1, 2000), entry("k", 1, 1000),
        entry("l", 1, 9000),  # gone from the pool: dropped
    ]
    pool = FakePool({e.txid: e for e in entries if e.tx.name != "l"})
    pool.entries[entries[6].txid] = entry("g", 1, 9000)  # same txid, another entry
    relay = TxRelay(pool, {}, None, None, lambda p: False)  # type: ignore[arg-type]
    peer = FakePeer(wtxid_relay)
    queue = {e.txid: e for e in entries}
    by_hash = {(e.tx.wtxid if wtxid_relay else e.txid): e.tx.name for e in entries}

    def sent_names() -> list[str]:
        (inv,) = peer.sent
        peer.sent.clear()
        assert {i.type for i in inv.items} == {MSG_WTX if wtxid_relay else MSG_TX}
        return [by_hash[i.hash] for i in inv.items]

    relay._send_queue(peer, queue)  # type: ignore[arg-type]
    assert sent_names() == ["c", "j", "f", "a", "d"]
    assert names(queue.values()) == ["b", "e", "i", "k"]  # still in queue order
    relay._send_queue(peer, queue)  # type: ignore[arg-type]
    assert sent_names() == ["k", "b", "i", "e"]
    assert queue == {}
    assert {by_hash[h] for h in peer.known_txs} == set("abcdefijk")
    relay._send_queue(peer, queue)  # type: ignore[arg-type]
    assert peer.sent == []


def test_a_queue_of_nothing_live_is_emptied_and_sends_nothing():
    dead = entry("x", 1, 1000)
    relay = TxRelay(FakePool(), {}, None, None, lambda p: False)  # type: ignore[arg-type]
    peer = FakePeer(True)
    queue = {dead.txid: dead}
    relay._send_queue(peer, queue)  # type: ignore[arg-type]
    assert queue == {} and peer.sent == [] and peer.known_txs == set()
