"""Context-free transaction checks (Core's CheckTransaction, consensus/tx_check.cpp).

What can be decided from the transaction alone, before looking up any coin. Raises
:class:`ValidationError` with Core's reject reason.
"""

from __future__ import annotations

from .errors import ValidationError
from .limits import MAX_BLOCK_WEIGHT  # also importable from here, as before
from .params import MAX_MONEY
from .primitives import WITNESS_SCALE_FACTOR, Tx


def money_range(value: int) -> bool:
    return 0 <= value <= MAX_MONEY


def check_transaction(tx: Tx) -> None:
    if not tx.vin:
        raise ValidationError("bad-txns-vin-empty")
    if not tx.vout:
        raise ValidationError("bad-txns-vout-empty")
    # Size limit without witness data, so it does not depend on the witness (which may be
    # stripped or malleated).
    if tx.base_size * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT:
        raise ValidationError("bad-txns-oversize")

    total = 0
    for out in tx.vout:
        if out.value < 0:
            raise ValidationError("bad-txns-vout-negative")
        if out.value > MAX_MONEY:
            raise ValidationError("bad-txns-vout-toolarge")
        total += out.value
        if not money_range(total):
            raise ValidationError("bad-txns-txouttotal-toolarge")

    # CVE-2018-17144: duplicate inputs within one transaction would inflate the supply.
    if len(tx.vin) > 1 and len({txin.prevout for txin in tx.vin}) != len(tx.vin):
        raise ValidationError("bad-txns-inputs-duplicate")

    if tx.is_coinbase():
        if not 2 <= len(tx.vin[0].script_sig) <= 100:
            raise ValidationError("bad-cb-length")
    else:
        for txin in tx.vin:
            if txin.prevout.is_null():
                raise ValidationError("bad-txns-prevout-null")
