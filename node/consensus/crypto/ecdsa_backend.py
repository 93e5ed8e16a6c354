"""The pure-Python crypto backend, on python-ecdsa's secp256k1 (always installed).

python-ecdsa uses gmpy2 for its arithmetic by itself when gmpy2 is installed (about 2x faster).
Owns only the translation between our byte-level interface and python-ecdsa's objects.
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import sha256

from ecdsa import SECP256k1, SigningKey, VerifyingKey
from ecdsa.ecdsa import Public_key, Signature
from ecdsa.ellipticcurve import INFINITY, PointJacobi
from ecdsa.errors import MalformedPointError

from .backend import (
    HALF_N,
    PUBKEY_CACHE_SIZE,
    PUBKEY_SIZE_BY_HEADER,
    N,
    encode_der,
    grind_entropy,
    normalize_s,
    parse_der_lax,
    secret_in_range,
)

name = "ecdsa"

_CURVE = SECP256k1.curve
_G = SECP256k1.generator  # a PointJacobi with python-ecdsa's precomputed table
_ENCODINGS = ("compressed", "uncompressed", "hybrid")

class _CachedKey:
    """A parsed public key, shared through the LRU cache.

    No per-key precomputed tables: they cost ~3 verifies to build and ~45 kB each, pay back
    only for keys seen many times, and thrash when more hot keys rotate than the table holds.
    """

    __slots__ = ("x", "y", "public_key")

    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y
        self.public_key = Public_key(_G, PointJacobi(_CURVE, x, y, 1, N), verify=False)


@lru_cache(maxsize=PUBKEY_CACHE_SIZE)
def _parse_pubkey(pubkey: bytes) -> _CachedKey | None:
    """secp256k1_ec_pubkey_parse, behind CPubKey's size-for-header check; None if invalid."""
    if not pubkey or len(pubkey) != PUBKEY_SIZE_BY_HEADER[pubkey[0]]:
        return None
    try:
        # Checks x, y < p, the curve equation, and (hybrid) that the header's parity matches y.
        vk = VerifyingKey.from_string(pubkey, curve=SECP256k1, valid_encodings=_ENCODINGS)
    except (MalformedPointError, ValueError):
        return None
    point = vk.pubkey.point
    x, y = int(point.x()), int(point.y())  # plain ints, also when gmpy2 hands back mpz
    return _CachedKey(x, y)


def clear_caches() -> None:
    _parse_pubkey.cache_clear()


def verify(pubkey: bytes, sig: bytes, msg32: bytes) -> bool:
    """CPubKey::Verify. ``sig`` is DER without the sighash byte. Never raises."""
    try:
        key = _parse_pubkey(pubkey if type(pubkey) is bytes else bytes(pubkey))
        if key is None or len(msg32) != 32:
            return False
        rs = parse_der_lax(sig if type(sig) is bytes else bytes(sig))
        if rs is None:
            return False
        r, s = rs
        if s > HALF_N:  # secp256k1_ecdsa_signature_normalize
            s = N - s
        # Checks 1 <= r, s < N; the hash is taken mod N, as libsecp256k1 does.
        return key.public_key.verifies(int.from_bytes(msg32, "big"), Signature(r, s))
    except Exception:
        return False


def _rs(r: int, s: int, order: int) -> tuple[int, int]:
    return r, s


def sign(secret: bytes, msg32: bytes, *, grind: bool = True) -> bytes:
    """CKey::Sign: RFC6979 nonce, low S, strict DER; ``grind`` retries for r < 2^255."""
    if not secret_in_range(secret):
        raise ValueError("secret key must be 32 bytes encoding 1 <= k < N")
    if len(msg32) != 32:
        raise ValueError("message hash must be 32 bytes")
    sk = SigningKey.from_string(bytes(secret), curve=SECP256k1, hashfunc=sha256)
    extra = b""
    counter = 0
    while True:
        # extra_entropy is RFC6979 section 3.6 additional data: libsecp256k1's data32.
        r, s = sk.sign_digest_deterministic(
            bytes(msg32), hashfunc=sha256, sigencode=_rs, extra_entropy=extra
        )
        if not grind or r >> 255 == 0:
            break
        counter += 1
        extra = grind_entropy(counter)
    return encode_der(int(r), normalize_s(int(s)))


def _encode_point(x: int, y: int, compressed: bool) -> bytes:
    if compressed:
        return bytes((2 + (y & 1),)) + x.to_bytes(32, "big")
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def _affine(point) -> tuple[int, int] | None:
    if point is INFINITY:
        return None
    point = point.to_affine()
    if point is INFINITY:
        return None
    return int(point.x()), int(point.y())


def _parsed_or_raise(pubkey: bytes) -> _CachedKey:
    key = _parse_pubkey(bytes(pubkey))
    if key is None:
        raise ValueError("invalid public key")
    return key


def _tweak_or_raise(tweak32: bytes) -> int:
    if len(tweak32) != 32:
        raise ValueError("tweak must be 32 bytes")
    t = int.from_bytes(tweak32, "big")
    if t >= N:
        raise ValueError("tweak out of range")
    return t


def pubkey_from_secret(secret: bytes, compressed: bool = True) -> bytes:
    if not secret_in_range(secret):
        raise ValueError("secret key must be 32 bytes encoding 1 <= k < N")
    xy = _affine(_G * int.from_bytes(secret, "big"))
    assert xy is not None  # 1 <= k < N
    return _encode_point(*xy, compressed)


def pubkey_is_valid(pubkey: bytes) -> bool:
    try:
        return _parse_pubkey(bytes(pubkey)) is not None
    except Exception:
        return False


def pubkey_serialize(pubkey: bytes, compressed: bool) -> bytes:
    key = _parsed_or_raise(pubkey)
    return _encode_point(key.x, key.y, compressed)


def secret_is_valid(secret: bytes) -> bool:
    return secret_in_range(secret)


def secret_tweak_add(secret: bytes, tweak32: bytes) -> bytes:
    if not secret_in_range(secret):
        raise ValueError("secret key must be 32 bytes encoding 1 <= k < N")
    k = (int.from_bytes(secret, "big") + _tweak_or_raise(tweak32)) % N
    if k == 0:
        raise ValueError("tweaked secret key is zero")
    return k.to_bytes(32, "big")


def pubkey_tweak_add(pubkey: bytes, tweak32: bytes) -> bytes:
    key = _parsed_or_raise(pubkey)
    t = _tweak_or_raise(tweak32)
    point = PointJacobi(_CURVE, key.x, key.y, 1, N)
    xy = _affine(_G.mul_add(t, point, 1) if t else point)
    if xy is None:
        raise ValueError("tweaked public key is the point at infinity")
    return _encode_point(*xy, len(pubkey) == 33)

