"""The pool part of the indexes: transactions entering, confirming, being replaced or
conflicted out, and spending each other."""

from __future__ import annotations

import pytest

from node.consensus.primitives import OutPoint, TxOut
from node.index import Indexes, Spender, TxoStats, Utxo, script_hash

from .helpers import check_all, dump, fresh_dump, sign


def _pay(act, owner, fee=3_000, coin=None):
    """A one-input payment of a mature coinbase (or ``coin``) to ``owner``."""
    op = coin or act.coins.spendable(act.env.chain.height + 1)[0]
    op, value, who = act.coins.take(op)
    return sign([(op, value, who)], [TxOut(value - fee, owner.script_pubkey)])


def test_pool_tx_counts_in_mempool_stats_until_a_block_confirms_it(env, act, ix):
    alice = act.owners[1]
    sh = script_hash(alice.script_pubkey)
    tx = _pay(act, alice)
    spent = tx.vin[0].prevout
    env.pool.accept(tx)
    stats = ix.scripthash_stats(sh)
    value = tx.vout[0].value
    assert stats.chain == TxoStats()
    assert stats.mempool == TxoStats(1, value, 0, 0, 1)
    assert ix.history_mempool(sh) == [tx.txid]
    assert ix.utxos(sh) == [Utxo(OutPoint(tx.txid, 0), value, None)]
    assert ix.spender(spent) == Spender(tx.txid, 0, None)
    assert ix.tx_location(tx.txid) is None
    miner = script_hash(env.wallet.script_pubkey)
    assert ix.scripthash_stats(miner).mempool.spent_txo_count == 1
    check_all(ix, env.chain, env.pool)

    block = env.mine([tx])
    height = env.chain.height
    stats = ix.scripthash_stats(sh)
    assert stats.mempool == TxoStats()
    assert stats.chain == TxoStats(1, value, 0, 0, 1)
    assert ix.history_mempool(sh) == []
    assert [h.txid for h in ix.history_chain(sh)] == [tx.txid]
    assert ix.utxos(sh) == [Utxo(OutPoint(tx.txid, 0), value, height)]
    assert ix.spender(spent) == Spender(tx.txid, 0, height)
    assert ix.tx_location(tx.txid).block_hash == block.hash
    check_all(ix, env.chain, env.pool)


def test_replacement_takes_the_replaced_tx_out_of_the_index(env, act, ix):
    alice, bob = act.owners[1], act.owners[2]
    coin = act.coins.spendable(env.chain.height + 1)[0]
    snapshot = act.coins.copy()
    first = _pay(act, alice, fee=3_000)
    act.coins = snapshot
    second = _pay(act, bob, fee=10_000, coin=coin)
    env.pool.accept(first)
    env.pool.accept(second)
    assert first.txid not in env.pool
    assert ix.scripthash_stats(script_hash(alice.script_pubkey)).mempool == TxoStats()
    assert ix.history_mempool(script_hash(alice.script_pubkey)) == []
    assert ix.utxos(script_hash(alice.script_pubkey)) == []
    assert ix.history_mempool(script_hash(bob.script_pubkey)) == [second.txid]
    assert ix.spender(coin) == Spender(second.txid, 0, None)
    check_all(ix, env.chain, env.pool)


def test_a_block_spending_the_same_coin_conflicts_the_pool_tx_out(env, act, ix):
    alice, bob = act.owners[1], act.owners[2]
    coin = act.coins.spendable(env.chain.height + 1)[0]
    snapshot = act.coins.copy()
    pooled = _pay(act, alice)
    child = sign([(OutPoint(pooled.txid, 0), pooled.vout[0].value, alice)],
                 [TxOut(pooled.vout[0].value - 3_000, bob.script_pubkey)])
    env.pool.accept(pooled)
    env.pool.accept(child)
    act.coins = snapshot
    mined = _pay(act, bob, coin=coin)
    act.mine(env.chain.tip, [mined])
    assert pooled.txid not in env.pool and child.txid not in env.pool
    for owner in (alice, bob):
        assert ix.scripthash_stats(script_hash(owner.script_pubkey)).mempool == TxoStats()
        assert ix.history_mempool(script_hash(owner.script_pubkey)) == []
    assert ix.spender(coin) == Spender(mined.txid, 0, env.chain.height)
    assert ix.spender(OutPoint(pooled.txid, 0)) is None
    check_all(ix, env.chain, env.pool)


def test_pool_chains_spend_pool_outputs(env, act, ix):
    alice, bob = act.owners[1], act.owners[2]
    a_sh, b_sh = script_hash(alice.script_pubkey), script_hash(bob.script_pubkey)
    parent = _pay(act, alice)
    v = parent.vout[0].value
    child = sign([(OutPoint(parent.txid, 0), v, alice)],
                 [TxOut(v // 2, bob.script_pubkey), TxOut(v // 2 - 3_000, alice.script_pubkey)])
    env.pool.accept(parent)
    env.pool.accept(child)
    assert ix.spender(OutPoint(parent.txid, 0)) == Spender(child.txid, 0, None)
    assert ix.scripthash_stats(a_sh).mempool == TxoStats(2, v + v // 2 - 3_000, 1, v, 2)
    assert ix.history_mempool(a_sh) == [child.txid, parent.txid]
    assert ix.history_mempool(a_sh, limit=1) == [child.txid]
    assert ix.utxos(a_sh) == [Utxo(OutPoint(child.txid, 1), v // 2 - 3_000, None)]
    assert ix.utxos(b_sh) == [Utxo(OutPoint(child.txid, 0), v // 2, None)]
    check_all(ix, env.chain, env.pool)

    env.mine([parent])  # the child stays in the pool, now spending a confirmed output
    assert ix.scripthash_stats(a_sh).chain == TxoStats(1, v, 0, 0, 1)
    assert ix.scripthash_stats(a_sh).mempool == TxoStats(1, v // 2 - 3_000, 1, v, 1)
    assert ix.history_mempool(a_sh) == [child.txid]
    assert OutPoint(parent.txid, 0) not in {u.outpoint for u in ix.utxos(a_sh)}
    check_all(ix, env.chain, env.pool)

    tip = env.chain.tip
    env.mine([child])
    assert ix.scripthash_stats(a_sh).mempool == TxoStats()
    check_all(ix, env.chain, env.pool)
    # A reorg that drops both blocks puts both transactions back in the pool.
    prev = tip.prev
    for _ in range(3):
        prev = act.mine(prev, [])
    assert parent.txid in env.pool and child.txid in env.pool
    # Newest first by arrival: the child's block was disconnected (and re-added) first.
    assert ix.history_mempool(a_sh) == [parent.txid, child.txid]
    assert ix.history_chain(a_sh) == []
    check_all(ix, env.chain, env.pool)


@pytest.mark.parametrize("index_first", [False, True])
def test_blocks_of_pool_txs_index_the_same_as_from_undo_data(env, act, tmp_path, index_first):
    """Spent outputs of confirmed pool transactions come from the pool's records (whether the
    pool hears of the block before or after the index): the result equals a fresh index
    built from undo data alone."""
    ix = Indexes(tmp_path / "ix", env.chain, env.pool)
    ix.start()
    if index_first:
        env.chain.listeners.reverse()
    try:
        act.blocks(2, txs_per_block=5)
        for _ in range(12):
            env.pool.accept(act.tx(act.coins, env.chain.height + 1))
        check_all(ix, env.chain, env.pool)
        undo_reads = []
        read_undo = ix._undo_data
        ix._undo_data = lambda *a: undo_reads.append(a) or read_undo(*a)
        for count in (4, 3):
            ready = [e.tx for e in env.pool.entries.values() if not e.parents]
            act.mine(env.chain.tip, ready[:count])
        assert undo_reads == [] and len(env.pool) >= 5
        check_all(ix, env.chain, env.pool)
        assert dump(ix) == fresh_dump(tmp_path, env.chain)
    finally:
        ix.stop()
