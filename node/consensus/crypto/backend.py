"""The crypto backend protocol and the pure-Python helpers both backends share.

Owns the secp256k1 constants, Bitcoin Core's lax DER signature parser, strict DER encoding and
low-S normalisation. Must not import a backend library: everything here is plain Python.
"""

from __future__ import annotations

from typing import Protocol

# secp256k1 group order and field prime (SEC 2, section 2.4.1).
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
HALF_N = N // 2

COMPRESSED_PUBKEY_SIZE = 33  # CPubKey::COMPRESSED_SIZE
PUBKEY_SIZE = 65  # CPubKey::SIZE

# CPubKey::GetLen: the size a public key must have, by its header byte (0 = never valid).
# 0x06/0x07 are the "hybrid" encodings: uncompressed, with the y parity also in the header.
PUBKEY_SIZE_BY_HEADER: tuple[int, ...] = tuple(
    COMPRESSED_PUBKEY_SIZE if h in (2, 3) else PUBKEY_SIZE if h in (4, 6, 7) else 0
    for h in range(256)
)

# Bounded LRU of parsed public keys, per backend (a repeated key is parsed once).
PUBKEY_CACHE_SIZE = 100_000


class CryptoBackend(Protocol):
    """Keys and ECDSA over secp256k1. Every implementation gives byte-identical results.

    Keys and signatures are ``bytes``: public keys in SEC encoding (33 or 65 bytes), secrets as
    32 big-endian bytes, signatures in DER *without* the sighash-type byte.
    """

    name: str

    def verify(self, pubkey: bytes, sig: bytes, msg32: bytes) -> bool:
        """CPubKey::Verify: lax DER, high S normalised; False (never an exception) if invalid."""
        ...

    def clear_caches(self) -> None:
        """Forget parsed public keys (benchmarks measure cold verification with it)."""
        ...

    def sign(self, secret: bytes, msg32: bytes, *, grind: bool = True) -> bytes:
        """CKey::Sign: RFC6979, low S, strict DER; with ``grind`` also low R (r < 2^255)."""
        ...

    def pubkey_from_secret(self, secret: bytes, compressed: bool = True) -> bytes: ...

    def pubkey_is_valid(self, pubkey: bytes) -> bool:
        """CPubKey::IsFullyValid: right size for the header byte and a point on the curve."""
        ...

    def pubkey_serialize(self, pubkey: bytes, compressed: bool) -> bytes:
        """Re-encode a valid public key; ValueError if it is not valid."""
        ...

    def secret_is_valid(self, secret: bytes) -> bool:
        """32 bytes encoding 1 <= k < N."""
        ...

    def secret_tweak_add(self, secret: bytes, tweak32: bytes) -> bytes:
        """(secret + tweak) mod N; ValueError if tweak >= N, secret invalid or result 0."""
        ...

    def pubkey_tweak_add(self, pubkey: bytes, tweak32: bytes) -> bytes:
        """pubkey + tweak*G, in the input's compression; ValueError if invalid or infinity."""
        ...


def parse_der_lax(sig: bytes) -> tuple[int, int] | None:
    """Bitcoin Core's ``ecdsa_signature_parse_der_lax`` (pubkey.cpp), step for step.

    Accepts the BER violations found in pre-BIP66 blocks: negative integers (read as unsigned),
    excess zero padding, long-form lengths, any sequence length, garbage after S. Returns None
    where Core returns 0. An R or S longer than 32 bytes (after leading zeros) or not below N
    makes the result ``(0, 0)``, which no verification accepts, as in Core.
    """
    inputlen = len(sig)
    pos = 0

    # Sequence tag byte
    if pos == inputlen or sig[pos] != 0x30:
        return None
    pos += 1

    # Sequence length bytes (the value itself is ignored)
    if pos == inputlen:
        return None
    lenbyte = sig[pos]
    pos += 1
    if lenbyte & 0x80:
        lenbyte -= 0x80
        if lenbyte > inputlen - pos:
            return None
        pos += lenbyte

    r_field = _lax_integer(sig, pos)
    if r_field is None:
        return None
    rpos, rlen = r_field
    s_field = _lax_integer(sig, rpos + rlen)
    if s_field is None:
        return None
    spos, slen = s_field

    # Ignore leading zeroes in R and S; more than 32 bytes left, or a value >= N
    # (secp256k1_ecdsa_signature_parse_compact's overflow), zeroes both.
    r_bytes = sig[rpos : rpos + rlen].lstrip(b"\x00")
    s_bytes = sig[spos : spos + slen].lstrip(b"\x00")
    if len(r_bytes) > 32 or len(s_bytes) > 32:
        return 0, 0
    r = int.from_bytes(r_bytes, "big")
    s = int.from_bytes(s_bytes, "big")
    if r >= N or s >= N:
        return 0, 0
    return r, s


def _lax_integer(sig: bytes, pos: int) -> tuple[int, int] | None:
    """One INTEGER of Core's lax parser at ``pos``: (start of its bytes, their count) or None.

    Long-form lengths are allowed, with leading zero length bytes skipped, if the rest fits in
    fewer than 4 bytes; the content must fit in the input.
    """
    inputlen = len(sig)
    if pos == inputlen or sig[pos] != 0x02:  # integer tag
        return None
    pos += 1
    if pos == inputlen:
        return None
    lenbyte = sig[pos]
    pos += 1
    if lenbyte & 0x80:
        lenbyte -= 0x80
        if lenbyte > inputlen - pos:
            return None
        while lenbyte > 0 and sig[pos] == 0:
            pos += 1
            lenbyte -= 1
        if lenbyte >= 4:
            return None
        length = int.from_bytes(sig[pos : pos + lenbyte], "big")
        pos += lenbyte
    else:
        length = lenbyte
    if length > inputlen - pos:
        return None
    return pos, length


def _der_integer(v: int) -> bytes:
    # Minimal two's-complement length: room for a sign bit, so 0x00 leads only when needed.
    body = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return b"\x02" + bytes([len(body)]) + body


def encode_der(r: int, s: int) -> bytes:
    """Strict minimal DER of (r, s), as BIP66's IsValidSignatureEncoding requires."""
    if not (0 <= r < 1 << 256 and 0 <= s < 1 << 256):
        raise ValueError("signature values must be 0 <= r, s < 2^256")
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + bytes([len(body)]) + body


def normalize_s(s: int) -> int:
    """The low-S twin of ``s`` (BIP62/BIP146 LOW_S): N - s when s > N/2."""
    return N - s if s > HALF_N else s


def secret_in_range(secret: bytes) -> bool:
    """The shared rule for secrets: exactly 32 bytes encoding 1 <= k < N."""
    return len(secret) == 32 and 0 < int.from_bytes(secret, "big") < N


def grind_entropy(counter: int) -> bytes:
    """CKey::Sign's extra RFC6979 data for low-R grinding: WriteLE32 into 32 zero bytes."""
    return counter.to_bytes(4, "little") + bytes(28)
