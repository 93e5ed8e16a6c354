"""Property tests of serialization: round trips, sizes, and parsers that fail only with DecodeError.

A note on BIP144's ambiguity: a legacy transaction with no inputs serializes its input count as
0x00, the same byte as the segwit marker, so a parser reads the output count as the flag. Such a
transaction round-trips only when it also has no outputs (the "flag" is then 0, read as legacy)
or when parsed with ``allow_witness=False``. Bitcoin Core has the same ambiguity. In our model
witnesses live on inputs, so a witness transaction always has at least one input.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.consensus.errors import DecodeError
from node.consensus.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from node.consensus.serialize import ByteReader, compact_size, from_bytes

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

u32 = st.integers(0, 2**32 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
hash32 = st.binary(min_size=32, max_size=32)
# Mostly short scripts, sometimes long enough to need a 0xfd CompactSize.
script = st.one_of(st.binary(max_size=40), st.binary(min_size=250, max_size=300))

outpoints = st.builds(OutPoint, hash32, u32)
# Items of a 1-byte and of a 3-byte CompactSize length (the parser reads two-item stacks, the
# P2WPKH shape, by a shorter path for the first kind).
witness_items = st.one_of(st.binary(max_size=80), st.binary(min_size=253, max_size=300))
witness_stacks = st.lists(witness_items, min_size=1, max_size=4).map(tuple)
txins_plain = st.builds(TxIn, outpoints, script, u32)
# With a witness stack or, sometimes, an empty one (an input without witness in a segwit tx).
txins_witness = st.builds(TxIn, outpoints, script, u32,
                          st.one_of(witness_stacks, st.just(())))
txouts = st.builds(TxOut, i64, script)

legacy_txs = st.builds(Tx, i32, st.lists(txins_plain, min_size=1, max_size=3).map(tuple),
                       st.lists(txouts, max_size=3).map(tuple), u32)


@st.composite
def witness_txs(draw) -> Tx:
    vin = draw(st.lists(txins_witness, min_size=1, max_size=3))
    if not any(txin.witness for txin in vin):  # make sure it really is a segwit tx
        i = draw(st.integers(0, len(vin) - 1))
        vin[i] = TxIn(vin[i].prevout, vin[i].script_sig, vin[i].sequence, draw(witness_stacks))
    vout = draw(st.lists(txouts, max_size=3))
    return Tx(draw(i32), tuple(vin), tuple(vout), draw(u32))


# The one legacy shape with no inputs that still round-trips (see the module docstring).
empty_txs = st.builds(Tx, i32, st.just(()), st.just(()), u32)
txs = st.one_of(legacy_txs, witness_txs(), empty_txs)

headers = st.builds(BlockHeader, i32, hash32, hash32, u32, u32, u32)
blocks = st.builds(Block, headers, st.lists(txs, max_size=4).map(tuple))


def _parse_or_decode_error(cls, data: bytes):
    """Parse ``data``; return the object, or None on DecodeError; fail on any other exception."""
    try:
        return from_bytes(cls, data)
    except DecodeError:
        return None
    except Exception as e:  # anything else escaping a parser is a bug
        raise AssertionError(f"{cls.__name__} parser raised {type(e).__name__}: {e!r} "
                             f"on {data.hex()}") from e


def _check_sizes(tx: Tx) -> None:
    legacy, full = tx.serialize_legacy(), tx.serialize()
    assert tx.base_size == len(legacy)
    assert tx.total_size == len(full)
    assert tx.weight == 3 * tx.base_size + tx.total_size
    assert tx.vsize == (tx.weight + 3) // 4


# -- round trips ------------------------------------------------------------------------------

@MANY
@given(outpoints)
def test_outpoint_round_trips(op):
    assert from_bytes(OutPoint, op.serialize()) == op


@MANY
@given(txins_plain)
def test_txin_round_trips(txin):
    assert from_bytes(TxIn, txin.serialize()) == txin


@MANY
@given(txouts)
def test_txout_round_trips(txout):
    assert from_bytes(TxOut, txout.serialize()) == txout


@MANY
@given(headers)
def test_header_round_trips(header):
    raw = header.serialize()
    assert len(raw) == BlockHeader.SIZE
    parsed = from_bytes(BlockHeader, raw)
    assert parsed == header and parsed.hash == header.hash


@MANY
@given(txs)
def test_tx_round_trips(tx):
    raw = tx.serialize()
    parsed = from_bytes(Tx, raw)
    assert parsed == tx
    assert parsed.serialize() == raw
    assert parsed.txid == tx.txid and parsed.wtxid == tx.wtxid
    assert parsed.has_witness() == tx.has_witness()


@FAST
@given(blocks)
def test_block_round_trips(block):
    raw = block.serialize()
    parsed = from_bytes(Block, raw)
    assert parsed == block
    assert parsed.serialize() == raw
    assert parsed.hash == block.hash


@FAST
@given(txs)
def test_legacy_serialization_parses_as_the_stripped_tx(tx):
    # serialize_legacy is what a pre-segwit peer sees: the same tx without witnesses.
    if not tx.vin and not tx.vout:
        stripped = from_bytes(Tx, tx.serialize_legacy())
    else:
        stripped = Tx.parse(r := ByteReader(tx.serialize_legacy()), allow_witness=False)
        r.finish()
    assert stripped.txid == tx.txid
    assert not stripped.has_witness()
    assert [i.prevout for i in stripped.vin] == [i.prevout for i in tx.vin]


@FAST
@given(i32, st.lists(txouts, min_size=1, max_size=3), u32)
def test_empty_vin_legacy_tx_needs_allow_witness_false(version, vout, locktime):
    # BIP144 ambiguity: with outputs, "0 inputs" reads as the segwit marker.
    tx = Tx(version, (), tuple(vout), locktime)
    raw = tx.serialize()
    r = ByteReader(raw)
    assert Tx.parse(r, allow_witness=False) == tx
    r.finish()
    assert _parse_or_decode_error(Tx, raw) != tx


# -- identity and sizes -----------------------------------------------------------------------

@MANY
@given(txs)
def test_txid_is_stable_and_ignores_witness(tx):
    assert tx.txid == tx.txid
    rebuilt = Tx(tx.version, tuple(TxIn(i.prevout, i.script_sig, i.sequence) for i in tx.vin),
                 tx.vout, tx.locktime)
    assert rebuilt.txid == tx.txid
    if tx.has_witness():
        assert tx.wtxid != tx.txid
    else:
        assert tx.wtxid == tx.txid


@MANY
@given(txs)
def test_tx_weight_and_sizes_match_serializations(tx):
    _check_sizes(tx)  # computed from the object
    _check_sizes(from_bytes(Tx, tx.serialize()))  # cached by the parser
    if tx.has_witness():
        assert tx.total_size == tx.base_size + 2 + sum(
            len(i.serialize_witness()) for i in tx.vin)
    else:
        assert tx.total_size == tx.base_size


@FAST
@given(blocks)
def test_block_weight_and_sizes_match_serializations(block):
    for b in (block, from_bytes(Block, block.serialize())):
        assert b.base_size == len(b.serialize(witness=False))
        assert b.total_size == len(b.serialize())
        assert b.weight == 3 * b.base_size + b.total_size
        assert b.weight == BlockHeader.SIZE * 4 + len(compact_size(len(b.txs))) * 4 + sum(
            t.weight for t in b.txs)


# -- decoders fail only with DecodeError ------------------------------------------------------

@MANY
@given(st.binary(max_size=300))
def test_random_bytes_parse_or_raise_decode_error(data):
    for cls in (Tx, Block, BlockHeader, TxIn, TxOut, OutPoint):
        obj = _parse_or_decode_error(cls, data)
        if obj is not None:
            # Whatever parses re-serializes to exactly the same bytes (encodings are canonical).
            assert obj.serialize() == data
            if cls is Tx:
                _check_sizes(obj)


@MANY
@given(st.binary(max_size=200))
def test_random_bytes_after_a_segwit_marker(tail):
    # Steer random input into the witness branch of the parser.
    data = b"\x02\x00\x00\x00\x00\x01" + tail
    tx = _parse_or_decode_error(Tx, data)
    if tx is not None:
        assert tx.serialize() == data
        _check_sizes(tx)


@FAST
@given(txs)
def test_every_truncation_of_a_tx_raises_only_decode_error(tx):
    raw = tx.serialize()
    for n in range(len(raw)):
        _parse_or_decode_error(Tx, raw[:n])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks)
def test_every_truncation_of_a_block_raises_only_decode_error(block):
    raw = block.serialize()
    for n in range(len(raw)):
        _parse_or_decode_error(Block, raw[:n])


@FAST
@given(txs, st.data())
def test_corrupted_tx_raises_only_decode_error(tx, data):
    raw = bytearray(tx.serialize())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    parsed = _parse_or_decode_error(Tx, bytes(raw))
    if parsed is not None:
        assert parsed.serialize() == bytes(raw)
