"""Hash functions and the one pair of helpers that convert hashes to and from display hex.

Internally hashes are ``bytes`` in the order SHA-256 produces them; Bitcoin shows txids and
block hashes byte-reversed, so hex in display order exists only at the edges.
"""

from __future__ import annotations

import hashlib

from .errors import DecodeError

try:  # RIPEMD-160 was dropped from OpenSSL 3's default provider on some systems.
    # Copying a fresh object is twice as fast as hashlib.new, which looks the digest up by
    # name in OpenSSL on every call (hash160 runs once per P2PKH/P2WPKH input).
    _RIPEMD160 = hashlib.new("ripemd160", b"")

    def ripemd160(data: bytes) -> bytes:
        h = _RIPEMD160.copy()
        h.update(data)
        return h.digest()

except ValueError:  # pragma: no cover - depends on the OpenSSL build
    from ._ripemd160 import ripemd160  # noqa: F401


# Bound once: a block's connection hashes ~7 times per transaction.
_SHA256 = hashlib.sha256


def sha256(data: bytes) -> bytes:
    return _SHA256(data).digest()


def sha256d(data: bytes) -> bytes:
    """Bitcoin's Hash(): SHA-256 applied twice (txids, block hashes, checksums)."""
    return _SHA256(_SHA256(data).digest()).digest()


def hash160(data: bytes) -> bytes:
    """RIPEMD-160 of SHA-256 (P2PKH and P2WPKH key hashes, P2SH script hashes)."""
    return ripemd160(_SHA256(data).digest())


def hash_to_hex(h: bytes) -> str:
    """Internal-order hash -> display hex (byte-reversed), as Bitcoin Core prints it."""
    return h[::-1].hex()


def hex_to_hash(s: str) -> bytes:
    """Display hex (64 chars) -> internal-order hash bytes."""
    if len(s) != 64:
        raise DecodeError(f"hash must be 64 hex characters, got {len(s)}")
    # bytes.fromhex skips whitespace, so check the characters rather than the decoded length.
    if not _HEX_DIGITS.issuperset(s):
        raise DecodeError("hash is not valid hex")
    return bytes.fromhex(s)[::-1]


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
