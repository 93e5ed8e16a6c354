"""The proof-of-work search: the midstate scan against a plain double-SHA-256 reference, the
worker-process pool (solving, splitting, cancelling, preempting, stopping), its asyncio face,
and the extranonce-rolling block solver."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time

import pytest

from node.consensus.hashes import sha256d
from node.consensus.params import COIN, MAIN, REGTEST
from node.consensus.pow import check_proof_of_work, derive_target, target_to_compact
from node.consensus.primitives import BlockHeader
from node.consensus.script.script import push_int
from node.mining.blocktools import coinbase_script_sig
from node.mining.pow_search import (
    NONCE_SPACE,
    PowSearcher,
    make_block_builder,
    scan,
    solve_block,
    solve_block_async,
)

REGTEST_BITS = REGTEST.genesis_bits
REGTEST_TARGET = derive_target(REGTEST_BITS, REGTEST.pow_limit)
GENESIS = REGTEST.genesis.header


def header76(time_offset: int = 600, bits: int = REGTEST_BITS) -> bytes:
    """A regtest block-1 header without its nonce."""
    return BlockHeader(0x20000000, GENESIS.hash, bytes(range(32)), GENESIS.time + time_offset,
                       bits, 0).serialize()[:76]


HEADER = header76()


def reference_solutions(h76: bytes, target: int, start: int, end: int) -> list[int]:
    """Every solving nonce in [start, end), the plain way: no midstate, no shortcuts."""
    return [n for n in range(start, end)
            if int.from_bytes(sha256d(h76 + n.to_bytes(4, "little")), "little") <= target]


def hash_int(h76: bytes, nonce: int) -> int:
    return int.from_bytes(sha256d(h76 + nonce.to_bytes(4, "little")), "little")


def solves(h76: bytes, nonce: int, bits: int = REGTEST_BITS) -> bool:
    return check_proof_of_work(sha256d(h76 + nonce.to_bytes(4, "little")), bits, REGTEST)


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.002)


# -- scan --------------------------------------------------------------------------------------
def test_scan_finds_the_first_solution_of_the_reference():
    target = 1 << 248  # one hash in 256
    expected = reference_solutions(HEADER, target, 0, 3000)
    assert len(expected) >= 3
    assert scan(HEADER, target, 0, 3000) == expected[0]


def test_scan_honours_start_and_end():
    target = 1 << 248
    sols = reference_solutions(HEADER, target, 0, 3000)
    first, second = sols[0], sols[1]
    assert scan(HEADER, target, 0, first) is None  # end is exclusive
    assert scan(HEADER, target, first, first + 1) == first
    assert scan(HEADER, target, first + 1, 3000) == second  # start is inclusive
    assert scan(HEADER, target, first + 1, second) is None
    assert scan(HEADER, target, 5, 5) is None  # an empty range


def test_scan_returns_none_when_no_nonce_meets_the_target():
    assert reference_solutions(HEADER, 0, 0, 2000) == []
    assert scan(HEADER, 0, 0, 2000) is None


def test_scan_compares_the_whole_hash_at_the_boundary():
    # A target equal to a hash accepts it (<=); one less rejects it, though the top byte,
    # the quick check, still passes.
    value = hash_int(HEADER, 77)
    assert scan(HEADER, value, 77, 78) == 77
    assert scan(HEADER, value - 1, 77, 78) is None
    # The quick check must not reject a hash whose top byte equals the target's.
    top_only = (value >> 248) << 248 | ((1 << 248) - 1)
    assert scan(HEADER, top_only, 77, 78) == 77


def test_scan_reaches_the_top_of_the_nonce_space():
    h = header76(1)
    sols = reference_solutions(h, 1 << 250, NONCE_SPACE - 500, NONCE_SPACE)
    assert scan(h, 1 << 250, NONCE_SPACE - 500, NONCE_SPACE) == sols[0]


@pytest.mark.parametrize("args", [(b"\0" * 75, 1, 0, 1), (HEADER, 1, 5, 4),
                                  (HEADER, 1, 0, NONCE_SPACE + 1), (HEADER, 1, -1, 3)])
def test_scan_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        scan(*args)


# -- PowSearcher -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def searcher1():
    with PowSearcher(workers=1) as s:
        yield s


@pytest.fixture(scope="module")
def searcher2():
    with PowSearcher(workers=2) as s:
        yield s


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def searcher(request, searcher1, searcher2):
    return searcher1 if request.param == 1 else searcher2


def test_solves_regtest_headers(searcher):
    for offset in range(600, 605):
        h = header76(offset)
        nonce = searcher.solve(h, REGTEST_TARGET)
        assert nonce is not None and solves(h, nonce)


def test_splits_a_harder_search_across_chunks(searcher):
    target = 1 << 242  # one hash in 16,384: the solution lies many 256-nonce chunks in
    lowest = scan(HEADER, target, 0, NONCE_SPACE)
    assert lowest > 8 * 256
    nonce = searcher.solve(HEADER, target, chunk=256)
    assert nonce is not None and hash_int(HEADER, nonce) <= target
    if searcher.workers == 1:
        assert nonce == lowest  # one worker takes the chunks in order


def test_honours_the_nonce_range(searcher1):
    target = 1 << 248
    sols = reference_solutions(HEADER, target, 0, 3000)
    assert searcher1.solve(HEADER, target, chunk=64, start=sols[0] + 1) == sols[1]
    assert searcher1.solve(HEADER, target, chunk=64, start=0, end=sols[0]) is None


def test_returns_none_when_the_range_is_exhausted(searcher):
    assert searcher.solve(HEADER, 0, chunk=1 << 12, end=1 << 15) is None


def test_cancel_returns_promptly_and_abandons_outstanding_work(searcher2):
    cancel = threading.Event()
    fired: list[float] = []

    def fire() -> None:
        fired.append(time.monotonic())
        cancel.set()

    timer = threading.Timer(0.15, fire)
    timer.start()
    try:
        # 2**20-nonce jobs take each worker ~0.7 s; an impossible target never ends on its own.
        assert searcher2.solve(HEADER, 0, cancel, chunk=1 << 20) is None
    finally:
        timer.cancel()
    assert time.monotonic() - fired[0] < 0.3
    # Two such jobs per worker were outstanding. Had the workers kept hashing them, this easy
    # search would queue behind up to ~1.4 s of stale work.
    start = time.monotonic()
    nonce = searcher2.solve(HEADER, REGTEST_TARGET)
    assert time.monotonic() - start < 0.3
    assert solves(HEADER, nonce)


def test_a_new_search_preempts_the_stale_one(searcher2):
    stale: list[int | None] = []
    thread = threading.Thread(
        target=lambda: stale.append(searcher2.solve(HEADER, 0, chunk=1 << 20)))
    thread.start()
    try:
        wait_until(lambda: searcher2.searching)
        new_tip = header76(1200)
        start = time.monotonic()
        nonce = searcher2.solve(new_tip, REGTEST_TARGET)
        assert time.monotonic() - start < 0.3
        assert solves(new_tip, nonce)
    finally:
        thread.join(5)
    assert not thread.is_alive() and stale == [None]


def _no_children_among(pids: list[int]) -> bool:
    alive = {p.pid for p in multiprocessing.active_children()}
    return alive.isdisjoint(pids)


def test_stop_leaves_no_processes():
    searcher = PowSearcher(workers=2)
    searcher.start()
    pids = searcher.pids
    assert len(pids) == 2 and not _no_children_among(pids)
    assert searcher.solve(HEADER, REGTEST_TARGET) is not None
    searcher.stop()
    assert _no_children_among(pids)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    searcher.stop()  # idempotent
    with pytest.raises(RuntimeError):
        searcher.solve(HEADER, REGTEST_TARGET)


def test_stop_during_a_search_ends_it():
    searcher = PowSearcher(workers=2)
    searcher.start()
    pids = searcher.pids
    result: list[int | None] = []
    thread = threading.Thread(target=lambda: result.append(searcher.solve(HEADER, 0)))
    thread.start()
    try:
        wait_until(lambda: searcher.searching)
        start = time.monotonic()
        searcher.stop()
        assert time.monotonic() - start < 1.0  # workers exited on request, not by timeout
    finally:
        thread.join(5)
    assert result == [None]
    assert _no_children_among(pids)


# -- asyncio -----------------------------------------------------------------------------------
def test_solve_async_does_not_block_the_loop(searcher2):
    async def main() -> tuple[int | None, int | None, float, int]:
        cancel = asyncio.Event()
        gaps: list[float] = []

        async def ticker() -> None:
            last = time.monotonic()
            while not cancel.is_set():
                await asyncio.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now
                if len(gaps) == 40:
                    cancel.set()

        ticking = asyncio.create_task(ticker())
        impossible = await asyncio.wait_for(searcher2.solve_async(HEADER, 0, cancel), 5)
        await asyncio.wait_for(ticking, 5)
        solved = await asyncio.wait_for(searcher2.solve_async(HEADER, REGTEST_TARGET), 5)
        return impossible, solved, max(gaps), len(gaps)

    impossible, solved, max_gap, ticks = asyncio.run(main())
    assert impossible is None and ticks == 40
    assert max_gap < 0.1  # the loop kept turning while the workers hashed
    assert solves(HEADER, solved)


def test_cancelling_the_awaiting_task_stops_the_search(searcher2):
    async def main() -> None:
        task = asyncio.create_task(searcher2.solve_async(HEADER, 0))
        deadline = time.monotonic() + 5
        while not searcher2.searching:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.002)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        deadline = time.monotonic() + 0.5
        while searcher2.searching:
            assert time.monotonic() < deadline, "the search outlived its task"
            await asyncio.sleep(0.002)

    asyncio.run(main())


# -- blocks and the extranonce -----------------------------------------------------------------
def builder(bits: int, calls: list[int]):
    build = make_block_builder(GENESIS.hash, 1, 50 * COIN, b"\x51", (), GENESIS.time + 600, bits)

    def recorded(extranonce: int):
        calls.append(extranonce)
        return build(extranonce)
    return recorded


HARD_BITS = target_to_compact(1 << 248)  # one hash in 256, yet within regtest's limit


@pytest.mark.parametrize("use_searcher", [False, True], ids=["in-process", "searcher"])
def test_solve_block_rolls_the_extranonce_when_the_range_is_exhausted(use_searcher, searcher2):
    calls: list[int] = []
    block = solve_block(builder(HARD_BITS, calls), REGTEST,
                        searcher2 if use_searcher else None, nonce_end=16, chunk=4,
                        max_extranonce=1000)
    assert block is not None
    assert len(calls) >= 2 and calls == list(range(len(calls)))
    # The earlier extranonces had no solution among nonces 0..15; the last one has.
    for extranonce in calls[:-1]:
        h76 = builder(HARD_BITS, [])(extranonce).header.serialize()[:76]
        assert reference_solutions(h76, 1 << 248, 0, 16) == []
    assert block.txs[0].vin[0].script_sig == coinbase_script_sig(1, push_int(calls[-1]))
    assert block.header.nonce < 16
    assert check_proof_of_work(block.hash, HARD_BITS, REGTEST)


def test_solve_block_gives_up_after_max_extranonce():
    calls: list[int] = []
    bits = MAIN.genesis_bits  # ~2**32 hashes a block: nothing in 64 nonces
    assert solve_block(builder(bits, calls), MAIN, nonce_end=64, max_extranonce=3) is None
    assert calls == [0, 1, 2]


def test_solve_block_with_regtest_difficulty(searcher1):
    block = solve_block(builder(REGTEST_BITS, []), REGTEST, searcher1)
    assert block is not None and check_proof_of_work(block.hash, REGTEST_BITS, REGTEST)
    assert block.header.merkle_root == block.txs[0].txid


def test_solve_block_async(searcher2):
    calls: list[int] = []
    block = asyncio.run(asyncio.wait_for(solve_block_async(
        builder(HARD_BITS, calls), REGTEST, searcher2, nonce_end=16, chunk=4,
        max_extranonce=1000), 5))
    assert block is not None and len(calls) >= 2
    assert check_proof_of_work(block.hash, HARD_BITS, REGTEST)


def test_solve_block_rejects_bits_above_the_pow_limit():
    with pytest.raises(ValueError):
        solve_block(builder(REGTEST_BITS, []), MAIN, max_extranonce=1)
