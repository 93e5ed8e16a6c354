"""Addresses: the text form of the standard output scripts, for one network's :class:`Params`.

Base58Check addresses carry a one-byte network prefix and a 20-byte hash (P2PKH, P2SH: BIP13);
segwit addresses are Bech32/Bech32m with the network's hrp (BIP173, BIP350). Core's name for
this module is key_io.cpp (EncodeDestination / DecodeDestination).
"""

from __future__ import annotations

from .base58 import Base58Error, b58check_decode, b58check_encode
from .bech32 import CHARSET, Bech32Error, decode_segwit_address, encode_segwit_address
from .errors import DecodeError
from .params import NETWORKS, Params
from .script.opcodes import (
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUAL,
    OP_EQUALVERIFY,
    OP_HASH160,
    encode_op_n,
)
from .script.script import witness_program  # re-exported: (version, program) | None, BIP141

# No address is longer (bech32 caps at 90, base58 ones are ~34); also bounds base58 decode time.
MAX_ADDRESS_LENGTH = 90
_BASE58_PAYLOAD_SIZE = 21  # prefix byte + 20-byte hash
_P2PKH_HEAD = bytes([OP_DUP, OP_HASH160, 20])
_P2PKH_TAIL = bytes([OP_EQUALVERIFY, OP_CHECKSIG])
_P2SH_HEAD = bytes([OP_HASH160, 20])
_KNOWN_HRPS = frozenset(p.bech32_hrp for p in NETWORKS.values())


class AddressError(DecodeError):
    """Text that is not an address of the network asked for; the message says why."""


def p2pkh_script(h160: bytes) -> bytes:
    """OP_DUP OP_HASH160 <h160> OP_EQUALVERIFY OP_CHECKSIG."""
    _check_size(h160, 20)
    return _P2PKH_HEAD + h160 + _P2PKH_TAIL


def p2sh_script(h160: bytes) -> bytes:
    """OP_HASH160 <h160> OP_EQUAL (BIP16)."""
    _check_size(h160, 20)
    return _P2SH_HEAD + h160 + bytes([OP_EQUAL])


def p2wpkh_script(h160: bytes) -> bytes:
    """OP_0 <20-byte key hash> (BIP141)."""
    _check_size(h160, 20)
    return _witness_script(0, h160)


def p2wsh_script(sha256_32: bytes) -> bytes:
    """OP_0 <32-byte sha256 of the witness script> (BIP141)."""
    _check_size(sha256_32, 32)
    return _witness_script(0, sha256_32)


def script_to_address(script_pubkey: bytes, params: Params) -> str | None:
    """The address of ``script_pubkey`` on ``params``' network, or None if it has none."""
    s = script_pubkey
    if len(s) == 25 and s[:3] == _P2PKH_HEAD and s[23:] == _P2PKH_TAIL:
        return b58check_encode(bytes([params.pubkey_prefix]) + s[3:23])
    if len(s) == 23 and s[:2] == _P2SH_HEAD and s[22] == OP_EQUAL:
        return b58check_encode(bytes([params.script_prefix]) + s[2:22])
    wp = witness_program(s)
    if wp is None:
        return None
    version, program = wp
    if version == 0 and len(program) not in (20, 32):
        return None  # a v0 program of another size is unspendable and has no address (BIP141)
    return encode_segwit_address(params.bech32_hrp, version, program)


def address_to_script(addr: str, params: Params) -> bytes:
    """The output script ``addr`` pays to on ``params``' network; AddressError says what's wrong."""
    if len(addr) > MAX_ADDRESS_LENGTH:
        raise AddressError(f"too long ({len(addr)} characters, max {MAX_ADDRESS_LENGTH})")
    # Base58 first, as Core's DecodeDestination does; a string that looks like bech32 gets
    # bech32's diagnosis instead of "invalid base58 character".
    try:
        payload = b58check_decode(addr)
    except Base58Error as err:
        if _looks_bech32(addr):
            return _segwit_to_script(addr, params)
        raise AddressError(f"invalid address: {err}") from None
    return _base58_to_script(payload, params)


def _base58_to_script(payload: bytes, params: Params) -> bytes:
    if len(payload) != _BASE58_PAYLOAD_SIZE:
        raise AddressError(f"bad length: base58 address payload is {len(payload)} bytes, "
                           f"expected {_BASE58_PAYLOAD_SIZE}")
    prefix, h160 = payload[0], payload[1:]
    if prefix == params.pubkey_prefix:
        return p2pkh_script(h160)
    if prefix == params.script_prefix:
        return p2sh_script(h160)
    others = [p.name for p in NETWORKS.values() if prefix in (p.pubkey_prefix, p.script_prefix)]
    if others:
        raise AddressError(f"address is for network {_names(others)}, not {params.name!r}")
    raise AddressError(f"unknown address prefix {prefix}")


def _looks_bech32(addr: str) -> bool:
    hrp, sep, data = addr.lower().rpartition("1")
    if not sep or not hrp:
        return False
    return hrp in _KNOWN_HRPS or all(c in CHARSET for c in data)


def _segwit_to_script(addr: str, params: Params) -> bytes:
    hrp = addr[:addr.rfind("1")].lower()
    try:
        if hrp == params.bech32_hrp or hrp not in _KNOWN_HRPS:
            return _witness_script(*decode_segwit_address(params.bech32_hrp, addr))
        decode_segwit_address(hrp, addr)  # only a valid address is "for another network"
    except Bech32Error as err:
        raise AddressError(f"invalid address: {err}") from None
    others = [p.name for p in NETWORKS.values() if p.bech32_hrp == hrp]
    raise AddressError(f"address is for network {_names(others)}, not {params.name!r}")


def _witness_script(version: int, program: bytes) -> bytes:
    # Core: GetScriptForDestination(WitnessV0KeyHash/WitnessV0ScriptHash/WitnessUnknown).
    return bytes([encode_op_n(version), len(program)]) + program


def _names(names: list[str]) -> str:
    return " or ".join(repr(n) for n in names)


def _check_size(h: bytes, size: int) -> None:
    if len(h) != size:
        raise ValueError(f"hash must be {size} bytes, got {len(h)}")

