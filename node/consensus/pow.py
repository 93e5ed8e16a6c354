"""Proof of work: compact ``bits``, targets, block proof (work), retargeting and median time past.

Mirrors Bitcoin Core's pow.cpp, arith_uint256's SetCompact/GetCompact, CBlockIndex's
GetMedianTimePast and rpc's GetDifficulty. Everything is a pure function of its arguments: the
chain is reached only through the ``ancestor`` callback of :func:`get_next_work_required`.
Block hashes are ``bytes`` in internal order, read as little-endian 256-bit integers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # params imports primitives; keep pow importable from anywhere
    from .params import Params

_MASK256 = (1 << 256) - 1
# Core: CBlockIndex::nMedianTimeSpan (chain.h)
MEDIAN_TIME_SPAN = 11


def compact_to_target(bits: int) -> tuple[int, bool, bool]:
    """Decode compact ``bits`` exactly like arith_uint256::SetCompact: ``(target, negative,
    overflow)``.

    The top byte is a base-256 exponent, the low 23 bits the mantissa and bit 23 a sign.
    ``target`` is what Core's 256-bit integer would hold (truncated to 256 bits on overflow).
    """
    if not 0 <= bits <= 0xFFFFFFFF:
        raise ValueError(f"bits {bits:#x} is not a 32-bit value")
    size = bits >> 24
    word = bits & 0x007FFFFF
    if size <= 3:
        word >>= 8 * (3 - size)
        target = word
    else:
        target = (word << (8 * (size - 3))) & _MASK256
    negative = word != 0 and (bits & 0x00800000) != 0
    overflow = word != 0 and (size > 34 or (word > 0xFF and size > 33)
                              or (word > 0xFFFF and size > 32))
    return target, negative, overflow


def target_to_compact(target: int, negative: bool = False) -> int:
    """Encode a 256-bit target as compact bits, exactly like arith_uint256::GetCompact."""
    if not 0 <= target <= _MASK256:
        raise ValueError("target must be an unsigned 256-bit integer")
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        compact = target << (8 * (3 - size))
    else:
        compact = target >> (8 * (size - 3))
    # 0x00800000 is the sign bit: if the mantissa would set it, shift it into the exponent.
    if compact & 0x00800000:
        compact >>= 8
        size += 1
    compact |= size << 24
    if negative and compact & 0x007FFFFF:
        compact |= 0x00800000
    return compact


def derive_target(bits: int, pow_limit: int) -> int | None:
    """Core's DeriveTarget: the target ``bits`` encodes, or None if it is negative, zero,
    overflows, or is easier than ``pow_limit``."""
    target, negative, overflow = compact_to_target(bits)
    if negative or overflow or target == 0 or target > pow_limit:
        return None
    return target


def check_proof_of_work(block_hash: bytes, bits: int, params: Params) -> bool:
    """Core's CheckProofOfWork: ``bits`` is in range and the hash, as a little-endian number, is
    at most the target. (The caller's reject reason is ``high-hash``.)"""
    target = derive_target(bits, params.pow_limit)
    if target is None:
        return False
    return int.from_bytes(block_hash, "little") <= target


def block_proof(bits: int) -> int:
    """Core's GetBlockProof: the expected number of hashes for ``bits``, 2**256 // (target + 1);
    0 for a negative, overflowing or zero target. Chainwork is the sum of these."""
    target, negative, overflow = compact_to_target(bits)
    if negative or overflow or target == 0:
        return 0
    return (1 << 256) // (target + 1)


def calculate_next_work_required(last_bits: int, last_time: int, first_time: int,
                                 params: Params) -> int:
    """Core's CalculateNextWorkRequired: the bits after a retarget interval.

    ``last_*`` describe the interval's last block, ``first_time`` the time of its first block
    (Core: nFirstBlockTime; an interval of N blocks spans N-1 block times, the "off by one"
    Bitcoin keeps). The measured timespan is clamped to [timespan/4, timespan*4] and the new
    target capped at pow_limit. (testnet4's BIP94 variant is not implemented: no network here
    enables it.)
    """
    if params.pow_no_retargeting:
        return last_bits
    timespan = params.pow_target_timespan
    actual = last_time - first_time  # Core: nActualTimespan
    actual = max(timespan // 4, min(actual, timespan * 4))
    target = compact_to_target(last_bits)[0]
    # Core multiplies in 256-bit arithmetic (wrapping), then divides.
    target = ((target * actual) & _MASK256) // timespan
    target = min(target, params.pow_limit)
    return target_to_compact(target)


def get_next_work_required(prev_height: int, prev_bits: int, prev_time: int,
                           new_block_time: int, params: Params,
                           ancestor: Callable[[int], tuple[int, int]]) -> int:
    """Core's GetNextWorkRequired: the bits a block on top of ``prev`` must carry.

    ``prev_*`` describe the parent block (Core: pindexLast), ``new_block_time`` is the new
    block's own timestamp (used only by the min-difficulty rule) and ``ancestor(height)``
    returns ``(bits, time)`` of the parent's chain ancestor at ``height`` < ``prev_height``.

    Outside a retarget boundary the bits are unchanged, except on networks that allow
    min-difficulty blocks (testnet, regtest): a block more than two spacings after its parent
    may use the pow-limit bits, and otherwise inherits the bits of the last block that was not
    such a min-difficulty block (walking back no further than a retarget boundary).
    """
    pow_limit_bits = target_to_compact(params.pow_limit)  # Core: nProofOfWorkLimit
    interval = params.difficulty_adjustment_interval
    if (prev_height + 1) % interval != 0:
        if params.pow_allow_min_difficulty_blocks:
            if new_block_time > prev_time + params.pow_target_spacing * 2:
                return pow_limit_bits
            height, bits = prev_height, prev_bits
            while height > 0 and height % interval != 0 and bits == pow_limit_bits:
                height -= 1
                bits = ancestor(height)[0]
            return bits
        return prev_bits
    if params.pow_no_retargeting:
        # CalculateNextWorkRequired would return prev_bits; skip the ancestor lookup.
        return prev_bits
    # Go back by what we want to be 14 days' worth of blocks (interval - 1 blocks).
    first_height = prev_height - (interval - 1)
    if first_height < 0:
        raise ValueError(f"retarget at height {prev_height + 1} needs a block at {first_height}")
    first_time = ancestor(first_height)[1]
    return calculate_next_work_required(prev_bits, prev_time, first_time, params)


def median_time_past(times: Sequence[int]) -> int:
    """Core's GetMedianTimePast: the median of the last (up to) 11 block times.

    ``times`` is in chain order, oldest first, ending with the block whose MTP is wanted; only
    the last 11 are used. With an even count (near genesis) Core takes the upper middle
    element, ``sorted(times)[len // 2]``.
    """
    window = sorted(times[-MEDIAN_TIME_SPAN:])
    if not window:
        raise ValueError("median_time_past needs at least one block time")
    return window[len(window) // 2]


def difficulty(bits: int) -> float:
    """Core's GetDifficulty (rpc/blockchain.cpp): how many times harder than bits 0x1d00ffff.

    For display only; floating point, and independent of the network's pow_limit as in Core.
    """
    shift = (bits >> 24) & 0xFF
    mantissa = bits & 0x00FFFFFF
    if mantissa == 0:
        return math.inf  # Core divides by zero here, giving +inf
    diff = 0x0000FFFF / mantissa
    while shift < 29:
        diff *= 256.0
        shift += 1
    while shift > 29:
        diff /= 256.0
        shift -= 1
    return diff
