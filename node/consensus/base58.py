"""Base58 and Base58Check, Bitcoin's encoding for legacy addresses, WIF keys and extended keys.

Base58 (Core: src/base58.cpp) writes bytes as a big-endian number in an alphabet that drops the
look-alike characters 0, O, I and l; each leading zero byte becomes a leading '1'. Base58Check
appends the first 4 bytes of sha256d(payload) so typos are caught before money is sent.
"""

from __future__ import annotations

from .errors import DecodeError
from .hashes import sha256d

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # Core: pszBase58
_B58_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}
CHECKSUM_SIZE = 4


class Base58Error(DecodeError):
    """Text that is not valid Base58 or Base58Check."""


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    digits = []
    while n:
        n, r = divmod(n, 58)
        digits.append(B58_ALPHABET[r])
    # The number drops leading zero bytes, so each is kept as a '1' (the digit zero).
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def b58decode(s: str) -> bytes:
    """Decode Base58 text. Quadratic in the length: callers bound untrusted input first."""
    n = 0
    for pos, c in enumerate(s):
        digit = _B58_INDEX.get(c)
        if digit is None:
            raise Base58Error(f"invalid base58 character {c!r} at position {pos}")
        n = n * 58 + digit
    ones = len(s) - len(s.lstrip("1"))
    return b"\0" * ones + n.to_bytes((n.bit_length() + 7) // 8, "big")


def b58check_encode(payload: bytes) -> str:
    return b58encode(payload + sha256d(payload)[:CHECKSUM_SIZE])


def b58check_decode(s: str) -> bytes:
    """Decode Base58Check text and return the payload without its 4-byte checksum."""
    raw = b58decode(s)
    if len(raw) < CHECKSUM_SIZE:
        raise Base58Error(f"too short for a checksum ({len(raw)} bytes)")
    payload, checksum = raw[:-CHECKSUM_SIZE], raw[-CHECKSUM_SIZE:]
    if sha256d(payload)[:CHECKSUM_SIZE] != checksum:
        raise Base58Error("bad checksum")
    return payload
