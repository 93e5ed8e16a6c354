"""Mempool and block assembly at scale (issue 4):
- acceptance of one-in-two-out P2WPKH transactions, tx/s beside the raw verify rate of the same
  signatures (target: at least 2,000 tx/s with coincurve);
- building a block template from a pool of 50,000 transactions (target: under 1 s);
- memory per pool transaction with 100,000 of them, as RSS growth over their serialized size
  (target: under 3x, after a fixed base).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

from node.chain.chainstate import ChainState
from node.consensus import crypto
from node.consensus.hashes import hash160
from node.consensus.params import REGTEST
from node.consensus.primitives import OutPoint, Tx, TxIn, TxOut
from node.consensus.script.sighash import SIGHASH_ALL, PrecomputedTxData, segwit_v0_sighash
from node.mempool.mempool import Mempool, MempoolLimits
from node.mining.assembler import create_template
from node.mining.blocktools import build_block, create_coinbase, solve, with_witness_commitment

from .import_memory import rss_bytes
from .report import Figure

FANOUT = 2_000  # outputs per funding transaction
ACCEPT_TXS = 5_000
TEMPLATE_TXS = 50_000
MEMORY_TXS = 100_000


class _Key:
    def __init__(self, seed: bytes) -> None:
        self.secret = hashlib.sha256(seed).digest()
        self.pubkey = crypto.pubkey_from_secret(self.secret)
        self.spk = b"\x00\x14" + hash160(self.pubkey)
        self.script_code = b"\x76\xa9\x14" + hash160(self.pubkey) + b"\x88\xac"

    def sign(self, tx: Tx, amounts: list[int]) -> Tx:
        cache = PrecomputedTxData(tx)
        vin = []
        for i, (txin, amount) in enumerate(zip(tx.vin, amounts, strict=True)):
            digest = segwit_v0_sighash(self.script_code, tx, i, SIGHASH_ALL, amount, cache)
            sig = crypto.sign(self.secret, digest, grind=False) + b"\x01"
            vin.append(TxIn(txin.prevout, b"", txin.sequence, (sig, self.pubkey)))
        return Tx(tx.version, tuple(vin), tx.vout, tx.locktime)


def _mine(chain: ChainState, txs: list[Tx], key: _Key) -> None:
    tip = chain.tip
    cb = create_coinbase(tip.height + 1, REGTEST.block_subsidy(tip.height + 1), key.spk)
    block = build_block(tip.hash, with_witness_commitment([cb, *txs]), tip.time + 1, tip.bits)
    chain.process_block(solve(block, REGTEST))


def funded_spends(chain: ChainState, n: int) -> list[Tx]:
    """``n`` signed one-in-two-out P2WPKH spends of confirmed outputs, all independent."""
    key = _Key(b"mempool bench")
    funders = (n + FANOUT - 1) // FANOUT
    coinbases = []
    for _ in range(100 + funders):
        _mine(chain, [], key)
        coinbases.append(chain.read_block(chain.tip).txs[0])
    fanouts = []
    for cb in coinbases[:funders]:
        value = cb.vout[0].value
        share = (value - 50_000) // FANOUT
        unsigned = Tx(2, (TxIn(OutPoint(cb.txid, 0)),),
                      tuple(TxOut(share, key.spk) for _ in range(FANOUT)))
        fanouts.append(key.sign(unsigned, [value]))
    for i in range(0, len(fanouts), 10):
        _mine(chain, fanouts[i:i + 10], key)
    spends = []
    fee_step = 0
    for fan in fanouts:
        for n_out, out in enumerate(fan.vout):
            if len(spends) == n:
                return spends
            fee_step = (fee_step + 37) % 997
            fee = 300 + fee_step * 10  # varied fee rates, all above the relay minimum
            half = (out.value - fee) // 2
            unsigned = Tx(2, (TxIn(OutPoint(fan.txid, n_out)),),
                          (TxOut(half, key.spk), TxOut(out.value - fee - half, key.spk)))
            spends.append(key.sign(unsigned, [out.value]))
    return spends


def run() -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        chain = ChainState(REGTEST, Path(tmp) / "node")
        spends = funded_spends(chain, MEMORY_TXS)
        raw_triples = []
        for tx in spends[:ACCEPT_TXS]:
            coin = chain.get_coin(tx.vin[0].prevout)
            sig, pub = tx.vin[0].witness
            digest = segwit_v0_sighash(b"\x76\xa9\x14" + coin.script_pubkey[2:] + b"\x88\xac",
                                       tx, 0, SIGHASH_ALL, coin.value)
            raw_triples.append((pub, sig[:-1], digest))
        verify = crypto.get_backend().verify
        start = time.perf_counter()
        for t in raw_triples:
            verify(*t)
        raw_rate = len(raw_triples) / (time.perf_counter() - start)

        limits = MempoolLimits(max_bytes=10**10)
        pool = Mempool(chain, limits=limits)
        base_rss = rss_bytes()
        start = time.perf_counter()
        for tx in spends[:ACCEPT_TXS]:
            pool.accept(tx)
        accept_rate = ACCEPT_TXS / (time.perf_counter() - start)
        figures.append(Figure(f"mempool.accept_p2wpkh_tx_per_s.{crypto.get_backend().name}",
                              accept_rate, "tx/s", raw_rate, accept_rate / raw_rate))
        figures.append(Figure("mempool.accept_p2wpkh_tx_per_s_vs_target", accept_rate,
                              "tx/s", 2_000, accept_rate / 2_000, target=1.0))

        for tx in spends[ACCEPT_TXS:TEMPLATE_TXS]:
            pool.accept(tx)
        start = time.perf_counter()
        template = create_template(REGTEST, chain.tip, pool, b"\x51", chain.tip.time + 1)
        build_s = time.perf_counter() - start
        assert len(template.block.txs) > 1
        figures.append(Figure("mining.template_build_50k_pool_s", build_s, "s", 1.0,
                              1.0 / build_s, target=1.0))

        for tx in spends[TEMPLATE_TXS:MEMORY_TXS]:
            pool.accept(tx)
        grown = rss_bytes() - base_rss
        serialized = sum(t.total_size for t in spends[:MEMORY_TXS])
        figures.append(Figure("mempool.rss_per_serialized_byte_100k", grown / serialized,
                              "x", 3.0, 3.0 / (grown / serialized), target=1.0))
        print(f"  pool of {len(pool)} txs: RSS +{grown / 2**20:.0f} MiB for "
              f"{serialized / 2**20:.0f} MiB serialized")
        chain.close()
    return figures


if __name__ == "__main__":  # pragma: no cover
    for f in run():
        print(f.line())
    os._exit(0)
