"""The libsecp256k1 crypto backend, through coincurve's cffi bindings (used when installed).

Calls libsecp256k1 directly (``coincurve._libsecp256k1``) rather than coincurve's classes:
those verify with the strict DER parser and reject high S, where Bitcoin Core parses laxly and
normalises S first. Importing this module raises ImportError when coincurve is missing.
"""

from __future__ import annotations

from functools import lru_cache

from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from .backend import (
    PUBKEY_CACHE_SIZE,
    PUBKEY_SIZE_BY_HEADER,
    grind_entropy,
    parse_der_lax,
)

name = "coincurve"

SECP256K1_EC_COMPRESSED = 258  # flags from secp256k1.h
SECP256K1_EC_UNCOMPRESSED = 2

_ctx = GLOBAL_CONTEXT.ctx
_new = ffi.new
_parse_der = lib.secp256k1_ecdsa_signature_parse_der
_parse_compact = lib.secp256k1_ecdsa_signature_parse_compact
_normalize = lib.secp256k1_ecdsa_signature_normalize
_ecdsa_verify = lib.secp256k1_ecdsa_verify
_NONCE_RFC6979 = lib.secp256k1_nonce_function_rfc6979


@lru_cache(maxsize=PUBKEY_CACHE_SIZE)
def _parse_pubkey(pubkey: bytes):
    """CPubKey's size-for-header check, then secp256k1_ec_pubkey_parse; None if invalid.

    The returned ``secp256k1_pubkey *`` is shared by the cache: never pass it to a function
    that writes to it.
    """
    if not pubkey or len(pubkey) != PUBKEY_SIZE_BY_HEADER[pubkey[0]]:
        return None
    parsed = _new("secp256k1_pubkey *")
    if not lib.secp256k1_ec_pubkey_parse(_ctx, parsed, pubkey, len(pubkey)):
        return None
    return parsed


def clear_caches() -> None:
    _parse_pubkey.cache_clear()


def verify(pubkey: bytes, sig: bytes, msg32: bytes) -> bool:
    """CPubKey::Verify. ``sig`` is DER without the sighash byte. Never raises."""
    try:
        parsed = _parse_pubkey(pubkey if type(pubkey) is bytes else bytes(pubkey))
        if parsed is None or len(msg32) != 32:
            return False
        if type(msg32) is not bytes:  # cffi takes only bytes for a char *
            msg32 = bytes(msg32)
        if type(sig) is not bytes:
            sig = bytes(sig)
        csig = _new("secp256k1_ecdsa_signature *")
        # Fast path: libsecp256k1's strict DER parser in C. Where it accepts, the lax parser
        # reads the same (r, s), except that strict DER zeroes a negative R or S (top bit set)
        # that the lax parser reads as unsigned: send those, and anything long enough to have
        # long-form lengths, to the lax parser instead.
        n = len(sig)
        if not (
            n < 128 and _parse_der(_ctx, csig, sig, n) and sig[4] < 0x80 and sig[6 + sig[3]] < 0x80
        ):
            rs = parse_der_lax(sig)  # Bitcoin Core's ecdsa_signature_parse_der_lax
            if rs is None:
                return False
            # parse_der_lax already mapped overflow to (0, 0), so this cannot fail.
            _parse_compact(_ctx, csig, rs[0].to_bytes(32, "big") + rs[1].to_bytes(32, "big"))
        _normalize(_ctx, csig, csig)
        return _ecdsa_verify(_ctx, csig, msg32, parsed) == 1
    except Exception:
        return False


def _check_secret(secret: bytes) -> bytes:
    secret = bytes(secret)
    if len(secret) != 32 or not lib.secp256k1_ec_seckey_verify(_ctx, secret):
        raise ValueError("secret key must be 32 bytes encoding 1 <= k < N")
    return secret


def _check_tweak(tweak32: bytes) -> bytes:
    tweak32 = bytes(tweak32)
    if len(tweak32) != 32:
        raise ValueError("tweak must be 32 bytes")
    return tweak32


def sign(secret: bytes, msg32: bytes, *, grind: bool = True) -> bytes:
    """CKey::Sign: RFC6979 nonce, low S, strict DER; ``grind`` retries for r < 2^255."""
    secret = _check_secret(secret)
    msg32 = bytes(msg32)
    if len(msg32) != 32:
        raise ValueError("message hash must be 32 bytes")
    csig = _new("secp256k1_ecdsa_signature *")
    compact = _new("unsigned char[64]")
    ndata = ffi.NULL
    counter = 0
    while True:
        if not lib.secp256k1_ecdsa_sign(_ctx, csig, msg32, secret, _NONCE_RFC6979, ndata):
            raise ValueError("signing failed")
        lib.secp256k1_ecdsa_signature_serialize_compact(_ctx, compact, csig)
        if not grind or compact[0] < 0x80:  # SigHasLowR
            break
        counter += 1
        ndata = _new("unsigned char[32]", grind_entropy(counter))
    der = _new("unsigned char[72]")
    der_len = _new("size_t *", 72)
    lib.secp256k1_ecdsa_signature_serialize_der(_ctx, der, der_len, csig)
    return bytes(ffi.buffer(der, der_len[0]))


def _serialize(parsed, compressed: bool) -> bytes:
    out = _new("unsigned char[65]")
    out_len = _new("size_t *", 65)
    flags = SECP256K1_EC_COMPRESSED if compressed else SECP256K1_EC_UNCOMPRESSED
    lib.secp256k1_ec_pubkey_serialize(_ctx, out, out_len, parsed, flags)
    return bytes(ffi.buffer(out, out_len[0]))


def _parsed_or_raise(pubkey: bytes):
    parsed = _parse_pubkey(bytes(pubkey))
    if parsed is None:
        raise ValueError("invalid public key")
    return parsed


def pubkey_from_secret(secret: bytes, compressed: bool = True) -> bytes:
    secret = _check_secret(secret)
    parsed = _new("secp256k1_pubkey *")
    if not lib.secp256k1_ec_pubkey_create(_ctx, parsed, secret):
        raise ValueError("invalid secret key")
    return _serialize(parsed, compressed)


def pubkey_is_valid(pubkey: bytes) -> bool:
    try:
        return _parse_pubkey(bytes(pubkey)) is not None
    except Exception:
        return False


def pubkey_serialize(pubkey: bytes, compressed: bool) -> bytes:
    return _serialize(_parsed_or_raise(pubkey), compressed)


def secret_is_valid(secret: bytes) -> bool:
    try:
        secret = bytes(secret)
        return len(secret) == 32 and lib.secp256k1_ec_seckey_verify(_ctx, secret) == 1
    except Exception:
        return False


def secret_tweak_add(secret: bytes, tweak32: bytes) -> bytes:
    buf = _new("unsigned char[32]", _check_secret(secret))
    if not lib.secp256k1_ec_seckey_tweak_add(_ctx, buf, _check_tweak(tweak32)):
        raise ValueError("tweak out of range, or the tweaked secret key is zero")
    return bytes(ffi.buffer(buf, 32))


def pubkey_tweak_add(pubkey: bytes, tweak32: bytes) -> bytes:
    tweaked = _new("secp256k1_pubkey *", _parsed_or_raise(pubkey)[0])  # a copy: cache is shared
    if not lib.secp256k1_ec_pubkey_tweak_add(_ctx, tweaked, _check_tweak(tweak32)):
        raise ValueError("tweak out of range, or the tweaked public key is infinity")
    return _serialize(tweaked, len(pubkey) == 33)

