"""Bitcoin Core's sighash.json: the legacy signature hash for every hash type."""

from __future__ import annotations

import pytest

from node.consensus.hashes import hash_to_hex
from node.consensus.primitives import Tx
from node.consensus.script.sighash import legacy_sighash
from node.consensus.tx_check import check_transaction

from .vectors import load


@pytest.mark.parametrize("raw_tx,script_hex,n_in,hash_type,expected",
                         [pytest.param(*e, id=str(i)) for i, e in load("sighash.json", 5)])
def test_legacy_sighash_vector(raw_tx, script_hex, n_in, hash_type, expected):
    tx = Tx.from_hex(raw_tx)
    check_transaction(tx)
    digest = legacy_sighash(bytes.fromhex(script_hex), tx, n_in, hash_type)
    assert hash_to_hex(digest) == expected
