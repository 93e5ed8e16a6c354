"""Block validity rules that need no UTXO set (Core's validation.cpp).

Context-free: CheckBlockHeader and CheckBlock. Contextual (they need the parent's height, median
time past and expected bits, which the chain computes): ContextualCheckBlockHeader and
ContextualCheckBlock. Also GetBlockScriptFlags for the buried soft forks. Each rule raises
:class:`ValidationError` with Core's reject reason and debug message; nothing here reads a clock
(``now`` is passed in) or touches storage. The UTXO-dependent rules of ConnectBlock (inputs,
fees, sigop cost, scripts) belong to the chain, built from :mod:`.tx_verify` and
:mod:`.script.sigops`.
"""

from __future__ import annotations

from .errors import ValidationError
from .hashes import hash_to_hex, hex_to_hash, sha256d
from .limits import (
    MAX_BLOCK_SIGOPS_COST,
    MAX_BLOCK_WEIGHT,
    MAX_FUTURE_BLOCK_TIME,
    WITNESS_SCALE_FACTOR,
)
from .merkle import (
    WITNESS_COMMITMENT_HEADER,
    block_merkle_root,
    block_witness_merkle_root,
    witness_commitment_index,
)
from .params import Params
from .pow import check_proof_of_work
from .primitives import Block, BlockHeader
from .script.flags import Flag
from .script.script import push_int
from .script.sigops import legacy_sigop_count
from .tx_check import check_transaction
from .tx_verify import is_final_tx

# Core: Consensus::Params::script_flag_exceptions (kernel/chainparams.cpp): blocks that broke a
# rule before it was enforced, validated with these flags instead of P2SH | WITNESS. Keyed by
# block hash (unique across networks, so no network check is needed).
# - mainnet block 170,060 and testnet3 block 0000...b105 violate BIP16 (P2SH): no flags.
# - mainnet block 692,261 violates Taproot: Core uses P2SH | WITNESS, which is what minicash
#   uses for every block anyway (it never sets TAPROOT), so it needs no entry here.
SCRIPT_FLAG_EXCEPTIONS: dict[bytes, int] = {
    hex_to_hash("00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22"): Flag.NONE,
    hex_to_hash("00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105"): Flag.NONE,
}


# -- context-free ------------------------------------------------------------------------------

def check_block_header(header: BlockHeader, params: Params) -> None:
    """Core's CheckBlockHeader: the hash meets the target its own ``bits`` claim, and ``bits``
    is within the network's pow limit. Whether ``bits`` is the *right* difficulty is
    :func:`contextual_check_block_header`'s question."""
    if not check_proof_of_work(header.hash, header.bits, params):
        raise ValidationError("high-hash", "proof of work failed")


def check_block(block: Block, params: Params, check_pow: bool = True,
                check_merkle: bool = True) -> None:
    """Core's CheckBlock: every rule that depends on the block alone.

    Merkle-root failures (``bad-txnmrklroot``, ``bad-txns-duplicate``) mean the transactions
    may not be the ones the header commits to (a corrupted or mutated copy of a valid block),
    so a caller must not mark the header itself invalid for them. Witness data is not checked
    here (it is not committed to by the header); see :func:`contextual_check_block`.
    """
    if check_pow:
        check_block_header(block.header, params)

    if check_merkle:
        root, mutated = block_merkle_root(block)
        if block.header.merkle_root != root:
            raise ValidationError("bad-txnmrklroot", "hashMerkleRoot mismatch")
        # CVE-2012-2459: repeating a run of transactions leaves the merkle root unchanged.
        if mutated:
            raise ValidationError("bad-txns-duplicate", "duplicate transaction")

    # Size limits (the stripped size, so witness malleation cannot change the verdict).
    if (not block.txs or len(block.txs) * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
            or block.base_size * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT):
        raise ValidationError("bad-blk-length", "size limits failed")

    # The first transaction must be a coinbase, the rest must not be.
    if not block.txs[0].is_coinbase():
        raise ValidationError("bad-cb-missing", "first tx is not coinbase")
    for tx in block.txs[1:]:
        if tx.is_coinbase():
            raise ValidationError("bad-cb-multiple", "more than one coinbase")

    # Includes the duplicate-input check of CVE-2018-17144.
    for tx in block.txs:
        try:
            check_transaction(tx)
        except ValidationError as e:
            raise ValidationError(
                e.reason, f"Transaction check failed (tx hash {hash_to_hex(tx.txid)}) {e.debug}",
            ) from e

    # Legacy sigops only: an underestimate that needs no coins. ConnectBlock later limits the
    # full cost (P2SH and witness sigops too) with script.sigops.tx_sigop_cost.
    sigops = sum([legacy_sigop_count(tx) for tx in block.txs])  # Core: nSigOps
    if sigops * WITNESS_SCALE_FACTOR > MAX_BLOCK_SIGOPS_COST:
        raise ValidationError("bad-blk-sigops", "out-of-bounds SigOpCount")


# -- script flags ------------------------------------------------------------------------------

def block_script_flags(height: int, params: Params, block_hash: bytes | None = None) -> int:
    """Core's GetBlockScriptFlags: the script verification flags for the block at ``height``.

    P2SH (BIP16) and WITNESS (BIP141) apply to every block, back to genesis: only the blocks in
    :data:`SCRIPT_FLAG_EXCEPTIONS` broke them, and they are recognised when ``block_hash`` is
    given. The buried deployments add DERSIG (BIP66), CHECKLOCKTIMEVERIFY (BIP65),
    CHECKSEQUENCEVERIFY (BIP112) and NULLDUMMY (BIP147, with segwit) from their heights. Core
    also sets TAPROOT; minicash never does, so witness v1 spends pass unvalidated (BIP141's
    rule for unknown witness versions).
    """
    flags = Flag.P2SH | Flag.WITNESS
    if block_hash is not None:
        flags = SCRIPT_FLAG_EXCEPTIONS.get(block_hash, flags)
    if height >= params.bip66_height:
        flags |= Flag.DERSIG
    if height >= params.bip65_height:
        flags |= Flag.CHECKLOCKTIMEVERIFY
    if height >= params.csv_height:
        flags |= Flag.CHECKSEQUENCEVERIFY
    if height >= params.segwit_height:
        flags |= Flag.NULLDUMMY
    return int(flags)


# -- contextual --------------------------------------------------------------------------------

def contextual_check_block_header(header: BlockHeader, height: int, prev_median_time_past: int,
                                  expected_bits: int, params: Params, now: int) -> None:
    """Core's ContextualCheckBlockHeader for a header at ``height`` on a known parent.

    ``prev_median_time_past`` is the parent's median time past, ``expected_bits`` what
    ``pow.get_next_work_required`` says the header must carry, ``now`` the node's clock (UNIX
    seconds). (Core's checkpoint and BIP94 timewarp checks are not implemented: minicash has
    no checkpoints and none of its networks enables BIP94.)
    """
    if header.bits != expected_bits:
        raise ValidationError("bad-diffbits", "incorrect proof of work")
    if header.time <= prev_median_time_past:
        raise ValidationError("time-too-old", "block's timestamp is too early")
    if header.time > now + MAX_FUTURE_BLOCK_TIME:
        raise ValidationError("time-too-new", "block timestamp too far in the future")
    # Reject versions made obsolete by the BIP34, BIP66 and BIP65 upgrades (BIP90 buried them).
    if ((header.version < 2 and height >= params.bip34_height)
            or (header.version < 3 and height >= params.bip66_height)
            or (header.version < 4 and height >= params.bip65_height)):
        # Core formats the int32 nVersion with %08x, i.e. as its unsigned 32-bit pattern.
        version = header.version & 0xFFFFFFFF
        raise ValidationError(f"bad-version(0x{version:08x})",
                              f"rejected nVersion=0x{version:08x} block")


def contextual_check_block(block: Block, height: int, prev_median_time_past: int,
                           params: Params) -> None:
    """Core's ContextualCheckBlock for a block at ``height`` whose parent has median time past
    ``prev_median_time_past`` (used only from ``params.csv_height``; the genesis block has no
    parent, and any value will do for it below that height).

    Expects :func:`check_block` to have passed (so the block has a coinbase with one input).
    """
    # BIP113: once CSV is active, lock times are compared with the parent's median time past.
    if height >= params.csv_height:
        lock_time_cutoff = prev_median_time_past  # Core: nLockTimeCutoff
    else:
        lock_time_cutoff = block.header.time
    for tx in block.txs:
        if not is_final_tx(tx, height, lock_time_cutoff):
            raise ValidationError("bad-txns-nonfinal", "non-final transaction")

    coinbase = block.txs[0]
    # BIP34: the coinbase scriptSig starts with the height, pushed as `CScript() << nHeight`.
    if height >= params.bip34_height:
        if not coinbase.vin[0].script_sig.startswith(push_int(height)):
            raise ValidationError("bad-cb-height", "block height mismatch in coinbase")

    # BIP141 witness commitment (Core: CheckWitnessMalleation). With segwit active and a
    # commitment output, the coinbase witness is the single 32-byte reserved value and the last
    # commitment output holds SHA256d(witness merkle root || reserved value). Otherwise no
    # transaction may carry witness data.
    commit_pos = witness_commitment_index(coinbase) if height >= params.segwit_height else None
    if commit_pos is not None:
        stack = coinbase.vin[0].witness
        if len(stack) != 1 or len(stack[0]) != 32:
            raise ValidationError("bad-witness-nonce-size",
                                  "CheckWitnessMalleation : invalid witness reserved value size")
        # The mutated flag is ignored: the txid tree already rules mutation out.
        witness_root, _ = block_witness_merkle_root(block)
        start = len(WITNESS_COMMITMENT_HEADER)  # Core: &scriptPubKey[6]
        committed = coinbase.vout[commit_pos].script_pubkey[start:start + 32]
        if sha256d(witness_root + stack[0]) != committed:
            raise ValidationError("bad-witness-merkle-match",
                                  "CheckWitnessMalleation : witness merkle commitment mismatch")
    elif any(tx.has_witness() for tx in block.txs):
        raise ValidationError("unexpected-witness",
                              "CheckWitnessMalleation : unexpected witness data found")

    # Only now that the witness is known to be committed can its weight condemn the block.
    if block.weight > MAX_BLOCK_WEIGHT:
        raise ValidationError("bad-blk-weight", "ContextualCheckBlock : weight limit failed")
