"""Connecting blocks of 2,000 one-in-two-out P2WPKH transactions with cold caches, as inputs
per second, beside the raw signature-verify rate of the same backend in the same run.

Target (issue 3): block connect reaches at least 50% of (workers x raw verify rate).

Each block goes in as bytes through ``ChainState.process_raw_block`` (the import path), so
parsing, CheckBlock, storing the block and the undo data are all timed. With two workers the
bound is the total CPU: the node's own Python per input must stay below one raw verify, as
the helper can only take signature checks off it.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from pathlib import Path

from node.chain.chainstate import ChainState
from node.chain.script_check import default_workers
from node.consensus import crypto
from node.consensus.hashes import hash160
from node.consensus.params import REGTEST
from node.consensus.primitives import OutPoint, Tx, TxIn, TxOut
from node.consensus.script.sighash import SIGHASH_ALL, PrecomputedTxData, segwit_v0_sighash
from node.mining.blocktools import build_block, create_coinbase, solve, with_witness_commitment

from .report import Figure

TXS_PER_BLOCK = 2_000
BLOCKS = 5
TARGET = 0.5


class _Key:
    __slots__ = ("secret", "pubkey", "h160", "spk", "script_code")

    def __init__(self, i: int) -> None:
        self.secret = hashlib.sha256(b"bench key %d" % i).digest()
        self.pubkey = crypto.pubkey_from_secret(self.secret)
        self.h160 = hash160(self.pubkey)
        self.spk = b"\x00\x14" + self.h160
        self.script_code = b"\x76\xa9\x14" + self.h160 + b"\x88\xac"


def _sign(tx: Tx, keys: list[_Key], amounts: list[int], triples: list) -> Tx:
    cache = PrecomputedTxData(tx)
    vin = []
    for i, (txin, key, amount) in enumerate(zip(tx.vin, keys, amounts, strict=True)):
        digest = segwit_v0_sighash(key.script_code, tx, i, SIGHASH_ALL, amount, cache)
        sig = crypto.sign(key.secret, digest)
        triples.append((key.pubkey, sig, digest))
        vin.append(TxIn(txin.prevout, b"", txin.sequence, (sig + b"\x01", key.pubkey)))
    return Tx(tx.version, tuple(vin), tx.vout, tx.locktime)


def _next_block(chain: ChainState, txs: list[Tx], owner: _Key) -> object:
    tip = chain.tip
    fees = sum(0 for _ in txs)
    cb = create_coinbase(tip.height + 1, REGTEST.block_subsidy(tip.height + 1) + fees, owner.spk)
    block = build_block(tip.hash, with_witness_commitment([cb, *txs]), tip.time + 1, tip.bits)
    return solve(block, REGTEST)


def prepare(datadir: Path, workers: int) -> tuple[ChainState, list, list]:
    """A chain with BLOCKS x TXS_PER_BLOCK spendable P2WPKH outputs of distinct keys, and the
    blocks (not yet connected) that spend them, with their raw verify triples."""
    miner = _Key(-1)
    chain = ChainState(REGTEST, datadir, script_workers=workers)
    coinbases = []
    for _ in range(101 + BLOCKS):
        block = _next_block(chain, [], miner)
        chain.process_block(block)
        coinbases.append(block.txs[0])
    keys = [_Key(i) for i in range(BLOCKS * TXS_PER_BLOCK)]
    fanouts = []
    for b in range(BLOCKS):
        cb = coinbases[b]
        value = cb.vout[0].value
        share = (value - 100_000) // TXS_PER_BLOCK
        outs = tuple(TxOut(share, keys[b * TXS_PER_BLOCK + i].spk) for i in range(TXS_PER_BLOCK))
        fanouts.append(_sign(Tx(2, (TxIn(OutPoint(cb.txid, 0)),), outs), [miner], [value], []))
    chain.process_block(_next_block(chain, fanouts, miner))
    # A node starts its verify helpers once, at its first big block: not part of a connect.
    chain.script_checker.start()
    blocks, triples = [], []
    for b, fan in enumerate(fanouts):
        txs = []
        for i, out in enumerate(fan.vout):
            key = keys[b * TXS_PER_BLOCK + i]
            half = (out.value - 1_000) // 2
            unsigned = Tx(2, (TxIn(OutPoint(fan.txid, i)),),
                          (TxOut(half, key.spk), TxOut(half, miner.spk)))
            txs.append(_sign(unsigned, [key], [out.value], triples))
        blocks.append(txs)
    return chain, blocks, triples


def measure(workers: int) -> tuple[float, float, float]:
    """(median block-connect inputs/s, median raw single-core verify rate, median ratio).

    Each block is paired with its own reference: the raw verification of that block's own
    signatures, measured just before it connects. A ratio is taken per pair and the median
    reported, so a burst of load on this shared machine spoils one pair, not every figure."""
    verify = crypto.get_backend().verify
    with tempfile.TemporaryDirectory() as tmp:
        chain, block_txs, triples = prepare(Path(tmp) / "node", workers)
        rates, raw_rates, ratios = [], [], []
        miner = _Key(-1)
        for b, txs in enumerate(block_txs):
            block = _next_block(chain, txs, miner)
            raw_block = block.serialize()
            chain.flush()  # cold: the inputs are read from LevelDB, not the cache
            # Cold means cold for keys too: every verify here parses its public key, as in a
            # block of new keys (the backend's key cache would otherwise remember it).
            crypto.clear_caches()
            start = time.perf_counter()
            for pub, sig, digest in triples[b * TXS_PER_BLOCK:(b + 1) * TXS_PER_BLOCK]:
                verify(pub, sig, digest)
            raw_rate = TXS_PER_BLOCK / (time.perf_counter() - start)
            crypto.clear_caches()
            start = time.perf_counter()
            # As a block from a file or a peer: from its bytes, parsing included.
            chain.process_raw_block(raw_block)
            rate = len(txs) / (time.perf_counter() - start)
            assert chain.tip.hash == block.hash
            rates.append(rate)
            raw_rates.append(raw_rate)
            ratios.append(rate / (raw_rate * workers))
        chain.close()
    return statistics.median(rates), statistics.median(raw_rates), statistics.median(ratios)


def run() -> list[Figure]:
    backend = crypto.get_backend().name
    figures = []
    for workers in sorted({1, default_workers()}):
        value, raw_rate, ratio = measure(workers)
        figures.append(Figure(name=f"block_connect.p2wpkh.{backend}.workers{workers}",
                              value=value, unit="inputs/s", reference=raw_rate * workers,
                              ratio=ratio, target=TARGET))
    return figures


if __name__ == "__main__":  # pragma: no cover
    for f in run():
        print(f.line())
