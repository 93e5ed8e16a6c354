"""Orphan transactions and saving the pool across restarts."""

from __future__ import annotations

import pytest

from node.consensus.errors import DecodeError, ValidationError
from node.consensus.primitives import OutPoint
from node.mempool.mempool import Mempool
from node.mempool.orphans import ORPHAN_TX_EXPIRE_TIME, Orphanage, accept_with_orphans
from node.mempool.persist import load_mempool, save_mempool


def _chain(env, length):
    """``length`` transactions, each spending the previous one's first output."""
    txs, (op, value) = [], env.coinbase(1)
    for _ in range(length):
        tx = env.pay([(op, value)], fee=1_000)
        txs.append(tx)
        op, value = OutPoint(tx.txid, 0), tx.vout[0].value
    return txs


def test_orphans_are_accepted_when_their_parent_arrives(env):
    orphanage = Orphanage(clock=env.clock)
    a, b, c = _chain(env, 3)
    for orphan in (c, b):  # children first: both wait
        with pytest.raises(ValidationError, match="missingorspent"):
            accept_with_orphans(env.pool, orphanage, orphan)
    assert len(orphanage) == 2 and len(env.pool) == 0
    accepted = accept_with_orphans(env.pool, orphanage, a)
    assert [e.txid for e in accepted] == [a.txid, b.txid, c.txid]
    assert len(orphanage) == 0


def test_orphanage_is_bounded_and_expires(env):
    orphanage = Orphanage(max_orphans=3, clock=env.clock)
    txs = [env.pay([(OutPoint(bytes([i]) * 32, 0), 10**8)]) for i in range(5)]
    for tx in txs:
        orphanage.add(tx)
    assert len(orphanage) == 3
    env.clock.now += ORPHAN_TX_EXPIRE_TIME + 1
    assert orphanage.expire() == 3 and len(orphanage) == 0


def test_saved_pool_loads_into_a_restarted_node(env, tmp_path):
    txs = _chain(env, 3)
    for tx in txs:
        env.pool.accept(tx)
    path = tmp_path / "mempool.dat"
    assert save_mempool(env.pool, path) == 3
    fresh = Mempool(env.chain, clock=env.clock)
    assert load_mempool(fresh, path) == (3, 3)
    assert [fresh.get(t.txid).ancestor_count for t in txs] == [1, 2, 3]
    assert fresh.get(txs[0].txid).time == env.pool.get(txs[0].txid).time


def test_a_damaged_mempool_file_is_a_clear_error(env, tmp_path):
    path = tmp_path / "mempool.dat"
    env.pool.accept(env.pay([env.coinbase(1)]))
    save_mempool(env.pool, path)
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DecodeError):
        load_mempool(Mempool(env.chain), path)
    assert load_mempool(Mempool(env.chain), tmp_path / "absent.dat") == (0, 0)
