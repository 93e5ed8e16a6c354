"""Dust: Bitcoin Core's GetDustThreshold and IsDust (policy/policy.cpp), and the fee rounding
that defines them (CFeeRate::GetFee, policy/feerate.cpp).

Relay policy, not a consensus rule: no block is invalid for carrying dust. It lives here, as a
pure function of one output, because both the node's mempool policy
(:mod:`node.mempool.policy`, which re-exports it) and the wallet (which may import
:mod:`node.consensus` and nothing else from ``node``) must draw the same line, as Core's wallet
and mempool share policy/policy.cpp.
"""

from __future__ import annotations

from .primitives import WITNESS_SCALE_FACTOR, TxOut
from .script.script import is_unspendable, witness_program

__all__ = ["DUST_RELAY_TX_FEE", "dust_threshold", "fee_for", "is_dust"]

# Core: DUST_RELAY_TX_FEE (policy/policy.h), sat/kvB: the fee rate that defines dust.
DUST_RELAY_TX_FEE = 3_000

# The input size GetDustThreshold adds: outpoint 32 + 4, scriptSig length 1, sequence 4, and a
# 107-byte signature-and-key satisfaction, in the scriptSig (148 in all) or witness-discounted.
_DUST_INPUT_SIZE = 32 + 4 + 1 + 107 + 4
_DUST_WITNESS_INPUT_SIZE = 32 + 4 + 1 + 107 // WITNESS_SCALE_FACTOR + 4


def fee_for(vsize: int, fee_rate_sat_per_kvb: int) -> int:
    """Core's CFeeRate::GetFee: the fee at a rate in sat/kvB for ``vsize`` vbytes, rounded up
    (Core: std::ceil of rate x size / 1000). A non-zero size at a negative rate that rounds to
    zero costs -1, as in Core. Exact integer arithmetic, where Core's double is exact only
    below 2**53 (far above any real fee)."""
    if vsize < 0:
        raise ValueError(f"negative size {vsize}")
    fee = -(-fee_rate_sat_per_kvb * vsize // 1000)  # ceiling division
    if fee == 0 and vsize != 0 and fee_rate_sat_per_kvb < 0:
        fee = -1
    return fee


def dust_threshold(txout: TxOut, dust_relay_fee: int = DUST_RELAY_TX_FEE) -> int:
    """Core's GetDustThreshold: what spending the output would cost at ``dust_relay_fee``.

    The output's own serialized size plus the smallest usual input that spends it: 148 bytes,
    or 67 vbytes for any witness program (the witness discount applied to the 107-byte
    signature and key). 546 sat for P2PKH, 540 for P2SH, 294 for P2WPKH, 330 for P2WSH and
    P2TR, 240 for pay-to-anchor at the default 3,000 sat/kvB; 0 for unspendable outputs.
    """
    script = txout.script_pubkey
    if is_unspendable(script):
        return 0
    size = len(txout.serialize())
    size += _DUST_WITNESS_INPUT_SIZE if witness_program(script) is not None else _DUST_INPUT_SIZE
    return fee_for(size, dust_relay_fee)


def is_dust(txout: TxOut, dust_relay_fee: int = DUST_RELAY_TX_FEE) -> bool:
    """Core's IsDust: the output is worth less than spending it would cost."""
    return txout.value < dust_threshold(txout, dust_relay_fee)
