"""BIP143's native P2WPKH example: every intermediate hash and the final signature hash."""

import hashlib
import struct
from dataclasses import replace

import pytest

from node.consensus.primitives import Tx
from node.consensus.script.sighash import (
    SIGHASH_ALL,
    SIGHASH_ANYONECANPAY,
    SIGHASH_NONE,
    SIGHASH_SINGLE,
    PrecomputedTxData,
    segwit_v0_sighash,
)

UNSIGNED = (
    "0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeff"
    "ffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02"
    "202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976"
    "a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac11000000"
)
SCRIPT_CODE = bytes.fromhex("76a9141d0f172a0ecb48aee1be1f2687d2963ae33f71a188ac")
AMOUNT = 600_000_000


def test_bip143_p2wpkh_example():
    tx = Tx.from_hex(UNSIGNED)
    cache = PrecomputedTxData(tx)
    assert cache.hash_prevouts.hex() == \
        "96b827c8483d4e9b96712b6713a7b68d6e8003a781feba36c31143470b4efd37"
    assert cache.hash_sequence.hex() == \
        "52b0a642eea2fb7ae638c36f6252b6750293dbe574a806984b8e4d8548339a3b"
    assert cache.hash_outputs.hex() == \
        "863ef3e1a92afbfdb97f31ad0fc7683ee943e9abcf2501590ff8f6551f47e5e5"
    digest = segwit_v0_sighash(SCRIPT_CODE, tx, 1, SIGHASH_ALL, AMOUNT, cache)
    assert digest.hex() == "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670"


def _reference_bip143(tx: Tx, n_in: int, hash_type: int) -> bytes:
    """BIP143's preimage written out plainly, independent of the cached implementation."""
    def dsha(b: bytes) -> bytes:
        return hashlib.sha256(hashlib.sha256(b).digest()).digest()

    base = hash_type & 0x1F
    acp = hash_type & SIGHASH_ANYONECANPAY
    prevouts = b"".join(i.prevout.serialize() for i in tx.vin)
    sequences = b"".join(struct.pack("<I", i.sequence) for i in tx.vin)
    outputs = b"".join(o.serialize() for o in tx.vout)
    hp = bytes(32) if acp else dsha(prevouts)
    hs = bytes(32) if acp or base in (SIGHASH_NONE, SIGHASH_SINGLE) else dsha(sequences)
    if base not in (SIGHASH_NONE, SIGHASH_SINGLE):
        ho = dsha(outputs)
    elif base == SIGHASH_SINGLE and n_in < len(tx.vout):
        ho = dsha(tx.vout[n_in].serialize())
    else:
        ho = bytes(32)
    txin = tx.vin[n_in]
    preimage = (struct.pack("<i", tx.version) + hp + hs + txin.prevout.serialize()
                + bytes((len(SCRIPT_CODE),)) + SCRIPT_CODE + struct.pack("<q", AMOUNT)
                + struct.pack("<I", txin.sequence) + ho + struct.pack("<I", tx.locktime)
                + struct.pack("<I", hash_type))
    return dsha(preimage)


@pytest.mark.parametrize("hash_type", [SIGHASH_ALL, SIGHASH_NONE, SIGHASH_SINGLE,
                                       SIGHASH_ALL | SIGHASH_ANYONECANPAY,
                                       SIGHASH_NONE | SIGHASH_ANYONECANPAY,
                                       SIGHASH_SINGLE | SIGHASH_ANYONECANPAY, 0x41, 0x04])
@pytest.mark.parametrize("n_in", [0, 1])
def test_every_hash_type_matches_the_plain_preimage(hash_type, n_in):
    tx = Tx.from_hex(UNSIGNED)
    cache = PrecomputedTxData(tx)
    # Twice through one cache: the cached SIGHASH_ALL parts must not leak into other types.
    for _ in range(2):
        assert segwit_v0_sighash(SCRIPT_CODE, tx, n_in, hash_type, AMOUNT, cache) == \
            _reference_bip143(tx, n_in, hash_type)


@pytest.mark.parametrize("sequence", [0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFE, 0, 0x12345678])
@pytest.mark.parametrize("hash_type", [SIGHASH_ALL, SIGHASH_SINGLE | SIGHASH_ANYONECANPAY])
def test_a_one_input_transaction_matches_the_plain_preimage(sequence, hash_type):
    """One input has its own path (no list joined, a remembered hashSequence)."""
    two = Tx.from_hex(UNSIGNED)
    txin = replace(two.vin[1], sequence=sequence)
    tx = Tx(two.version, (txin,), two.vout, two.locktime)
    for _ in range(2):  # the second time, hashSequence comes from the remembered ones
        assert segwit_v0_sighash(SCRIPT_CODE, tx, 0, hash_type, AMOUNT,
                                 PrecomputedTxData(tx)) == _reference_bip143(tx, 0, hash_type)
