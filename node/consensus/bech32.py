"""Bech32 (BIP173) and Bech32m (BIP350) strings, and segwit addresses built on them.

The generic format is ``hrp`` + ``'1'`` + data (5-bit values) + a 6-character BCH checksum.
Bech32m differs only in the constant the checksum is XORed with; BIP350 introduced it because
Bech32 lets a trailing 'p' be inserted or removed before a final 'q' unnoticed. Segwit v0
addresses use Bech32, v1 and later (Taproot onwards) use Bech32m.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum

from .errors import DecodeError

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(CHARSET)}
MAX_LENGTH = 90  # BIP173: "A Bech32 string is at most 90 characters long"
CHECKSUM_LENGTH = 6
MAX_WITNESS_VERSION = 16
MIN_PROGRAM_SIZE = 2  # BIP141: a witness program is 2..40 bytes
MAX_PROGRAM_SIZE = 40


class Encoding(Enum):
    """Which checksum a string uses; the value is the constant its polymod must equal."""

    BECH32 = 1  # BIP173
    BECH32M = 0x2BC830A3  # BIP350


class Bech32Error(DecodeError):
    """Text that is not a valid Bech32/Bech32m string or segwit address."""


def _polymod(values: Iterable[int]) -> int:
    # BIP173: the checksum is a BCH code over GF(32); these are its generator coefficients.
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, g in enumerate(generator):
            if (top >> i) & 1:
                chk ^= g
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    # The hrp enters the checksum as its high bits, a zero, then its low bits (BIP173).
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _create_checksum(hrp: str, data: Sequence[int], encoding: Encoding) -> list[int]:
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ encoding.value
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(CHECKSUM_LENGTH)]


def bech32_encode(hrp: str, data: Sequence[int], encoding: Encoding) -> str:
    """Encode 5-bit ``data`` under ``hrp``. Raises ValueError on arguments no string can carry."""
    if not hrp or any(not 33 <= ord(c) <= 126 for c in hrp) or hrp != hrp.lower():
        raise ValueError(f"invalid human-readable part {hrp!r}")
    if any(not 0 <= d < 32 for d in data):
        raise ValueError("data values must be 5-bit (0..31)")
    result = hrp + "1" + "".join(CHARSET[d] for d in [*data, *_create_checksum(hrp, data, encoding)])
    if len(result) > MAX_LENGTH:
        raise ValueError(f"too long ({len(result)} characters, max {MAX_LENGTH})")
    return result


def bech32_decode(s: str) -> tuple[str, list[int], Encoding]:
    """Decode a Bech32 or Bech32m string into (lowercase hrp, 5-bit data, encoding)."""
    if len(s) > MAX_LENGTH:
        raise Bech32Error(f"too long ({len(s)} characters, max {MAX_LENGTH})")
    for pos, c in enumerate(s):
        if not 33 <= ord(c) <= 126:  # BIP173: printable US-ASCII only
            raise Bech32Error(f"invalid character {c!r} at position {pos}")
    # BIP173: decoders must reject strings that mix cases; either case alone is fine.
    if s.lower() != s and s.upper() != s:
        raise Bech32Error("mixed case")
    s = s.lower()
    sep = s.rfind("1")  # the hrp may itself contain '1', so the separator is the last one
    if sep == -1:
        raise Bech32Error("missing separator '1'")
    if sep == 0:
        raise Bech32Error("empty human-readable part")
    if len(s) - sep - 1 < CHECKSUM_LENGTH:
        raise Bech32Error("checksum too short")
    hrp, data = s[:sep], []
    for pos in range(sep + 1, len(s)):
        value = _CHARSET_INDEX.get(s[pos])
        if value is None:
            raise Bech32Error(f"invalid data character {s[pos]!r} at position {pos}")
        data.append(value)
    polymod = _polymod(_hrp_expand(hrp) + data)
    for encoding in Encoding:
        if polymod == encoding.value:
            return hrp, data[:-CHECKSUM_LENGTH], encoding
    raise Bech32Error("bad checksum")


def convertbits(data: Iterable[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    """Regroup ``frombits``-bit values into ``tobits``-bit values, big-endian (BIP173).

    Without ``pad`` the leftover bits must be fewer than ``frombits`` and all zero: otherwise
    two different strings would decode to the same program (BIP173's padding rules).
    """
    acc = bits = 0
    out = []
    maxv = (1 << tobits) - 1
    for value in data:
        if value < 0 or value >> frombits:
            raise Bech32Error(f"value {value} does not fit in {frombits} bits")
        acc = (acc << frombits | value) & ((1 << (frombits + tobits - 1)) - 1)
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits:
        raise Bech32Error(f"padding of more than {frombits - 1} bits")
    elif (acc << (tobits - bits)) & maxv:
        raise Bech32Error("non-zero padding")
    return out


def _program_error(witver: int, program: bytes) -> str | None:
    """Why (witver, program) cannot be a segwit address, or None if it can (BIP141, BIP173)."""
    if not 0 <= witver <= MAX_WITNESS_VERSION:
        return f"invalid witness version {witver}"
    if not MIN_PROGRAM_SIZE <= len(program) <= MAX_PROGRAM_SIZE:
        return f"invalid program length {len(program)}"
    if witver == 0 and len(program) not in (20, 32):  # BIP141: P2WPKH or P2WSH only
        return f"invalid program length {len(program)} for witness version 0"
    return None


def _encoding_for(witver: int) -> Encoding:
    return Encoding.BECH32 if witver == 0 else Encoding.BECH32M  # BIP350


def encode_segwit_address(hrp: str, witver: int, program: bytes) -> str:
    """The address paying to witness ``program`` of version ``witver`` (lowercase)."""
    if error := _program_error(witver, program):
        raise ValueError(error)
    return bech32_encode(hrp, [witver, *convertbits(program, 8, 5, True)], _encoding_for(witver))


def decode_segwit_address(hrp: str, addr: str) -> tuple[int, bytes]:
    """Decode a segwit address that must carry ``hrp``; returns (witness version, program)."""
    got_hrp, data, encoding = bech32_decode(addr)
    if got_hrp != hrp:
        raise Bech32Error(f"wrong human-readable part {got_hrp!r}, expected {hrp!r}")
    if not data:
        raise Bech32Error("empty data section")
    witver = data[0]
    if witver > MAX_WITNESS_VERSION:
        raise Bech32Error(f"invalid witness version {witver}")
    program = bytes(convertbits(data[1:], 5, 8, False))
    if error := _program_error(witver, program):
        raise Bech32Error(error)
    if encoding is not _encoding_for(witver):
        raise Bech32Error("wrong encoding: v0 requires bech32" if witver == 0
                          else f"wrong encoding: v{witver} requires bech32m")
    return witver, program
