"""Base58 and Base58Check against Bitcoin Core's base58_encode_decode vectors."""

import json
from pathlib import Path

import pytest

from node.consensus.base58 import (
    Base58Error,
    b58check_decode,
    b58check_encode,
    b58decode,
    b58encode,
)
from node.consensus.errors import DecodeError

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "base58_encode_decode.json").read_text())


@pytest.mark.parametrize(("hex_", "text"), VECTORS, ids=[t or "<empty>" for _, t in VECTORS])
def test_vector_encodes_and_decodes_exactly(hex_, text):
    assert b58encode(bytes.fromhex(hex_)) == text
    assert b58decode(text) == bytes.fromhex(hex_)


def test_leading_zero_bytes_round_trip_as_ones():
    assert b58encode(b"\0\0\x01") == "112"
    assert b58decode("112") == b"\0\0\x01"


@pytest.mark.parametrize(("text", "char", "pos"), [("abcl", "l", 3), ("0", "0", 0),
                                                   ("1O", "O", 1), ("I", "I", 0), ("a b", " ", 1)])
def test_rejects_invalid_character_naming_it_and_its_position(text, char, pos):
    with pytest.raises(Base58Error, match=f"invalid base58 character {char!r} at position {pos}"):
        b58decode(text)


def test_check_encoding_round_trips():
    payload = bytes.fromhex("0062e907b15cbf27d5425399ebf6f0fb50ebb88f18")
    text = b58check_encode(payload)
    assert text == "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"  # the genesis block's P2PKH address
    assert b58check_decode(text) == payload


def test_check_decoding_rejects_bad_checksum():
    with pytest.raises(Base58Error, match="bad checksum"):
        b58check_decode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb")


def test_check_decoding_rejects_text_shorter_than_a_checksum():
    with pytest.raises(Base58Error, match="too short"):
        b58check_decode("2g")


def test_errors_are_decode_errors():
    assert issubclass(Base58Error, DecodeError)
