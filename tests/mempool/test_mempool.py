"""The mempool: acceptance with Core's reasons, replacement, package limits, chain events."""

from __future__ import annotations

import pytest

from node.consensus.errors import ValidationError
from node.consensus.primitives import OutPoint, TxOut
from node.mempool.mempool import Mempool, MempoolLimits


def reason(env, tx):
    with pytest.raises(ValidationError) as e:
        env.pool.accept(tx)
    return e.value.reason


def test_accepts_a_standard_spend_and_tracks_fee_and_size(env):
    tx = env.pay([env.coinbase(1)], fee=2_000)
    entry = env.pool.accept(tx)
    assert tx.txid in env.pool and entry.fee == 2_000
    assert entry.vsize == tx.vsize
    assert env.pool.total_fees == 2_000 and env.pool.total_vsize == tx.vsize


@pytest.mark.parametrize("case,expected", [
    ("missing", "bad-txns-inputs-missingorspent"),
    ("immature", "bad-txns-premature-spend-of-coinbase"),
    ("low-fee", "min relay fee not met"),
    ("dust", "dust"),
    ("non-final", "non-final"),
    ("duplicate", "txn-already-in-mempool"),
    ("overspend", "bad-txns-in-belowout"),
    ("bad-signature", "mandatory-script-verify-flag-failed"),
])
def test_rejects_with_core_reason(env, case, expected):
    w = env.wallet
    if case == "missing":
        tx = env.pay([(OutPoint(b"\x07" * 32, 0), 50 * 10**8)])
    elif case == "immature":
        tx = env.pay([env.coinbase(110)])
    elif case == "low-fee":
        tx = env.pay([env.coinbase(1)], fee=50)
    elif case == "dust":
        op, value = env.coinbase(1)
        tx = w.spend([(op, value)], [TxOut(100, w.script_pubkey),
                                     TxOut(value - 10_000, w.script_pubkey)])
    elif case == "non-final":
        tx = env.pay([env.coinbase(1)], locktime=env.chain.height + 5)
    elif case == "duplicate":
        tx = env.pay([env.coinbase(1)])
        env.pool.accept(tx)
    elif case == "overspend":
        op, value = env.coinbase(1)
        tx = w.spend([(op, value)], [TxOut(value + 1, w.script_pubkey)])
    else:
        tx = env.pay([env.coinbase(1)])
        sig, pub = tx.vin[0].witness
        bad_sig = sig[:-5] + bytes([sig[-5] ^ 1]) + sig[-4:]
        from node.consensus.primitives import Tx, TxIn
        tx = Tx(tx.version, (TxIn(tx.vin[0].prevout, b"", tx.vin[0].sequence,
                                  (bad_sig, pub)),), tx.vout, tx.locktime)
    assert reason(env, tx).startswith(expected)
    if case != "duplicate":
        assert tx.txid not in env.pool


def test_child_pays_for_parent_bookkeeping(env):
    parent = env.pay([env.coinbase(1)], fee=1_000)
    pe = env.pool.accept(parent)
    child = env.pay([(OutPoint(parent.txid, 0), parent.vout[0].value)], fee=20_000)
    ce = env.pool.accept(child)
    assert ce.parents == {pe} and pe.children == {ce}
    assert ce.ancestor_count == 2 and ce.ancestor_fees == 21_000
    assert pe.descendant_count == 2 and pe.descendant_fees == 21_000
    assert ce.ancestor_size == pe.vsize + ce.vsize


def test_rejects_the_26th_transaction_of_a_chain(env):
    op, value = env.coinbase(1)
    for _ in range(25):
        tx = env.pay([(op, value)], fee=1_000, outputs=1)
        env.pool.accept(tx)
        op, value = OutPoint(tx.txid, 0), tx.vout[0].value
    tx = env.pay([(op, value)], fee=1_000, outputs=1)
    assert reason(env, tx) == "too-long-mempool-chain"
    assert len(env.pool) == 25


def test_replacement_needs_more_fee_and_fee_rate(env):
    coin = env.coinbase(1)
    original = env.pay([coin], fee=2_000)
    env.pool.accept(original)
    assert reason(env, env.pay([coin], fee=1_500, outputs=1)) == "insufficient fee"
    # Paying the old fee plus less than its own relay cost is not enough either (rule 4).
    assert reason(env, env.pay([coin], fee=2_050)) == "insufficient fee"
    replacement = env.pay([coin], fee=5_000)
    env.pool.accept(replacement)
    assert replacement.txid in env.pool and original.txid not in env.pool


def test_replacement_evicts_descendants_and_must_outbid_them(env):
    coin = env.coinbase(1)
    parent = env.pay([coin], fee=1_000)
    env.pool.accept(parent)
    child = env.pay([(OutPoint(parent.txid, 0), parent.vout[0].value)], fee=30_000)
    env.pool.accept(child)
    # Outbids the parent, not parent + child: rule 3.
    assert reason(env, env.pay([coin], fee=10_000)) == "insufficient fee"
    winner = env.pay([coin], fee=40_000)
    env.pool.accept(winner)
    assert parent.txid not in env.pool and child.txid not in env.pool
    assert winner.txid in env.pool


def test_replacement_may_not_add_unconfirmed_inputs(env):
    a = env.pay([env.coinbase(1)], fee=1_000)
    b = env.pay([env.coinbase(2)], fee=1_000)
    env.pool.accept(a)
    env.pool.accept(b)
    # Replaces a but also spends b's output, a new unconfirmed input.
    rep = env.pay([env.coinbase(1), (OutPoint(b.txid, 0), b.vout[0].value)], fee=50_000)
    assert reason(env, rep) == "replacement-adds-unconfirmed"


def test_block_connect_removes_confirmed_and_conflicting(env):
    a = env.pay([env.coinbase(1)])
    b = env.pay([env.coinbase(2)])
    env.pool.accept(a)
    env.pool.accept(b)
    # A block confirms a, and a double spend of b's input that never was in the pool.
    b_conflict = env.pay([env.coinbase(2)], fee=3_000)
    block = env.maker.block(env.chain.tip, [a, b_conflict], fees=1_000 + 3_000)
    env.chain.process_block(block)
    assert env.chain.tip.hash == block.hash
    assert a.txid not in env.pool  # confirmed
    assert b.txid not in env.pool  # its input was spent by the block's b_conflict
    assert len(env.pool) == 0 and env.pool.total_vsize == 0 and not env.pool.spenders


def test_script_cache_spares_verification_at_block_connect(env):
    tx = env.pay([env.coinbase(1)])
    env.pool.accept(tx)
    cache = env.chain.script_checker.cache
    assert cache.covers(tx.wtxid, 0)
    seen = []
    original = env.chain.script_checker.session

    def spy(flags):
        session = original(flags)
        seen.append(session)
        return session

    env.chain.script_checker.session = spy
    env.mine([tx])
    assert seen and seen[0].skipped == 1


def test_disconnected_block_puts_its_transactions_back(env):
    tx = env.pay([env.coinbase(1)])
    env.pool.accept(tx)
    fork = env.chain.tip
    env.mine([tx])
    assert tx.txid not in env.pool
    # A longer branch without tx: tx returns to the pool.
    prev = fork
    for _ in range(2):
        block = env.maker.block(prev)
        prev = env.chain.process_block(block)
    assert env.chain.tip is prev
    assert tx.txid in env.pool


def test_size_cap_evicts_lowest_fee_rate_and_raises_the_minimum_fee(env):
    cheap = env.pay([env.coinbase(1)], fee=1_000)
    dear = env.pay([env.coinbase(2)], fee=50_000)
    env.pool.accept(cheap)
    env.pool.accept(dear)
    env.pool.limits.max_bytes = env.pool.memory_usage()  # room for two, not three
    third = env.pay([env.coinbase(3)], fee=40_000)
    env.pool.accept(third)
    assert cheap.txid not in env.pool and dear.txid in env.pool and third.txid in env.pool
    assert env.pool.min_fee_rate() > env.pool.limits.min_relay_fee
    # A transaction paying the plain relay fee no longer gets in.
    env.pool.limits.max_bytes = 10**9
    assert reason(env, env.pay([env.coinbase(4)], fee=200)) == "mempool min fee not met"
    # The minimum decays back with time.
    env.clock.now += 14 * 24 * 3600
    assert env.pool.min_fee_rate() == env.pool.limits.min_relay_fee


def test_expiry_after_fourteen_days_takes_descendants(env):
    parent = env.pay([env.coinbase(1)])
    env.pool.accept(parent)
    env.clock.now += 3600
    child = env.pay([(OutPoint(parent.txid, 0), parent.vout[0].value)])
    env.pool.accept(child)
    env.clock.now += MempoolLimits().expiry_seconds - 1800
    assert env.pool.expire() == 2
    assert len(env.pool) == 0


def test_snapshot_and_load_keep_transactions_and_entry_times(env):
    parent = env.pay([env.coinbase(1)])
    env.pool.accept(parent)
    child = env.pay([(OutPoint(parent.txid, 0), parent.vout[0].value)])
    env.pool.accept(child)
    saved = env.pool.snapshot()
    fresh = Mempool(env.chain, clock=env.clock)
    assert fresh.load(saved) == 2
    assert fresh.get(child.txid).ancestor_count == 2
    assert [t for t, _ in saved][0].txid == parent.txid


def test_reorg_relinks_a_child_returning_before_its_parent(env):
    # Block N-1 confirms parent, block N confirms child (spending parent's output).
    fork = env.chain.tip
    parent = env.pay([env.coinbase(1)], fee=1_000)
    env.pool.accept(parent)
    env.mine([parent])
    child = env.pay([(OutPoint(parent.txid, 0), parent.vout[0].value)], fee=1_000)
    env.pool.accept(child)
    env.mine([child])
    # A longer branch from before both: disconnecting puts child back first, then parent.
    prev = fork
    for _ in range(3):
        prev = env.chain.process_block(env.maker.block(prev))
    assert env.chain.tip is prev
    pe, ce = env.pool.get(parent.txid), env.pool.get(child.txid)
    assert ce.parents == {pe} and pe.children == {ce}
    assert ce.ancestor_count == 2 and pe.descendant_count == 2
    assert pe.descendant_fees == 2_000 and ce.ancestor_fees == 2_000
    # Evicting the parent (here by a conflicting block) must take the child with it.
    double_spend = env.pay([env.coinbase(1)], fee=9_000)
    env.chain.process_block(env.maker.block(env.chain.tip, [double_spend], fees=9_000))
    assert parent.txid not in env.pool and child.txid not in env.pool
