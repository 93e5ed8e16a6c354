"""An unspent transaction output as the UTXO set keeps it (Core's ``Coin``, coins.h)."""

from __future__ import annotations

from dataclasses import dataclass

from .primitives import TxOut


@dataclass(frozen=True, slots=True)
class Coin:
    txout: TxOut
    height: int  # height of the block that created it (Core: nHeight)
    is_coinbase: bool  # Core: fCoinBase; coinbase outputs mature after COINBASE_MATURITY

    @property
    def value(self) -> int:
        return self.txout.value

    @property
    def script_pubkey(self) -> bytes:
        return self.txout.script_pubkey
