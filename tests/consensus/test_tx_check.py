"""Context-free transaction checks reject with Bitcoin Core's reasons."""

import pytest

from node.consensus.errors import ValidationError
from node.consensus.params import MAX_MONEY
from node.consensus.primitives import NULL_OUTPOINT, OutPoint, Tx, TxIn, TxOut
from node.consensus.tx_check import check_transaction

IN = TxIn(OutPoint(b"\x01" * 32, 0))
OUT = TxOut(1000, b"\x51")


@pytest.mark.parametrize("tx,reason", [
    (Tx(1, (), (OUT,)), "bad-txns-vin-empty"),
    (Tx(1, (IN,), ()), "bad-txns-vout-empty"),
    (Tx(1, (IN,), (TxOut(-1, b""),)), "bad-txns-vout-negative"),
    (Tx(1, (IN,), (TxOut(MAX_MONEY + 1, b""),)), "bad-txns-vout-toolarge"),
    (Tx(1, (IN,), (TxOut(MAX_MONEY, b""), TxOut(1, b""))), "bad-txns-txouttotal-toolarge"),
    (Tx(1, (IN, IN), (OUT,)), "bad-txns-inputs-duplicate"),
    (Tx(1, (TxIn(NULL_OUTPOINT, b"\x01"),), (OUT,)), "bad-cb-length"),
    (Tx(1, (TxIn(NULL_OUTPOINT, b"\x01" * 101),), (OUT,)), "bad-cb-length"),
    (Tx(1, (IN, TxIn(NULL_OUTPOINT)), (OUT,)), "bad-txns-prevout-null"),
    (Tx(1, (IN,), (TxOut(0, b"\x00" * 1_000_000),)), "bad-txns-oversize"),
])
def test_rejects_with_core_reason(tx, reason):
    with pytest.raises(ValidationError) as e:
        check_transaction(tx)
    assert e.value.reason == reason


def test_accepts_a_coinbase_and_a_spend():
    check_transaction(Tx(1, (TxIn(NULL_OUTPOINT, b"\x01\x02"),), (OUT,)))
    check_transaction(Tx(1, (IN,), (OUT, TxOut(MAX_MONEY - 1000, b""))))
