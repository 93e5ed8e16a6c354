"""Fee estimates: never empty, from the projected blocks of the pool and recent full blocks."""

from __future__ import annotations

from node.mempool.fees import TARGETS, FeeEstimator


def test_empty_pool_gives_the_minimum_relay_rate_for_every_target(env):
    est = FeeEstimator(env.pool)
    table = est.estimates()
    assert list(table) == list(TARGETS)
    assert set(table.values()) == {1.0}


def test_backlog_sets_the_rate_needed_for_each_target(env):
    # Blocks of ~300 vB hold two of these ~110-vB transactions each.
    est = FeeEstimator(env.pool, block_vsize=300)
    fees = [20_000, 15_000, 9_000, 6_000, 3_000, 2_000, 1_500]
    for height, fee in enumerate(fees, start=1):
        env.pool.accept(env.pay([env.coinbase(height)], fee=fee, outputs=1))
    table = est.estimates()
    rates = sorted((e.fee_rate for e in env.pool.entries.values()), reverse=True)
    # Projected block 1 ends with the 3rd best, block 2 with the 6th: at least those rates.
    assert table[1] == round(rates[2], 3)
    assert table[2] == round(rates[5], 3)
    assert table[3] == 1.0  # beyond the backlog: the minimum relay rate
    values = [table[t] for t in TARGETS]
    assert values == sorted(values, reverse=True)  # more patience never costs more
    assert est.estimate(2) == table[2] and est.estimate(2000) == table[1008]


def test_recent_full_blocks_put_a_floor_under_short_targets(env):
    est = FeeEstimator(env.pool, block_vsize=200)
    env.pool.listeners.append(est)
    env.chain.listeners.append(est)  # after the mempool: it sees the block's removals first
    txs = [env.pay([env.coinbase(h)], fee=5_000, outputs=1) for h in (1, 2)]
    for tx in txs:
        env.pool.accept(tx)
    env.mine(txs)  # a full block that paid ~45 sat/vB
    assert len(env.pool) == 0
    assert est.estimates()[1] > 40  # the pool is empty, but the last block was contested
