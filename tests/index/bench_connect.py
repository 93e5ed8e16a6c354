"""What indexing costs per connected block (issue 5 wants < 25% of block-connect time).

Run: ``.venv/bin/python -m tests.index.bench_connect [--txs 500] [--runs 5]``

A regtest chain gets a block of ``--txs`` one-input, two-output P2WPKH payments to distinct
scripts (so every output is a new script hash: the index's worst case for stats reads). The
block is connected on fresh copies of one datadir, with the indexes following the chain, and
the time inside the index's listeners is compared with the rest of ``process_block`` (less
the mempool's own listener). Two cases: a block from a peer (scripts verified at connect, spent
outputs read from undo data), and a block whose transactions came through the mempool (scripts
cached, so connecting is cheaper; the index takes spent outputs from its pool records).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from node.chain.chainstate import ChainState
from node.consensus.params import REGTEST
from node.consensus.primitives import OutPoint, TxOut
from node.index import Indexes
from node.mempool.mempool import Mempool
from tests.chain.builder import BlockMaker


def prepare(path: Path, n_txs: int):
    maker = BlockMaker()
    wallet = maker.wallet
    with ChainState(REGTEST, path) as chain:
        for _ in range(101):
            chain.process_block(maker.block(chain.tip))
        cb = chain.at_height(1)
        coinbase = chain.read_block(cb).txs[0]
        value = coinbase.vout[0].value
        each = (value - 100_000) // n_txs
        fan = wallet.spend([(OutPoint(coinbase.txid, 0), value)],
                           [TxOut(each, wallet.script_pubkey)] * n_txs)
        chain.process_block(maker.block(chain.tip, [fan], fees=value - each * n_txs))
        txs = []
        for i in range(n_txs):
            a = b"\x00\x14" + hashlib.sha256(b"a%d" % i).digest()[:20]
            b = b"\x00\x14" + hashlib.sha256(b"b%d" % i).digest()[:20]
            half = (each - 1_000) // 2
            txs.append(wallet.spend([(OutPoint(fan.txid, i), each)],
                                    [TxOut(half, a), TxOut(each - 1_000 - half, b)]))
        block = maker.block(chain.tip, txs, fees=1_000 * n_txs)
        ix = Indexes(path, chain, None)  # index the prepared chain once, in the base copy
        ix.start()
        ix.stop()
    return block


def _timed(listener, name: str, spent: dict[str, float]) -> None:
    inner = getattr(listener, name)

    def wrapper(*args):
        t = time.perf_counter()
        inner(*args)
        spent[name] = spent.get(name, 0.0) + time.perf_counter() - t

    setattr(listener, name, wrapper)


def run(base: Path, work: Path, block, via_pool: bool) -> tuple[float, float]:
    """(seconds connecting, without listeners; seconds in the index) for one connect."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base, work)
    with ChainState(REGTEST, work) as chain:
        pool = None
        if via_pool:
            pool = Mempool(chain, script_cache=chain.script_checker.cache)
            chain.listeners.append(pool)  # first, as node.app wires it
        ix = Indexes(work, chain, pool)
        ix.start()
        if pool is not None:
            for tx in block.txs[1:]:
                pool.accept(tx)
        index_time: dict[str, float] = {}
        pool_time: dict[str, float] = {}
        _timed(ix, "block_connected", index_time)
        _timed(ix, "tx_removed", index_time)
        if pool is not None:
            _timed(pool, "block_connected", pool_time)
        t0 = time.perf_counter()
        chain.process_block(block)
        total = time.perf_counter() - t0
        assert ix.tip == block.hash
        ix.stop()
    in_index = sum(index_time.values())
    # The pool's handler includes the index's tx_removed calls: count those once.
    in_pool = sum(pool_time.values()) - index_time.get("tx_removed", 0.0)
    return total - in_index - in_pool, in_index


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--txs", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        block = prepare(base, args.txs)
        print(f"block: {len(block.txs)} txs, {len(block.serialize())} bytes")
        for via_pool in (False, True):
            results = [run(base, Path(tmp) / "work", block, via_pool) for _ in range(args.runs)]
            connect = statistics.median(r[0] for r in results)
            index = statistics.median(r[1] for r in results)
            label = "txs came through the mempool (scripts cached)" if via_pool else \
                "block from a peer (scripts verified at connect)"
            print(f"{label}: connect {connect * 1e3:.1f} ms, index {index * 1e3:.1f} ms, "
                  f"index / connect = {index / connect:.1%}")


if __name__ == "__main__":
    main()
