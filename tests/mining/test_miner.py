"""Mining on demand and continuously, on regtest and on devnet's real proof of work."""

from __future__ import annotations

import asyncio
import time

import pytest

from node.chain.chainstate import ChainState
from node.consensus.params import DEVNET, MAIN
from node.consensus.pow import calculate_next_work_required, compact_to_target
from node.mining.assembler import create_template
from node.mining.miner import Miner, generate
from node.mining.pow_search import PowSearcher, solve_block

SCRIPT = b"\x00\x14" + bytes(20)


def test_generate_confirms_the_pool_and_pays_the_fees(env):
    tx = env.pay([env.coinbase(1)], fee=7_000)
    env.pool.accept(tx)
    start = env.chain.height
    hashes = generate(env.chain, env.pool, 3, SCRIPT)
    assert env.chain.height == start + 3 and env.chain.tip.hash == hashes[-1]
    assert len(env.pool) == 0
    first = env.chain.read_block(hashes[0])
    assert first.txs[1].txid == tx.txid
    assert first.txs[0].vout[0].value == env.chain.params.block_subsidy(start + 1) + 7_000


def test_generate_is_refused_outside_regtest_and_devnet(tmp_path):
    with ChainState(MAIN, tmp_path / "m") as chain:
        with pytest.raises(ValueError, match="regtest and devnet"):
            generate(chain, None, 1, SCRIPT)


def test_miner_service_mines_on_regtest_without_blocking_the_loop(env):
    async def scenario():
        with PowSearcher(1) as searcher:
            miner = Miner(env.chain, env.pool, SCRIPT, searcher)
            start = env.chain.height
            miner.start()
            ticks = 0
            deadline = time.monotonic() + 30
            while env.chain.height < start + 3:
                assert time.monotonic() < deadline, "miner too slow"
                await asyncio.sleep(0.01)
                ticks += 1
            await miner.stop()
            assert not miner.running
            assert ticks > 0
        return start

    start = asyncio.run(scenario())
    assert env.chain.height >= start + 3


def _devnet_block(chain, time_):
    # The midstate scan in this process: several times faster than blocktools.solve.
    return solve_block(lambda extranonce: create_template(DEVNET, chain.tip, None, SCRIPT, time_,
                                                          extranonce).block, DEVNET)


def test_devnet_retargets_harder_when_blocks_come_fast_then_easier_when_slow(tmp_path):
    interval = DEVNET.difficulty_adjustment_interval  # 20 blocks, 10 s each
    with ChainState(DEVNET, tmp_path / "d", clock=lambda: 2_000_000_000) as chain:
        t = DEVNET.genesis_time
        # A period of blocks 5 s apart: twice too fast.
        while chain.height < interval - 1:
            t += 5
            chain.process_block(_devnet_block(chain, t))
        first_of_period = chain.active[0]
        t += 5
        fast = _devnet_block(chain, t)
        expected = calculate_next_work_required(
            chain.tip.bits, chain.tip.time, first_of_period.time, DEVNET)
        assert fast.header.bits == expected
        # Bitcoin's rule measures 19 spacings (95 s here) against the 200 s timespan (its
        # off-by-one): the target shrinks by 95/200.
        ratio = compact_to_target(DEVNET.genesis_bits)[0] / compact_to_target(fast.header.bits)[0]
        assert ratio == pytest.approx(200 / 95, rel=0.001)
        chain.process_block(fast)
        assert chain.tip.hash == fast.hash
        # A period of blocks 30 s apart: three times too slow, so easier again.
        while chain.height < 2 * interval - 1:
            t += 30
            chain.process_block(_devnet_block(chain, t))
        t += 30
        slow = _devnet_block(chain, t)
        assert compact_to_target(slow.header.bits)[0] > compact_to_target(fast.header.bits)[0]
        chain.process_block(slow)
        assert chain.tip.hash == slow.hash


def test_two_miners_on_one_devnet_chain_only_make_valid_blocks(tmp_path):
    """Two miners race on one chain: each new tip abandons the other's stale work, and every
    block either connects or loses a race; none is invalid."""
    rejected = []

    async def scenario(chain):
        with PowSearcher(1) as s1, PowSearcher(1) as s2:
            miners = [Miner(chain, None, SCRIPT, s1), Miner(chain, None, b"\x51", s2)]
            for m in miners:
                m.start()
            deadline = time.monotonic() + 60
            while chain.height < 8:
                assert time.monotonic() < deadline, "devnet mining too slow"
                await asyncio.sleep(0.02)
            for m in miners:
                await m.stop()
            return [m.blocks_found for m in miners]

    with ChainState(DEVNET, tmp_path / "d") as chain:
        original = chain.process_block

        def recording(block, raw=None):
            try:
                return original(block, raw)
            except Exception as e:  # pragma: no cover - the assertion below reports it
                rejected.append(e)
                raise

        chain.process_block = recording
        found = asyncio.run(scenario(chain))
        assert not rejected
        assert sum(found) >= 8
        assert not any(i.is_failed() for i in chain.index.values())


def test_miner_rebuilds_its_template_when_the_pool_pays_more(env):
    miner = Miner(env.chain, env.pool, SCRIPT, searcher=None)  # type: ignore[arg-type]
    # As after building a template holding 10,000 sat of fees.
    miner._template_fees = 10_000
    env.pool.accept(env.pay([env.coinbase(1)], fee=10_000))
    assert not miner.mempool_improved()  # the same fees: keep mining the template
    env.pool.accept(env.pay([env.coinbase(2)], fee=2_000))
    assert miner.mempool_improved()  # 20% more: worth a new template
