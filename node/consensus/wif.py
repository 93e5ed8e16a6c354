"""Wallet Import Format: a private key as Base58Check text (Core: EncodeSecret / DecodeSecret).

Payload = network's wif_prefix byte + 32-byte big-endian secret, plus a 0x01 byte when the key's
public key is to be used in compressed (33-byte) form, which changes its addresses.
"""

from __future__ import annotations

from .base58 import Base58Error, b58check_decode, b58check_encode
from .crypto.backend import N as SECP256K1_ORDER  # a private key is a scalar in 1..n-1
from .errors import DecodeError
from .params import NETWORKS, Params

COMPRESSED_FLAG = 0x01


class WIFError(DecodeError):
    """Text that is not a WIF private key of the network asked for; the message says why."""


def _secret_error(secret: bytes) -> str | None:
    if len(secret) != 32:
        return f"bad length: secret is {len(secret)} bytes, expected 32"
    if not 1 <= int.from_bytes(secret, "big") < SECP256K1_ORDER:
        return "secret out of range: must be 1..n-1 for secp256k1"
    return None


def encode_wif(secret32: bytes, compressed: bool, params: Params) -> str:
    if error := _secret_error(secret32):
        raise ValueError(error)
    suffix = bytes([COMPRESSED_FLAG]) if compressed else b""
    return b58check_encode(bytes([params.wif_prefix]) + secret32 + suffix)


def decode_wif(s: str, params: Params) -> tuple[bytes, bool]:
    """Decode a WIF key for ``params``' network into (32-byte secret, compressed)."""
    if len(s) > 60:  # real WIF is 51 or 52 characters; bounds base58's quadratic decode
        raise WIFError(f"too long ({len(s)} characters)")
    try:
        payload = b58check_decode(s)
    except Base58Error as err:
        raise WIFError(f"invalid WIF key: {err}") from None
    if len(payload) not in (33, 34):
        raise WIFError(f"bad length: WIF payload is {len(payload)} bytes, expected 33 or 34")
    prefix, secret, flag = payload[0], payload[1:33], payload[33:]
    if prefix != params.wif_prefix:
        others = [repr(p.name) for p in NETWORKS.values() if p.wif_prefix == prefix]
        if others:
            raise WIFError(f"key is for network {' or '.join(others)}, not {params.name!r}")
        raise WIFError(f"unknown WIF prefix {prefix}")
    if flag and flag[0] != COMPRESSED_FLAG:
        raise WIFError(f"bad compression flag 0x{flag[0]:02x}, expected 0x01")
    if error := _secret_error(secret):
        raise WIFError(error)
    return secret, bool(flag)
