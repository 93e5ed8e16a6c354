"""Amounts as the user types and reads them: coins with up to 8 decimals (exact Decimal
arithmetic, never floats) or satoshis with a ``sat`` suffix; fee rates in sat/vB."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from node.consensus.params import COIN, MAX_MONEY


class AmountError(ValueError):
    """Text that is not a usable amount or fee rate; the message says why."""


def parse_amount(text: str) -> int:
    """``1.5`` (coins) or ``150000sat`` / ``150000 sat`` (satoshis) -> satoshis."""
    s = text.strip().lower()
    if s.endswith(("sats", "sat")):
        digits = s.removesuffix("s").removesuffix("sat").strip()
        if not digits.isdigit():
            raise AmountError(f"bad amount {text!r}: satoshis are a whole number before 'sat'")
        sats = int(digits)
    else:
        try:
            coins = Decimal(s)
        except InvalidOperation:
            raise AmountError(f"bad amount {text!r}: expected coins like 0.5 or sats like "
                              f"50000sat") from None
        if not coins.is_finite():
            raise AmountError(f"bad amount {text!r}")
        sats_exact = coins * COIN
        if sats_exact != sats_exact.to_integral_value():
            raise AmountError(f"bad amount {text!r}: at most 8 decimals")
        sats = int(sats_exact)
    if sats <= 0:
        raise AmountError(f"bad amount {text!r}: must be positive")
    if sats > MAX_MONEY:
        raise AmountError(f"bad amount {text!r}: more than 21 million coins")
    return sats


def format_coins(sats: int) -> str:
    """Satoshis as coins with all 8 decimals: ``-0.00010000``."""
    sign = "-" if sats < 0 else ""
    whole, frac = divmod(abs(sats), COIN)
    return f"{sign}{whole}.{frac:08d}"


def parse_fee_rate(text: str | float | Decimal) -> Decimal:
    """A fee rate in sat/vB (decimals allowed, e.g. 1.5)."""
    try:
        rate = Decimal(str(text).strip())
    except InvalidOperation:
        raise AmountError(f"bad fee rate {text!r}: expected sat/vB like 2 or 1.5") from None
    if not rate.is_finite() or rate <= 0:
        raise AmountError(f"bad fee rate {text!r}: must be a positive number of sat/vB")
    if rate > 100_000:
        raise AmountError(f"fee rate {text} sat/vB is absurdly high")
    return rate


def fee_for(vsize: int, rate: Decimal) -> int:
    """The fee in satoshis for ``vsize`` virtual bytes at ``rate`` sat/vB, rounded up."""
    return math.ceil(Decimal(vsize) * rate)
