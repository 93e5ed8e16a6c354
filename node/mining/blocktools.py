"""Building blocks: the coinbase (BIP34 height, BIP141 witness commitment), the header, and a
nonce search. Used by the miner and by tests that need real, valid blocks."""

from __future__ import annotations

from collections.abc import Sequence

from node.consensus.merkle import (
    merkle_root,
    witness_commitment,
    witness_commitment_script,
)
from node.consensus.params import Params
from node.consensus.pow import check_proof_of_work
from node.consensus.primitives import NULL_HASH, NULL_OUTPOINT, Block, BlockHeader, Tx, TxIn, TxOut
from node.consensus.script.opcodes import OP_0
from node.consensus.script.script import push_int

# Version with the BIP9 top bits set and no deployment signalled, as Core's miner sets it.
BLOCK_VERSION = 0x20000000


def coinbase_script_sig(height: int, extra: bytes = b"") -> bytes:
    """BIP34: the script starts with the height as ``CScript() << height``. Core's miner then
    appends OP_0, which also keeps heights 1..16 (a one-byte push) above the 2-byte minimum."""
    return push_int(height) + (extra or bytes((OP_0,)))


def create_coinbase(height: int, value: int, script_pubkey: bytes, extra: bytes = b"",
                    extra_outputs: Sequence[TxOut] = ()) -> Tx:
    return Tx(2, (TxIn(NULL_OUTPOINT, coinbase_script_sig(height, extra)),),
              (TxOut(value, script_pubkey), *extra_outputs), 0)


def with_witness_commitment(txs: Sequence[Tx]) -> list[Tx]:
    """Add BIP141's commitment to the coinbase (``txs[0]``) when any transaction has a witness:
    an OP_RETURN output committing to the witness merkle root, and a 32-byte reserved value as
    the coinbase's witness."""
    txs = list(txs)
    if not any(tx.has_witness() for tx in txs[1:]):
        return txs
    wtxids = [NULL_HASH] + [tx.wtxid for tx in txs[1:]]  # the coinbase's wtxid counts as zero
    root, _ = merkle_root(wtxids)
    cb = txs[0]
    commitment = TxOut(0, witness_commitment_script(witness_commitment(root)))
    txin = cb.vin[0]
    txs[0] = Tx(cb.version, (TxIn(txin.prevout, txin.script_sig, txin.sequence, (NULL_HASH,)),),
                (*cb.vout, commitment), cb.locktime)
    return txs


def build_block(prev_hash: bytes, txs: Sequence[Tx], time: int, bits: int,
                version: int = BLOCK_VERSION, nonce: int = 0) -> Block:
    root, _ = merkle_root([tx.txid for tx in txs])
    return Block(BlockHeader(version, prev_hash, root, time, bits, nonce), tuple(txs))


def solve(block: Block, params: Params, max_tries: int = 1 << 32) -> Block:
    """Search nonces until the header meets its own target. For regtest's minimum difficulty
    that takes two tries on average; this is not the miner's optimised search."""
    h = block.header
    for nonce in range(h.nonce, min(h.nonce + max_tries, 1 << 32)):
        header = BlockHeader(h.version, h.prev_hash, h.merkle_root, h.time, h.bits, nonce)
        if check_proof_of_work(header.hash, h.bits, params):
            return Block(header, block.txs)
    raise ValueError("no nonce found in the range tried")
