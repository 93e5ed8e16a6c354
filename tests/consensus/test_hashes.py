"""Hash functions, the pure-Python RIPEMD-160 fallback, and the display-hex helpers."""

import hashlib
import os

import pytest

from node.consensus import hashes
from node.consensus._ripemd160 import ripemd160 as py_ripemd160
from node.consensus.errors import DecodeError
from node.consensus.hashes import hash160, hash_to_hex, hex_to_hash, sha256, sha256d


def _hashlib_ripemd160():
    try:
        hashlib.new("ripemd160", b"")
    except ValueError:
        return None
    return lambda data: hashlib.new("ripemd160", data).digest()


HASHLIB_RIPEMD160 = _hashlib_ripemd160()

# The RIPEMD-160 authors' test vectors (Dobbertin, Bosselaers, Preneel).
RIPEMD160_VECTORS = [
    (b"", "9c1185a5c5e9fc54612808977ee8f548b2258d31"),
    (b"a", "0bdc9d2d256b3ee9daae347be6f4dc835a467ffe"),
    (b"abc", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"),
    (b"message digest", "5d0689ef49d2fae572b881b123a85ffa21595f36"),
    (b"abcdefghijklmnopqrstuvwxyz", "f71c27109c692c1b56bbdceb5b9d2865b3708dbc"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "12a053384a9c0c88e405a06c27dcf49ada62eb2b"),
    (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "b0e20b6e3116640286ed3a87a5713079b21f5189"),
    (b"1234567890" * 8, "9b752e45573d4b39f4dbd3323cab82bf63326bfb"),
]


@pytest.mark.parametrize("message,digest", RIPEMD160_VECTORS,
                         ids=[m[:16].decode() or "empty" for m, _ in RIPEMD160_VECTORS])
def test_pure_python_ripemd160_vectors(message, digest):
    assert py_ripemd160(message).hex() == digest
    assert hashes.ripemd160(message).hex() == digest


def test_pure_python_ripemd160_million_a():
    assert py_ripemd160(b"a" * 1_000_000).hex() == "52783243c1697bdbe16d37f97f68f08325dc1528"


@pytest.mark.skipif(HASHLIB_RIPEMD160 is None, reason="OpenSSL here has no RIPEMD-160")
def test_pure_python_ripemd160_matches_hashlib():
    # Every length around the 55/56/64-byte padding boundaries, and a few multi-block sizes.
    for n in [*range(0, 130), 1000, 4095, 4096, 4097]:
        data = os.urandom(n)
        assert py_ripemd160(data) == HASHLIB_RIPEMD160(data), n


def test_ripemd160_accepts_bytes_like():
    assert py_ripemd160(bytearray(b"abc")) == py_ripemd160(memoryview(b"abc")) == py_ripemd160(
        b"abc")


def test_sha256d_and_hash160():
    assert sha256(b"").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha256d(b"").hex() == "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
    # Satoshi's genesis public key -> 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa's hash.
    pubkey = bytes.fromhex(
        "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f355"
        "04e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f")
    assert hash160(pubkey).hex() == "62e907b15cbf27d5425399ebf6f0fb50ebb88f18"
    assert hash160(pubkey) == py_ripemd160(sha256(pubkey))


def test_hash_hex_round_trip():
    h = bytes(range(32))
    s = hash_to_hex(h)
    assert s == bytes(range(31, -1, -1)).hex()
    assert hex_to_hash(s) == h
    assert hex_to_hash(s.upper()) == h
    genesis = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    assert hash_to_hex(hex_to_hash(genesis)) == genesis
    assert hex_to_hash(genesis)[-1] == 0  # display order is byte-reversed


@pytest.mark.parametrize("bad", ["", "00" * 31, "00" * 33, "zz" * 32, "0" * 63, "g" + "0" * 63])
def test_hex_to_hash_rejects_bad_input(bad):
    with pytest.raises(DecodeError):
        hex_to_hash(bad)


@pytest.mark.parametrize("bad", ["  " + "00" * 31, "00" * 31 + "\n\n", "00 " * 16 + "00" * 8])
def test_hex_to_hash_rejects_whitespace(bad):
    assert len(bad) == 64
    with pytest.raises(DecodeError):
        hex_to_hash(bad)
