"""Building valid (and deliberately invalid) regtest blocks and transactions for chain tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from node.chain.index import BlockIndex
from node.consensus import crypto
from node.consensus.hashes import hash160
from node.consensus.params import REGTEST, Params
from node.consensus.primitives import Block, OutPoint, Tx, TxIn, TxOut
from node.consensus.script.sighash import SIGHASH_ALL, segwit_v0_sighash
from node.mining.blocktools import (
    BLOCK_VERSION,
    build_block,
    create_coinbase,
    solve,
    with_witness_commitment,
)


class Wallet:
    """One P2WPKH key: pays to itself and signs spends of its outputs."""

    def __init__(self, seed: bytes = b"chain tests") -> None:
        self.secret = hashlib.sha256(seed).digest()
        self.pubkey = crypto.pubkey_from_secret(self.secret)
        self.key_hash = hash160(self.pubkey)
        self.script_pubkey = b"\x00\x14" + self.key_hash

    def spend(self, prevouts: Sequence[tuple[OutPoint, int]], outputs: Sequence[TxOut],
              *, version: int = 2, locktime: int = 0, sequence: int = 0xFFFFFFFE) -> Tx:
        unsigned = Tx(version, tuple(TxIn(op, sequence=sequence) for op, _ in prevouts),
                      tuple(outputs), locktime)
        script_code = b"\x76\xa9\x14" + self.key_hash + b"\x88\xac"
        vin = []
        for i, ((op, amount), txin) in enumerate(zip(prevouts, unsigned.vin, strict=True)):
            digest = segwit_v0_sighash(script_code, unsigned, i, SIGHASH_ALL, amount)
            sig = crypto.sign(self.secret, digest) + bytes((SIGHASH_ALL,))
            vin.append(TxIn(op, b"", txin.sequence, (sig, self.pubkey)))
        return Tx(version, tuple(vin), unsigned.vout, locktime)


class BlockMaker:
    """Makes blocks on top of any index; by default valid ones paying the subsidy plus fees."""

    def __init__(self, params: Params = REGTEST, wallet: Wallet | None = None) -> None:
        self.params = params
        self.wallet = wallet or Wallet()
        self.extra = 0

    def block(self, prev: BlockIndex, txs: Sequence[Tx] = (), *, fees: int = 0,
              reward: int | None = None, time: int | None = None, bits: int | None = None,
              version: int = 0x20000000, coinbase_script: bytes | None = None,
              solve_pow: bool = True) -> Block:
        height = prev.height + 1
        value = self.params.block_subsidy(height) + fees if reward is None else reward
        # A distinct extra nonce keeps sibling blocks (same height, same txs) distinct.
        self.extra += 1
        coinbase = create_coinbase(height, value, coinbase_script or self.wallet.script_pubkey,
                                   extra=b"\x04" + self.extra.to_bytes(4, "little"))
        all_txs = with_witness_commitment([coinbase, *txs])
        block = build_block(prev.hash, all_txs, time if time is not None else prev.time + 1,
                            bits if bits is not None else prev.bits, version)
        return solve(block, self.params) if solve_pow else block


def assemble_block(prev: BlockIndex, txs: Sequence[Tx], *, params: Params = REGTEST,
                   time: int | None = None, bits: int | None = None,
                   version: int = BLOCK_VERSION, commit_witness: bool = True) -> Block:
    """A solved block on ``prev`` holding exactly ``txs``: the caller supplies the coinbase (or
    deliberately none). With ``commit_witness``, ``txs[0]`` gets BIP141's commitment when any
    later transaction has a witness, as :meth:`BlockMaker.block` does."""
    all_txs = with_witness_commitment(txs) if commit_witness else list(txs)
    block = build_block(prev.hash, all_txs, time if time is not None else prev.time + 1,
                        bits if bits is not None else prev.bits, version)
    return solve(block, params)


def mine_to_maturity(chain, maker: BlockMaker) -> Tx:
    """Mine 101 blocks on ``chain``: returns the first one's coinbase, now spendable."""
    first = None
    for _ in range(101):
        block = maker.block(chain.tip)
        chain.process_block(block)
        first = first or block
    return first.txs[0]
