"""The tx and script-hash indexes against a brute-force recomputation from the blocks: queries,
reorgs (the index ends byte-identical to one built on the winning chain alone), restart
catch-up, paging and bounded reads."""

from __future__ import annotations

import pytest

from node.consensus.primitives import OutPoint, TxOut
from node.index import HistoryItem, Indexes, TooManyUtxos, script_hash
from node.index.store import TIP_KEY, VERSION_KEY

from .helpers import check_all, dump, fresh_dump, sign


def test_every_query_matches_a_recomputation_from_the_blocks(env, act, ix, tmp_path):
    act.blocks(5, txs_per_block=6)
    check_all(ix, env.chain, env.pool)
    assert dump(ix) == fresh_dump(tmp_path, env.chain)


def test_genesis_coinbase_is_indexed_and_op_return_outputs_are_not(env, act, ix):
    genesis = env.chain.active[0]
    cb = env.chain.params.genesis.txs[0]
    loc = ix.tx_location(cb.txid)
    assert (loc.block_hash, loc.height, loc.position) == (genesis.hash, 0, 0)
    sh = script_hash(cb.vout[0].script_pubkey)
    assert ix.scripthash_stats(sh).chain.funded_txo_count == 1
    tip = env.chain.tip
    tx = act.tx(act.coins, tip.height + 1, op_return=True)
    act.mine(tip, [tx])
    assert ix.scripthash_stats(script_hash(b"\x6a\x04test")).chain.tx_count == 0
    assert ix.tx_location(tx.txid).height == tip.height + 1


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_reorg_leaves_the_index_as_if_the_losing_branch_never_happened(env, act, ix, tmp_path,
                                                                       depth):
    act.blocks(2)
    fork = env.chain.tip
    h = fork.height + 1
    at_fork = act.coins.copy()
    # X is confirmed on both branches, at different heights and positions.
    x = act.tx(at_fork, h, n_in=2)
    at_fork.spend_outputs(x)  # nothing else spends X: it confirms at different heights
    side_a, side_b = at_fork.copy(), at_fork.copy()
    first_a = act.tx(side_a, h)
    # B's first transaction double-spends A's first: A's spends must vanish from the index.
    op = first_a.vin[0].prevout
    value, owner = at_fork.coins[op].value, at_fork.coins[op].owner
    side_b.coins.pop(op)
    double = sign([(op, value, owner)], [TxOut(value - 3_000, act.owners[-1].script_pubkey)])
    side_b.add_tx(double, act.by_script, h)

    prev = fork
    for i in range(depth):
        txs = [x, first_a] if i == 0 else []
        txs += act.txs(side_a, prev.height + 1, 3)
        prev = act.mine(prev, txs, side_a)
    tip_a = prev
    assert env.chain.tip is tip_a
    assert ix.tx_location(x.txid).height == fork.height + 1

    prev = fork
    for i in range(depth + 1):
        txs = [double] if i == 0 else []
        txs += act.txs(side_b, prev.height + 1, 2)
        if i == depth:
            txs.insert(1, x)
        prev = act.mine(prev, txs, side_b)
    assert env.chain.tip is prev
    loc = ix.tx_location(x.txid)
    assert (loc.height, loc.position) == (fork.height + depth + 1, 2)
    assert ix.tx_location(first_a.txid) is None
    check_all(ix, env.chain, env.pool)
    assert dump(ix) == fresh_dump(tmp_path, env.chain, "fresh-b")

    # And back again: branch A outgrows B.
    prev = tip_a
    for _ in range(2):
        prev = act.mine(prev, act.txs(side_a, prev.height + 1, 2), side_a)
    assert env.chain.tip is prev
    check_all(ix, env.chain, env.pool)
    assert dump(ix) == fresh_dump(tmp_path, env.chain, "fresh-a")


def test_restart_catches_up_across_a_reorg_made_while_stopped(env, act, tmp_path):
    ix = Indexes(tmp_path / "ix", env.chain, env.pool)
    ix.start()
    act.blocks(1)
    coins = act.coins.copy()  # as of the block below the index tip
    act.blocks(1)
    stopped_at = env.chain.tip
    ix.stop()
    assert env.chain.listeners == [env.pool]
    # While stopped: one block on the index tip, then a longer branch from below it.
    act.mine(stopped_at, act.txs(act.coins, stopped_at.height + 1, 3))
    prev = stopped_at.prev
    for _ in range(4):
        prev = act.mine(prev, act.txs(coins, prev.height + 1, 3), coins)
    assert not env.chain.is_active(stopped_at)
    act.coins = coins
    pending = act.tx(act.coins, env.chain.height + 1)
    env.pool.accept(pending)
    ix.start()
    try:
        assert ix.tip == env.chain.tip.hash
        assert dump(ix) == fresh_dump(tmp_path, env.chain)
        check_all(ix, env.chain, env.pool)
        # Pool contents at start are indexed (the reorg put the lost block's txs back too).
        assert ix.history_mempool(script_hash(pending.vout[0].script_pubkey))[0] == pending.txid
    finally:
        ix.stop()


@pytest.mark.parametrize("damage", ["layout-version", "unknown-tip"])
def test_an_unusable_index_is_rebuilt_on_start(env, act, tmp_path, damage):
    ix = Indexes(tmp_path / "ix", env.chain, None)
    ix.start()
    act.blocks(1)
    if damage == "layout-version":
        ix.db.put(VERSION_KEY, b"\x00")
    else:
        ix.db.put(TIP_KEY, b"\x42" * 32)
    ix.stop()
    ix.start()
    try:
        assert dump(ix) == fresh_dump(tmp_path, env.chain)
    finally:
        ix.stop()


def _chain_of_payments(env, act, owner, count, per_block):
    """``count`` transactions each paying ``owner``, ``per_block`` to a block."""
    txs = []
    prevs = [act.coins.take(op) for op in act.coins.spendable(env.chain.height + 1)[:2]]
    while len(txs) < count:
        block_txs = []
        for _ in range(min(per_block, count - len(txs))):
            op, value, who = prevs.pop(0)
            tx = sign([(op, value, who)], [TxOut(value - 1_000, owner.script_pubkey)])
            prevs.append((OutPoint(tx.txid, 0), value - 1_000, owner))
            block_txs.append(tx)
        block = env.maker.block(env.chain.tip, block_txs, fees=1_000 * len(block_txs))
        env.chain.process_block(block)
        txs.extend(block_txs)
    return txs


def test_history_pages_with_last_seen_txid(env, act, ix):
    owner = act.owners[2]
    sh = script_hash(owner.script_pubkey)
    txs = _chain_of_payments(env, act, owner, 60, 13)
    newest_first = []
    for index in reversed(env.chain.active):
        block = env.chain.read_block(index)
        for tx in reversed(block.txs):
            if tx in txs:
                newest_first.append(HistoryItem(tx.txid, index.height, index.hash))
    assert len(newest_first) == 60
    page1 = ix.history_chain(sh)
    assert page1 == newest_first[:25]
    page2 = ix.history_chain(sh, page1[-1].txid)
    assert page2 == newest_first[25:50]
    page3 = ix.history_chain(sh, page2[-1].txid)
    assert page3 == newest_first[50:]
    assert ix.history_chain(sh, page3[-1].txid) == []
    assert ix.history_chain(sh, newest_first[7].txid, 3) == newest_first[8:11]
    assert ix.history_chain(sh, limit=0) == []
    # Esplora answers an empty page for a txid that is not in this script's history.
    assert ix.history_chain(sh, bytes(32)) == []
    other = env.blocks[0].txs[0].txid
    assert ix.history_chain(sh, other) == []
    check_all(ix, env.chain, env.pool)


class CountingDB:
    """Wraps the index database, counting point reads and keys iterated."""

    def __init__(self, db) -> None:
        self.db = db
        self.gets = 0
        self.keys = 0

    def get(self, key):
        self.gets += 1
        return self.db.get(key)

    def range(self, *args, **kw):
        for kv in self.db.range(*args, **kw):
            self.keys += 1
            yield kv

    def iterate(self, prefix=b""):
        for kv in self.db.iterate(prefix):
            self.keys += 1
            yield kv


def test_queries_read_only_what_they_return(env, act, ix, monkeypatch):
    owner = act.owners[1]
    sh = script_hash(owner.script_pubkey)
    txs = _chain_of_payments(env, act, owner, 40, 10)
    act.blocks(2)  # other scripts' keys around this one's
    counting = CountingDB(ix.db)
    monkeypatch.setattr(ix, "_db", counting)

    page = ix.history_chain(sh, limit=5)
    assert len(page) == 5 and counting.keys == 5 and counting.gets == 5
    counting.keys = counting.gets = 0
    page = ix.history_chain(sh, page[-1].txid, limit=5)
    assert len(page) == 5 and counting.keys == 5 and counting.gets == 2 + 5

    counting.keys = counting.gets = 0
    utxos = ix.utxos(sh)
    assert counting.keys == len(utxos) and counting.gets == 0
    counting.keys = 0
    miner = script_hash(env.wallet.script_pubkey)
    with pytest.raises(TooManyUtxos):
        ix.utxos(miner, limit=10)
    assert counting.keys == 11

    counting.keys = counting.gets = 0
    ix.scripthash_stats(sh)
    ix.tx_location(txs[0].txid)
    ix.spender(txs[0].vin[0].prevout)
    assert counting.keys == 0 and counting.gets == 3
