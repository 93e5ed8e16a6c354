"""Byte-exact serialization of transactions and blocks."""

import pytest

from node.consensus.errors import DecodeError
from node.consensus.hashes import hash_to_hex
from node.consensus.primitives import OutPoint, Tx, TxIn, TxOut
from node.consensus.serialize import ByteReader, compact_size

# BIP143's native P2WPKH example (signed transaction).
BIP143_P2WPKH = (
    "01000000000102fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f000000004948"
    "30450221008b9d1dc26ba6a9cb62127b02742fa9d754cd3bebf337f7a55d114c8e5cdd30be022040529b194ba3"
    "f9281a99f2b1c0a19c0489bc22ede944ccf4ecbab4cc618ef3ed01eeffffffef51e1b804cc89d182d279655c3a"
    "a89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df3"
    "78db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f016"
    "7faa815988ac000247304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a"
    "0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee0121025476c2e83188368d"
    "a1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee635711000000"
)


def test_segwit_tx_round_trips_and_sizes():
    tx = Tx.from_hex(BIP143_P2WPKH)
    assert tx.serialize().hex() == BIP143_P2WPKH
    assert hash_to_hex(tx.txid) == "e8151a2af31c368a35053ddd4bdb285a8595c769a3ad83e0fa02314a602d4609"
    assert tx.has_witness() and tx.wtxid != tx.txid
    assert tx.total_size == len(BIP143_P2WPKH) // 2
    assert tx.base_size == len(tx.serialize_legacy())
    assert tx.weight == 3 * tx.base_size + tx.total_size
    assert tx.vsize == (tx.weight + 3) // 4


@pytest.mark.parametrize("n", [0, 0xFC, 0xFD, 0xFFFF, 0x10000, 0xFFFFFFFF, 0x100000000])
def test_compact_size_round_trips(n):
    assert ByteReader(compact_size(n)).compact_size(range_check=False) == n


@pytest.mark.parametrize("raw", ["fdfc00", "fe00ff0000", "ffffffffff00000000"])
def test_rejects_non_canonical_compact_size(raw):
    with pytest.raises(DecodeError, match="non-canonical"):
        ByteReader(bytes.fromhex(raw)).compact_size(range_check=False)


def test_rejects_superfluous_witness_flag():
    # A segwit-marked transaction whose inputs all have empty witnesses (BIP144).
    legacy = Tx.from_hex(BIP143_P2WPKH).serialize_legacy()
    forged = legacy[:4] + b"\x00\x01" + legacy[4:-4] + b"\x00\x00" + legacy[-4:]
    with pytest.raises(DecodeError, match="superfluous witness"):
        Tx.from_hex(forged.hex())


def test_truncated_tx_raises_decode_error():
    raw = bytes.fromhex(BIP143_P2WPKH)
    for cut in range(len(raw)):
        with pytest.raises(DecodeError):
            Tx.from_hex(raw[:cut].hex())


def test_parsed_outputs_are_kept_as_serialized():
    """BIP143's hashOutputs hashes the parsed bytes: they must be what serializing gives."""
    from node.consensus.primitives import TxOut
    from node.consensus.script.sighash import outputs_serialized, serialize_outputs
    segwit = Tx.from_hex(BIP143_P2WPKH)
    legacy = Tx.from_hex(segwit.serialize_legacy().hex())
    # 253 outputs: the count is a 3-byte CompactSize, which the kept bytes must leave out.
    many = Tx(2, segwit.vin, tuple(TxOut(i, b"\x51") for i in range(253)))
    many = Tx.from_hex(many.serialize().hex())
    for tx in (segwit, legacy, many):
        assert tx._outputs_raw == serialize_outputs(tx.vout)
        assert outputs_serialized(tx) == tx._outputs_raw
    built = Tx(segwit.version, segwit.vin, segwit.vout, segwit.locktime)
    assert built._outputs_raw is None and outputs_serialized(built) == segwit._outputs_raw
    # BIP144's marker with a zero flag: no inputs, no outputs.
    empty = Tx.parse(ByteReader(bytes.fromhex("01000000" "0000" "00000000")))
    assert empty.vout == () and empty._outputs_raw == b""


@pytest.mark.parametrize(("first", "second"), [(71, 33), (300, 33), (71, 300), (253, 0xFFFF)],
                         ids=["short", "long first", "long second", "both long"])
def test_two_item_witness_round_trips(first, second):
    """Two-item stacks (P2WPKH's shape) are read by a shorter path when both items are under
    253 bytes; the others by the general one. Either way the items come back as they were."""
    stack = (b"\x30" * first, b"\x02" * second)
    tx = Tx(2, (TxIn(OutPoint(bytes(range(32)), 1), b"", 0xFFFFFFFD, stack),
                TxIn(OutPoint(bytes(32), 2), b"", 0, (b"",) * 2)), (TxOut(1, b"\x51"),), 7)
    raw = tx.serialize()
    parsed = Tx.from_hex(raw.hex())
    assert parsed == tx and parsed.vin[0].witness == stack
    assert parsed.total_size == len(raw) and parsed.wtxid == tx.wtxid
