"""An unspent transaction output as the UTXO set keeps it (Core's ``Coin``, coins.h)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .primitives import TxOut, slot_setters


@dataclass(frozen=True, slots=True)
class Coin:
    txout: TxOut
    height: int  # height of the block that created it (Core: nHeight)
    is_coinbase: bool  # Core: fCoinBase; coinbase outputs mature after COINBASE_MATURITY
    # The coin's chainstate encoding when it was read from the database (storage.codec):
    # the undo data of the block that spends it repeats those bytes, so they are not
    # computed again.
    # Not an __init__ field: set by make_coin only, so dataclasses.replace() of a coin never
    # carries the old encoding over to changed fields.
    stored: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def value(self) -> int:
        return self.txout.value

    @property
    def script_pubkey(self) -> bytes:
        return self.txout.script_pubkey


_new = object.__new__
_SET_TXOUT, _SET_HEIGHT, _SET_COINBASE, _SET_STORED = slot_setters(
    Coin, "txout", "height", "is_coinbase", "stored")


def make_coin(txout: TxOut, height: int, is_coinbase: bool, stored: bytes | None = None) -> Coin:
    """``Coin(txout, height, is_coinbase)``, with ``stored`` set too (not an __init__ field),
    for hot loops: fills the slots directly, where a frozen dataclass's __init__ goes
    through object.__setattr__ for each field."""
    coin = _new(Coin)
    _SET_TXOUT(coin, txout)
    _SET_HEIGHT(coin, height)
    _SET_COINBASE(coin, is_coinbase)
    _SET_STORED(coin, stored)
    return coin
