"""Script verification of P2WPKH and P2PKH inputs per second, per crypto backend, beside a raw
signature-verify loop of the same backend over the same (pubkey, signature, digest) triples.

The ratio (interpreter / raw) says how much the interpreter adds on top of the elliptic-curve
work. Target (issue 2): at least 0.70 with coincurve, 0.85 with ecdsa.
"""

from __future__ import annotations

import hashlib

from node.consensus import crypto
from node.consensus.primitives import OutPoint, Tx, TxIn, TxOut
from node.consensus.script.flags import STANDARD_FLAGS
from node.consensus.script.interpreter import verify_input
from node.consensus.script.script import push_data
from node.consensus.script.sighash import (
    SIGHASH_ALL,
    PrecomputedTxData,
    legacy_sighash,
    segwit_v0_sighash,
)

from .report import Figure, rate

TARGETS = {"coincurve": 0.70, "ecdsa": 0.85}
INPUTS_PER_TX = 4  # a typical small spend; legacy sighash cost grows with the input count


def _p2pkh(h160: bytes) -> bytes:
    return b"\x76\xa9\x14" + h160 + b"\x88\xac"


def build(kind: str, n_txs: int) -> tuple[list[tuple[Tx, list[tuple[bytes, int]]]],
                                          list[tuple[bytes, bytes, bytes]]]:
    """``n_txs`` signed transactions of INPUTS_PER_TX inputs, each input its own key.
    Returns the transactions with their spent outputs, and the raw verify triples."""
    txs = []
    triples = []
    for t in range(n_txs):
        secrets = [hashlib.sha256(b"%s %d %d" % (kind.encode(), t, i)).digest()
                   for i in range(INPUTS_PER_TX)]
        pubs = [crypto.pubkey_from_secret(s) for s in secrets]
        h160s = [hashlib.new("ripemd160", hashlib.sha256(p).digest()).digest() for p in pubs]
        spks = [(b"\x00\x14" + h) if kind == "p2wpkh" else _p2pkh(h) for h in h160s]
        amount = 50_000
        unsigned = Tx(2, tuple(TxIn(OutPoint(hashlib.sha256(b"%d" % t).digest(), i))
                               for i in range(INPUTS_PER_TX)),
                      (TxOut(120_000, spks[0]), TxOut(70_000, spks[1])), 0)
        cache = PrecomputedTxData(unsigned)
        vin = []
        for i, txin in enumerate(unsigned.vin):
            if kind == "p2wpkh":
                digest = segwit_v0_sighash(_p2pkh(h160s[i]), unsigned, i, SIGHASH_ALL, amount,
                                           cache)
            else:
                digest = legacy_sighash(spks[i], unsigned, i, SIGHASH_ALL)
            sig = crypto.sign(secrets[i], digest)
            triples.append((pubs[i], sig, digest))
            sig += bytes((SIGHASH_ALL,))
            if kind == "p2wpkh":
                vin.append(TxIn(txin.prevout, witness=(sig, pubs[i])))
            else:
                vin.append(TxIn(txin.prevout, push_data(sig) + push_data(pubs[i])))
        txs.append((Tx(2, tuple(vin), unsigned.vout, 0), [(spk, amount) for spk in spks]))
    return txs, triples


def _raw_loop(verify, triples: list[tuple[bytes, bytes, bytes]]):
    def loop() -> int:
        for pub, sig, digest in triples:
            if not verify(pub, sig, digest):
                raise AssertionError("raw verify failed")
        return len(triples)
    return loop


def _interpreter_loop(txs: list[tuple[Tx, list[tuple[bytes, int]]]], n_inputs: int):
    def loop() -> int:
        for tx, spent in txs:
            cache = PrecomputedTxData(tx)
            for i, (spk, amount) in enumerate(spent):
                verify_input(tx, i, spk, amount, STANDARD_FLAGS, cache)
        return n_inputs
    return loop


def run() -> list[Figure]:
    figures = []
    for backend in crypto.available_backends():
        crypto.set_backend(backend)
        verify = crypto.get_backend().verify
        n_txs = 250 if backend == "coincurve" else 10
        for kind in ("p2wpkh", "p2pkh"):
            txs, triples = build(kind, n_txs)

            raw_loop = _raw_loop(verify, triples)
            interpreter_loop = _interpreter_loop(txs, len(triples))
            # Alternate the two so both see the same caches and the same machine load.
            raw = interp = 0.0
            for _ in range(3):
                raw = max(raw, rate(raw_loop, min_seconds=0.7, repeats=1))
                interp = max(interp, rate(interpreter_loop, min_seconds=0.7, repeats=1))
            figures.append(Figure(
                name=f"script_verify.{kind}.{backend}", value=interp, unit="inputs/s",
                reference=raw, ratio=interp / raw, target=TARGETS.get(backend)))
    crypto.set_backend(crypto.available_backends()[0])
    return figures
