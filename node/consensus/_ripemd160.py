"""Pure-Python RIPEMD-160, the fallback :mod:`node.consensus.hashes` uses when OpenSSL lacks it.

OpenSSL 3 moved RIPEMD-160 to its legacy provider, so ``hashlib.new("ripemd160")`` fails on some
systems. Bitcoin needs it for HASH160 (P2PKH, P2WPKH, P2SH). This follows the specification by
Dobbertin, Bosselaers and Preneel (1996), as Bitcoin Core's crypto/ripemd160.cpp does. It is slow
(about 1 MB/s) but only ever hashes 32-byte SHA-256 digests and short scripts.
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF

# Message word selection, left and right lines (the spec's r and r').
_R_LEFT = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
    3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12,
    1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
    4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13,
)
_R_RIGHT = (
    5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12,
    6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
    15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13,
    8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
    12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11,
)
# Left-rotation amounts (the spec's s and s').
_S_LEFT = (
    11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8,
    7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
    11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5,
    11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
    9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6,
)
_S_RIGHT = (
    8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6,
    9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
    9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5,
    15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
    8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11,
)
# Round constants: one per group of 16 steps.
_K_LEFT = (0x00000000, 0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xA953FD4E)
_K_RIGHT = (0x50A28BE6, 0x5C4DD124, 0x6D703EF3, 0x7A6D76E9, 0x00000000)

_INIT = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)
_BLOCK = struct.Struct("<16I")


def _f(j: int, x: int, y: int, z: int) -> int:
    """The five boolean functions, selected by round ``j`` (0..4)."""
    if j == 0:
        return x ^ y ^ z
    if j == 1:
        return (x & y) | (~x & z)
    if j == 2:
        return (x | ~y) ^ z
    if j == 3:
        return (x & z) | (y & ~z)
    return x ^ (y | ~z)


def _rol(x: int, n: int) -> int:
    return ((x << n) | (x >> (32 - n))) & _MASK


# (word index, rotation, round function, constant) per step, precomputed for both lines.
_LEFT = tuple((_R_LEFT[i], _S_LEFT[i], i // 16, _K_LEFT[i // 16]) for i in range(80))
_RIGHT = tuple((_R_RIGHT[i], _S_RIGHT[i], 4 - i // 16, _K_RIGHT[i // 16]) for i in range(80))


def _compress(h: tuple[int, int, int, int, int], block: bytes) -> tuple[int, int, int, int, int]:
    x = _BLOCK.unpack(block)
    al, bl, cl, dl, el = h
    ar, br, cr, dr, er = h
    for (wl, sl, fl, kl), (wr, sr, fr, kr) in zip(_LEFT, _RIGHT, strict=True):
        t = _rol((al + _f(fl, bl, cl, dl) + x[wl] + kl) & _MASK, sl) + el
        al, el, dl, cl, bl = el, dl, _rol(cl, 10), bl, t & _MASK
        t = _rol((ar + _f(fr, br, cr, dr) + x[wr] + kr) & _MASK, sr) + er
        ar, er, dr, cr, br = er, dr, _rol(cr, 10), br, t & _MASK
    return ((h[1] + cl + dr) & _MASK, (h[2] + dl + er) & _MASK, (h[3] + el + ar) & _MASK,
            (h[4] + al + br) & _MASK, (h[0] + bl + cr) & _MASK)


def ripemd160(data: bytes) -> bytes:
    """RIPEMD-160 digest (20 bytes) of ``data``."""
    data = bytes(data)
    # MD4-style padding: 0x80, zeros to 56 mod 64, then the bit length as 64-bit little-endian.
    padded = data + b"\x80" + bytes((55 - len(data)) % 64) + struct.pack(
        "<Q", (len(data) * 8) & 0xFFFFFFFFFFFFFFFF)
    h = _INIT
    for off in range(0, len(padded), 64):
        h = _compress(h, padded[off:off + 64])
    return struct.pack("<5I", *h)
