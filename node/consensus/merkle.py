"""Merkle roots, branches and the BIP141 witness commitment.

Owns Bitcoin's merkle tree (Core: consensus/merkle.cpp) with its odd-level rule (the last hash of
an odd level is paired with itself) and the CVE-2012-2459 ``mutated`` flag, merkle branches for
proofs (Esplora's ``/tx/:txid/merkle-proof``), and the witness commitment a segwit coinbase
carries (BIP141; Core: GetWitnessCommitmentIndex, GenerateCoinbaseCommitment). Pure functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .hashes import sha256d
from .primitives import NULL_HASH, Block, Tx

_SHA256 = hashlib.sha256

# BIP141: OP_RETURN, push 36 bytes, then the 4-byte tag 0xaa21a9ed; the 32-byte commitment follows.
WITNESS_COMMITMENT_HEADER = bytes.fromhex("6a24aa21a9ed")
# Core: MINIMUM_WITNESS_COMMITMENT (consensus/validation.h): header + 32-byte commitment.
MINIMUM_WITNESS_COMMITMENT = len(WITNESS_COMMITMENT_HEADER) + 32


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for h in hashes:
        if len(h) != 32:
            raise ValueError(f"merkle leaves must be 32-byte hashes, got {len(h)} bytes")


def merkle_root(hashes: Sequence[bytes]) -> tuple[bytes, bool]:
    """Core's ComputeMerkleRoot: ``(root, mutated)``; the root of no hashes is 32 zero bytes.

    ``mutated`` is set when, at any level, a pair about to be hashed consists of two identical
    hashes (checked before the odd level's last hash is duplicated). Such a transaction list has
    the same root as a shorter one (CVE-2012-2459), so a block whose root is mutated must be
    rejected as ``bad-txns-duplicate`` without marking its header invalid.
    """
    _check_hashes(hashes)
    level = list(hashes)
    mutated = False
    while len(level) > 1:
        lefts, rights = level[0::2], level[1::2]
        if not mutated:
            # An odd level's last hash has no pair yet: zip stops before it.
            mutated = any(a == b for a, b in zip(lefts, rights, strict=False))
        if len(level) & 1:
            rights.append(lefts[-1])
        # sha256d, inlined: a block's two trees hash about two nodes per transaction.
        level = [_SHA256(_SHA256(a + b).digest()).digest()
                 for a, b in zip(lefts, rights, strict=True)]
    if not level:
        return NULL_HASH, False
    return level[0], mutated


def merkle_branch(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from leaf ``index`` up to the root (Core: ComputeMerkleBranch).

    Where the leaf's path reaches the last hash of an odd level, its sibling is itself, as the
    tree pairs that hash with itself. This is the ``merkle`` list of Esplora's merkle-proof.
    """
    _check_hashes(hashes)
    if not 0 <= index < len(hashes):
        raise ValueError(f"leaf index {index} out of range for {len(hashes)} leaves")
    level = list(hashes)
    branch: list[bytes] = []
    while len(level) > 1:
        if len(level) & 1:
            level.append(level[-1])
        branch.append(level[index ^ 1])
        index >>= 1
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return branch


def merkle_root_from_branch(leaf: bytes, branch: Sequence[bytes], index: int) -> bytes:
    """Core's ComputeMerkleRootFromBranch: fold ``branch`` into ``leaf``; bit i of ``index``
    says whether the leaf's ancestor at level i is a right (1) or left (0) child."""
    h = leaf
    for sibling in branch:
        h = sha256d(sibling + h) if index & 1 else sha256d(h + sibling)
        index >>= 1
    return h


def block_merkle_root(block: Block) -> tuple[bytes, bool]:
    """Core's BlockMerkleRoot: the merkle root of the block's txids, and the mutated flag."""
    return merkle_root([tx.txid for tx in block.txs])


def block_witness_merkle_root(block: Block) -> tuple[bytes, bool]:
    """Core's BlockWitnessMerkleRoot: root of the wtxids, the coinbase's taken as zero (BIP141)."""
    if not block.txs:
        return NULL_HASH, False
    return merkle_root([NULL_HASH] + [tx.wtxid for tx in block.txs[1:]])


def witness_commitment_index(coinbase_tx: Tx) -> int | None:
    """Core's GetWitnessCommitmentIndex: the index of the LAST coinbase output whose script is at
    least 38 bytes and starts with the commitment header, or None if there is none (BIP141)."""
    index = None
    for i, out in enumerate(coinbase_tx.vout):
        script = out.script_pubkey
        if len(script) >= MINIMUM_WITNESS_COMMITMENT and script.startswith(
                WITNESS_COMMITMENT_HEADER):
            index = i
    return index


def witness_commitment(witness_root: bytes, witness_reserved_value: bytes = NULL_HASH) -> bytes:
    """BIP141 commitment: Double-SHA256(witness root || witness reserved value).

    The reserved value is the coinbase input's single 32-byte witness item (zeros by convention).
    """
    if len(witness_root) != 32 or len(witness_reserved_value) != 32:
        raise ValueError("witness root and reserved value must be 32 bytes each")
    return sha256d(witness_root + witness_reserved_value)


def witness_commitment_script(commitment: bytes) -> bytes:
    """The coinbase output script carrying ``commitment`` (Core: GenerateCoinbaseCommitment)."""
    if len(commitment) != 32:
        raise ValueError("witness commitment must be 32 bytes")
    return WITNESS_COMMITMENT_HEADER + commitment
