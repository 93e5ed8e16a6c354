"""Bitcoin Core's compact encodings: VARINT, amounts, scripts, coins and undo data."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.consensus import crypto
from node.consensus.coin import Coin
from node.consensus.errors import DecodeError
from node.consensus.params import COIN, MAX_MONEY, get_params
from node.consensus.primitives import TxOut
from node.consensus.serialize import ByteReader
from node.storage.codec import (
    N_SPECIAL_SCRIPTS,
    compress_amount,
    compress_script,
    decode_block_undo,
    decode_coin,
    decompress_amount,
    encode_block_undo,
    encode_coin,
    encode_script,
    encode_txin_undo,
    read_coin,
    read_varint,
    varint,
)

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CENT = COIN // 100

P2PKH = bytes.fromhex("76a914") + bytes(range(20)) + bytes.fromhex("88ac")
P2SH = bytes.fromhex("a914") + bytes(range(20)) + bytes.fromhex("87")
P2WPKH = bytes.fromhex("0014") + bytes(range(20))
# The genesis coinbase pays to an uncompressed public key (P2PK).
GENESIS_P2PK = get_params("main").genesis.txs[0].vout[0].script_pubkey


def p2pk(pubkey: bytes) -> bytes:
    return bytes((len(pubkey),)) + pubkey + b"\xac"


# -- VARINT: serialize_tests.cpp varints_bitpatterns and the serialize.h comment ------------------
VARINT_VECTORS = [
    (0, "00"), (0x7F, "7f"), (0x80, "8000"), (0xFF, "807f"), (0x100, "8100"),
    (0x1234, "a334"), (16383, "fe7f"), (16384, "ff00"), (16511, "ff7f"), (0xFFFF, "82fe7f"),
    (0x123456, "c7e756"), (0x80123456, "86ffc7e756"), (0xFFFFFFFF, "8efefefe7f"),
    (2**32, "8efefeff00"), (3_000_000_000, "8a95c0bb00"),
    (0x7FFFFFFFFFFFFFFF, "fefefefefefefefe7f"), (0xFFFFFFFFFFFFFFFF, "80fefefefefefefefe7f"),
]


@pytest.mark.parametrize(("n", "hex_"), VARINT_VECTORS, ids=[h for _, h in VARINT_VECTORS])
def test_varint_matches_core_bit_patterns(n, hex_):
    assert varint(n).hex() == hex_
    r = ByteReader(bytes.fromhex(hex_))
    assert read_varint(r) == n
    r.finish()


def test_varint_round_trips_core_sequence():
    # serialize_tests.cpp "varints": 0..99999 and a sparse walk up to 10^11, one stream.
    values = list(range(100_000)) + list(range(0, 100_000_000_000, 999_999_937))
    r = ByteReader(b"".join(varint(n) for n in values))
    assert [read_varint(r) for _ in values] == values
    r.finish()


def test_varint_rejects_values_too_large_for_the_type():
    with pytest.raises(DecodeError, match="too large"):
        read_varint(ByteReader(varint(2**32)), max_value=0xFFFFFFFF)
    with pytest.raises(DecodeError, match="too large"):
        read_varint(ByteReader(bytes.fromhex("80fefefefefefefeff00")))  # 2^64
    with pytest.raises(DecodeError, match="truncated"):
        read_varint(ByteReader(b"\x80"))


def test_varint_refuses_negative():
    with pytest.raises(ValueError):
        varint(-1)


# -- amounts: compress_tests.cpp -------------------------------------------------------------------
AMOUNT_VECTORS = [(0, 0x0), (1, 0x1), (CENT, 0x7), (COIN, 0x9), (50 * COIN, 0x32),
                  (21_000_000 * COIN, 0x1406F40)]


@pytest.mark.parametrize(("amount", "code"), AMOUNT_VECTORS, ids=[str(a) for a, _ in AMOUNT_VECTORS])
def test_compress_amount_matches_core_pairs(amount, code):
    assert compress_amount(amount) == code
    assert decompress_amount(code) == amount


def test_compress_amount_round_trips_core_ranges():
    # compress_tests.cpp walks these ranges; a sample of each keeps the test fast.
    for i in range(1, 100_001, 7):
        assert decompress_amount(compress_amount(i)) == i
    for i in range(1, 10_001, 3):
        assert decompress_amount(compress_amount(i * CENT)) == i * CENT
        assert decompress_amount(compress_amount(i * COIN)) == i * COIN
    for i in range(1, 420_001, 97):
        assert decompress_amount(compress_amount(i * 50 * COIN)) == i * 50 * COIN
    for code in range(100_000):
        assert compress_amount(decompress_amount(code)) == code


@FAST
@given(st.integers(0, MAX_MONEY))
def test_compress_amount_round_trips(amount):
    assert decompress_amount(compress_amount(amount)) == amount


# -- scripts: compress_tests.cpp ---------------------------------------------------------------
def test_p2pkh_compresses_to_21_bytes():
    out = compress_script(P2PKH)
    assert out == b"\x00" + P2PKH[3:23]
    assert encode_script(P2PKH) == out


def test_p2sh_compresses_to_21_bytes():
    out = compress_script(P2SH)
    assert out == b"\x01" + P2SH[2:22]


def test_compressed_p2pk_compresses_to_its_key():
    pub = crypto.pubkey_from_secret(bytes(31) + b"\x07", compressed=True)
    out = compress_script(p2pk(pub))
    assert out == pub and len(out) == 33


def test_uncompressed_p2pk_keeps_x_and_the_parity_of_y():
    out = compress_script(GENESIS_P2PK)
    key = GENESIS_P2PK[1:66]
    assert len(GENESIS_P2PK) == 67 and len(out) == 33
    assert out[0] == 0x04 | (key[64] & 1)
    assert out[1:] == key[1:33]
    coin = Coin(TxOut(50 * COIN, GENESIS_P2PK), 0, True)
    assert decode_coin(encode_coin(coin)) == coin


def test_uncompressed_p2pk_off_the_curve_is_stored_whole():
    x = bytes(31) + b"\x05"  # x = 5: x^3 + 7 = 132 is not a square mod p
    script = p2pk(b"\x04" + x + bytes(32))
    assert not crypto.pubkey_is_valid(script[1:66])
    assert compress_script(script) is None
    assert encode_script(script) == bytes((67 + 6,)) + script


def test_compressed_p2pk_with_x_off_the_curve_does_not_decode():
    raw = b"\x00" + varint(0) + b"\x04" + bytes(31) + b"\x05"
    with pytest.raises(DecodeError, match="not a point"):
        decode_coin(raw)


def test_other_scripts_are_stored_with_their_size_plus_six():
    assert encode_script(P2WPKH) == bytes((22 + 6,)) + P2WPKH
    assert encode_script(b"") == b"\x06"


def test_overlong_script_decodes_as_op_return_like_core():
    raw = b"\x00\x00" + varint(10_001 + 6) + bytes(10_001)
    assert decode_coin(raw).script_pubkey == b"\x6a"


# -- coins: coins_tests.cpp ccoins_serialization ------------------------------------------------
CORE_COINS = [
    ("97f23c835800816115944e077fe7c803cfa57f29b36bf87c1d35",
     203998, False, 60_000_000_000, "816115944e077fe7c803cfa57f29b36bf87c1d35"),
    ("8ddf77bbd123008c988f1a4a4de2161e0f50aac7f17e7f9555caa4",
     120891, True, 110397, "8c988f1a4a4de2161e0f50aac7f17e7f9555caa4"),
]


@pytest.mark.parametrize(("hex_", "height", "coinbase", "value", "keyhash"), CORE_COINS,
                         ids=["height-203998", "coinbase-120891"])
def test_coin_matches_core_serialization(hex_, height, coinbase, value, keyhash):
    script = bytes.fromhex("76a914" + keyhash + "88ac")
    coin = Coin(TxOut(value, script), height, coinbase)
    assert decode_coin(bytes.fromhex(hex_)) == coin
    assert encode_coin(coin).hex() == hex_


def test_smallest_coin_is_three_bytes():
    coin = decode_coin(bytes.fromhex("000006"))
    assert coin == Coin(TxOut(0, b""), 0, False)
    assert encode_coin(coin).hex() == "000006"


@pytest.mark.parametrize("hex_", ["000007", "00008a95c0bb00", "", "00", "0000", "00000000"],
                         ids=["script-past-end", "huge-script-past-end", "empty", "code-only",
                              "no-script", "p2pkh-truncated"])
def test_malformed_coin_raises_decode_error(hex_):
    with pytest.raises(DecodeError):
        decode_coin(bytes.fromhex(hex_))


def test_coin_with_trailing_bytes_is_rejected():
    with pytest.raises(DecodeError, match="trailing"):
        decode_coin(bytes.fromhex("00000600"))


def test_coin_encoder_refuses_what_the_format_cannot_hold():
    with pytest.raises(ValueError):
        encode_coin(Coin(TxOut(-1, b""), 1, False))
    with pytest.raises(ValueError):
        encode_coin(Coin(TxOut(MAX_MONEY + 1, b""), 1, False))
    with pytest.raises(ValueError):
        encode_coin(Coin(TxOut(1, b""), 2**31, False))


scripts = st.one_of(
    st.binary(max_size=120),
    st.binary(min_size=20, max_size=20).map(lambda h: b"\x76\xa9\x14" + h + b"\x88\xac"),
    st.binary(min_size=20, max_size=20).map(lambda h: b"\xa9\x14" + h + b"\x87"),
    st.binary(min_size=32, max_size=32).map(lambda x: b"\x21\x02" + x + b"\xac"),
    st.just(GENESIS_P2PK),
)
coins = st.builds(Coin, st.builds(TxOut, st.integers(0, MAX_MONEY), scripts),
                  st.integers(0, 2**31 - 1), st.booleans())


@FAST
@given(coins)
def test_coin_round_trips(coin):
    assert decode_coin(encode_coin(coin)) == coin


@FAST
@given(st.binary(max_size=60))
def test_coin_decoder_raises_only_decode_error(data):
    try:
        decode_coin(data)
    except DecodeError:
        pass


_VARINTS = st.one_of(st.integers(0, 2**64 - 1), st.integers(2**32 - 2, 2**32 + 1),
                     st.integers(2**63 - 2, 2**63 + 1))


def _general_decode(data: bytes) -> Coin:
    """decode_coin without its inline fast path: the bounded readers only."""
    r = ByteReader(data)
    coin = read_coin(r)
    if r.pos != len(data):
        raise DecodeError("trailing bytes")
    return coin


def _outcome(decode, data: bytes) -> tuple:
    try:
        coin = decode(data)
    except DecodeError:
        return ("error",)
    return ("coin", coin, coin.stored)


@FAST
@given(st.one_of(
    st.binary(max_size=60),
    coins.map(encode_coin),
    # Encoded coins with a height code or amount at the VARINT limits and beyond.
    st.tuples(_VARINTS, _VARINTS, st.binary(max_size=30)).map(
        lambda t: varint(t[0]) + varint(t[1]) + bytes((N_SPECIAL_SCRIPTS + len(t[2]),)) + t[2]),
    st.tuples(coins.map(encode_coin), st.binary(min_size=1, max_size=3)).map(
        lambda t: t[0] + t[1]),
))
def test_the_inline_coin_decoder_agrees_with_the_general_readers(data):
    assert _outcome(decode_coin, data) == _outcome(_general_decode, data)


# -- undo data -------------------------------------------------------------------------------------
def test_block_undo_uses_core_txin_undo_format():
    spent = Coin(TxOut(COIN, P2PKH), 5, False)
    genesis_spent = Coin(TxOut(COIN, P2PKH), 0, True)
    raw = encode_block_undo([[spent, genesis_spent], []])
    # count 2 | count 2 | code 0a, dummy 00, amount 09, P2PKH | code 01, amount, P2PKH | count 0
    assert raw.hex() == ("02" + "02" + "0a" + "00" + "09" + "00" + P2PKH[3:23].hex()
                         + "01" + "09" + "00" + P2PKH[3:23].hex() + "00")
    assert decode_block_undo(raw) == [[spent, genesis_spent], []]


def test_empty_block_undo():
    assert encode_block_undo([]) == b"\x00"
    assert decode_block_undo(b"\x00") == []


@FAST
@given(st.lists(st.lists(coins, max_size=4), max_size=4))
def test_block_undo_round_trips(block_undo):
    assert decode_block_undo(encode_block_undo(block_undo)) == block_undo


@FAST
@given(coins)
def test_undo_of_a_coin_read_from_the_database_is_its_undo_encoding(coin):
    # Coins read back keep their stored bytes, which the undo encoding reuses.
    read = decode_coin(encode_coin(coin))
    assert read.stored == encode_coin(coin)
    assert encode_txin_undo(read) == encode_txin_undo(coin)
    assert encode_block_undo([[read, coin]]) == encode_block_undo([[coin, coin]])


def test_a_coin_changed_with_replace_does_not_keep_the_encoding_of_the_old_one():
    read = decode_coin(encode_coin(Coin(TxOut(5000, b"\x51"), 7, False)))
    moved = replace(read, height=8)
    assert moved.stored is None
    assert encode_txin_undo(moved) == encode_txin_undo(Coin(TxOut(5000, b"\x51"), 8, False))


@pytest.mark.parametrize("hex_", ["", "01", "0101", "ff", "fe00000001", "0100" + "00"],
                         ids=["empty", "missing-tx", "missing-coin", "bad-compact-size",
                              "count-beyond-data", "trailing"])
def test_malformed_block_undo_raises_decode_error(hex_):
    with pytest.raises(DecodeError):
        decode_block_undo(bytes.fromhex(hex_))


@FAST
@given(st.binary(max_size=80))
def test_block_undo_decoder_raises_only_decode_error(data):
    try:
        decode_block_undo(data)
    except DecodeError:
        pass


def test_amount_beyond_64_bit_signed_does_not_decode():
    with pytest.raises(DecodeError, match="does not fit"):
        decode_coin(b"\x00" + varint(2**64 - 1) + b"\x06")
