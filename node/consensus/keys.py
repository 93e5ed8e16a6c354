"""User-facing key objects: thin, immutable wrappers over the process-wide crypto backend.

``PrivateKey`` is Bitcoin Core's CKey and ``PublicKey`` its CPubKey. All the work happens in
:mod:`node.consensus.crypto`; these classes only validate once and carry the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import crypto
from .errors import DecodeError


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A fully valid SEC-encoded public key (33 bytes compressed, 65 uncompressed or hybrid)."""

    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            object.__setattr__(self, "data", bytes(self.data))
        if not crypto.pubkey_is_valid(self.data):
            raise DecodeError(f"invalid public key {self.data.hex()}")

    def __bytes__(self) -> bytes:
        return self.data

    @property
    def compressed(self) -> bool:
        return len(self.data) == 33

    def serialize(self, compressed: bool | None = None) -> bytes:
        """The key's own bytes, or re-encoded compressed / uncompressed when asked."""
        if compressed is None or (compressed == self.compressed and self.data[0] < 6):
            return self.data
        return crypto.pubkey_serialize(self.data, compressed)

    def verify(self, sig: bytes, msg32: bytes) -> bool:
        """CPubKey::Verify of a DER signature (no sighash byte) over a 32-byte hash."""
        return crypto.verify(self.data, sig, msg32)


@dataclass(frozen=True, slots=True, repr=False)
class PrivateKey:
    """A secp256k1 secret: 32 bytes encoding 1 <= k < N. Its repr never shows the secret."""

    secret: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes):
            object.__setattr__(self, "secret", bytes(self.secret))
        if not crypto.secret_is_valid(self.secret):
            raise ValueError("secret key must be 32 bytes encoding 1 <= k < N")

    def __repr__(self) -> str:
        return f"PrivateKey(<secret>, pubkey={self.pubkey().data.hex()})"

    def sign(self, msg32: bytes, *, grind: bool = True) -> bytes:
        """CKey::Sign: deterministic low-S (and, with ``grind``, low-R) DER signature."""
        return crypto.sign(self.secret, msg32, grind=grind)

    def pubkey(self, compressed: bool = True) -> PublicKey:
        return PublicKey(crypto.pubkey_from_secret(self.secret, compressed))
