"""Block templates: child pays for parent, limits, the coinbase, and validity."""

from __future__ import annotations

import pytest

from node.consensus.primitives import OutPoint
from node.mining.assembler import create_template, select_transactions
from node.mining.blocktools import solve


def test_cpfp_package_beats_a_higher_single_fee_rate(env):
    parent = env.pay([env.coinbase(1)], fee=1_000)  # ~7 sat/vB
    single = env.pay([env.coinbase(2)], fee=5_000)  # ~35 sat/vB
    pe = env.pool.accept(parent)
    se = env.pool.accept(single)
    child = env.pay([(OutPoint(parent.txid, 0), parent.vout[0].value)], fee=20_000)
    ce = env.pool.accept(child)
    assert ce.ancestor_fee_rate > se.fee_rate > pe.fee_rate
    # Room for two transactions only (Core counts a package as its vsize x 4, and needs
    # strictly less than the limit): the package must win over the single tx.
    room = (pe.vsize + ce.vsize) * 4 + 1
    chosen, fees, weight, _ = select_transactions(env.pool, env.chain.height + 1,
                                                  env.chain.tip.median_time_past(),
                                                  max_weight=room)
    assert [e.tx.txid for e in chosen] == [parent.txid, child.txid]
    assert fees == 21_000 and weight <= room


def test_included_ancestors_no_longer_count_for_their_children(env):
    # A high-fee parent is taken on its own; its low-fee child then competes alone.
    parent = env.pay([env.coinbase(1)], fee=40_000)
    env.pool.accept(parent)
    child = env.pay([(OutPoint(parent.txid, 0), parent.vout[0].value)], fee=1_000)
    env.pool.accept(child)
    other = env.pay([env.coinbase(2)], fee=3_000)
    env.pool.accept(other)
    chosen, *_ = select_transactions(env.pool, env.chain.height + 1,
                                     env.chain.tip.median_time_past())
    assert [e.tx.txid for e in chosen] == [parent.txid, other.txid, child.txid]


@pytest.mark.parametrize("n_txs", [0, 5])
def test_template_is_a_valid_block_paying_subsidy_plus_fees(env, n_txs):
    txs = [env.pay([env.coinbase(h)], fee=1_000 + h) for h in range(1, n_txs + 1)]
    for tx in txs:
        env.pool.accept(tx)
    tip = env.chain.tip
    template = create_template(env.chain.params, tip, env.pool, env.wallet.script_pubkey,
                               now=tip.time + 60)
    coinbase = template.block.txs[0]
    expected_fees = sum(1_000 + h for h in range(1, n_txs + 1))
    assert template.fees == expected_fees
    assert sum(o.value for o in coinbase.vout) == \
        env.chain.params.block_subsidy(tip.height + 1) + expected_fees
    assert len(template.block.txs) == n_txs + 1
    block = solve(template.block, env.chain.params)
    env.chain.process_block(block)
    assert env.chain.tip.hash == block.hash
    assert len(env.pool) == 0


def test_weight_limit_is_respected(env):
    txs = [env.pay([env.coinbase(h)], fee=2_000) for h in range(1, 11)]
    for tx in txs:
        env.pool.accept(tx)
    room = sum(t.vsize for t in txs[:4]) * 4 + 1
    chosen, _, weight, _ = select_transactions(env.pool, env.chain.height + 1,
                                               env.chain.tip.median_time_past(),
                                               max_weight=room)
    assert len(chosen) == 4 and weight <= room
