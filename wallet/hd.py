"""BIP32 hierarchical deterministic keys, BIP39 seeds, and the BIP44/BIP84 account layout.

The EC arithmetic (tweak-add of secrets and public keys) goes through ``node.consensus.crypto``
so both crypto backends derive the same keys. BIP39 word lists and checksums come from the
``mnemonic`` package, the reference implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from enum import Enum

from mnemonic import Mnemonic

from node.consensus import crypto
from node.consensus.address import p2pkh_script, p2wpkh_script
from node.consensus.base58 import Base58Error, b58check_decode, b58check_encode
from node.consensus.errors import DecodeError
from node.consensus.hashes import hash160
from node.consensus.params import Params

HARDENED = 0x80000000
_MASTER_KEY = b"Bitcoin seed"  # BIP32: HMAC-SHA512 key for the master node
_EXTENDED_KEY_SIZE = 78  # BIP32 serialization: 4+1+4+4+32+33
MNEMONIC_STRENGTHS = {12: 128, 24: 256}  # words -> entropy bits (BIP39)
_bip39 = Mnemonic("english")


class HDError(DecodeError):
    """An extended key, path or mnemonic that cannot be used; the message says why."""


class Purpose(Enum):
    """The BIP43 purpose of an account, which fixes its script type."""

    BIP84 = 84  # native segwit P2WPKH
    BIP44 = 44  # legacy P2PKH

    @property
    def descriptor_function(self) -> str:
        return "wpkh" if self is Purpose.BIP84 else "pkh"

    def script_for(self, pubkey: bytes) -> bytes:
        h = hash160(pubkey)
        return p2wpkh_script(h) if self is Purpose.BIP84 else p2pkh_script(h)


# -- BIP39 --------------------------------------------------------------------------------------

def generate_mnemonic(words: int = 12) -> str:
    if words not in MNEMONIC_STRENGTHS:
        raise ValueError("a mnemonic has 12 or 24 words")
    return _bip39.generate(MNEMONIC_STRENGTHS[words])


def normalize_mnemonic(words: str) -> str:
    """One space between lower-case words; HDError unless it is a valid English BIP39 phrase."""
    phrase = " ".join(words.lower().split())
    count = len(phrase.split())
    if count not in MNEMONIC_STRENGTHS:
        raise HDError(f"a mnemonic has 12 or 24 words, got {count}")
    unknown = [w for w in phrase.split() if w not in _bip39.wordlist]
    if unknown:
        raise HDError(f"not a BIP39 English word: {unknown[0]!r}")
    if not _bip39.check(phrase):
        raise HDError("mnemonic checksum does not match (a word is wrong or misplaced)")
    return phrase


def mnemonic_to_seed(words: str, passphrase: str = "") -> bytes:
    """BIP39: PBKDF2-HMAC-SHA512 of the phrase, salted with "mnemonic" + passphrase."""
    return Mnemonic.to_seed(normalize_mnemonic(words), passphrase)


# -- BIP32 --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, repr=False)
class ExtendedKey:
    """A BIP32 node: private when ``secret`` is set, else public only."""

    chain_code: bytes
    pubkey: bytes  # compressed, 33 bytes
    secret: bytes | None = None
    depth: int = 0
    parent_fingerprint: bytes = bytes(4)
    child_number: int = 0

    def __repr__(self) -> str:
        kind = "private" if self.secret else "public"
        return f"ExtendedKey({kind}, depth={self.depth}, pubkey={self.pubkey.hex()})"

    @classmethod
    def from_seed(cls, seed: bytes) -> ExtendedKey:
        digest = hmac.new(_MASTER_KEY, seed, hashlib.sha512).digest()
        secret, chain_code = digest[:32], digest[32:]
        if not crypto.secret_is_valid(secret):
            # BIP32: probability below 2^-127; the seed is unusable.
            raise HDError("seed gives an invalid master key")
        return cls(chain_code, crypto.pubkey_from_secret(secret), secret)

    @property
    def fingerprint(self) -> bytes:
        return hash160(self.pubkey)[:4]

    def neuter(self) -> ExtendedKey:
        """The public node (BIP32's N())."""
        return ExtendedKey(self.chain_code, self.pubkey, None, self.depth,
                           self.parent_fingerprint, self.child_number)

    def child(self, index: int) -> ExtendedKey:
        """CKDpriv or CKDpub. An index whose tweak is invalid raises (BIP32: skip to the next)."""
        if not 0 <= index <= 0xFFFFFFFF:
            raise HDError(f"child index {index} out of range")
        if index & HARDENED:
            if self.secret is None:
                raise HDError("cannot derive a hardened child from a public key")
            data = b"\x00" + self.secret + struct.pack(">I", index)
        else:
            data = self.pubkey + struct.pack(">I", index)
        digest = hmac.new(self.chain_code, data, hashlib.sha512).digest()
        tweak, chain_code = digest[:32], digest[32:]
        try:
            if self.secret is not None:
                secret = crypto.secret_tweak_add(self.secret, tweak)
                pubkey = crypto.pubkey_from_secret(secret)
            else:
                secret = None
                pubkey = crypto.pubkey_tweak_add(self.pubkey, tweak)
        except ValueError as exc:
            raise HDError(f"child {index} is invalid ({exc}); use the next index") from None
        return ExtendedKey(chain_code, pubkey, secret, self.depth + 1, self.fingerprint, index)

    def derive(self, path: str | list[int]) -> ExtendedKey:
        node = self
        for index in parse_path(path) if isinstance(path, str) else path:
            node = node.child(index)
        return node

    def serialize(self, version: bytes) -> str:
        key = b"\x00" + self.secret if self.secret is not None else self.pubkey
        return b58check_encode(version + bytes([self.depth]) + self.parent_fingerprint
                               + struct.pack(">I", self.child_number) + self.chain_code + key)

    def to_xpub(self, params: Params) -> str:
        return self.neuter().serialize(params.xpub_version)

    def to_xprv(self, params: Params) -> str:
        if self.secret is None:
            raise HDError("a public key has no xprv")
        return self.serialize(params.xprv_version)

    @classmethod
    def parse(cls, text: str, params: Params) -> ExtendedKey:
        """An xpub/xprv (tpub/tprv on test networks) of ``params``' network."""
        try:
            raw = b58check_decode(text)
        except Base58Error as exc:
            raise HDError(f"invalid extended key: {exc}") from None
        if len(raw) != _EXTENDED_KEY_SIZE:
            raise HDError(f"extended key is {len(raw)} bytes, expected {_EXTENDED_KEY_SIZE}")
        version, depth, fpr = raw[:4], raw[4], raw[5:9]
        child = struct.unpack(">I", raw[9:13])[0]
        chain_code, key = raw[13:45], raw[45:]
        if version == params.xprv_version:
            if key[0] != 0 or not crypto.secret_is_valid(key[1:]):
                raise HDError("invalid private key in extended key")
            return cls(chain_code, crypto.pubkey_from_secret(key[1:]), key[1:], depth, fpr, child)
        if version == params.xpub_version:
            if key[0] not in (2, 3) or not crypto.pubkey_is_valid(key):
                raise HDError("invalid public key in extended key")
            return cls(chain_code, key, None, depth, fpr, child)
        raise HDError(f"extended key version {version.hex()} is not for network "
                        f"{params.name!r}")


def parse_path(path: str) -> list[int]:
    """``m/84'/1'/0'/0/5`` (``h`` or ``'`` for hardened; the leading ``m`` optional)."""
    parts = [p for p in path.strip().split("/") if p]
    if parts and parts[0] == "m":
        parts = parts[1:]
    out = []
    for part in parts:
        hardened = part[-1] in "'hH"
        digits = part[:-1] if hardened else part
        if not digits.isdigit() or int(digits) >= HARDENED:
            raise HDError(f"bad path element {part!r} in {path!r}")
        out.append(int(digits) | (HARDENED if hardened else 0))
    return out


def format_path(indexes: list[int], hardened_mark: str = "'") -> str:
    return "/".join(str(i & ~HARDENED) + (hardened_mark if i & HARDENED else "")
                    for i in indexes)


def account_path(purpose: Purpose, params: Params, account: int = 0) -> list[int]:
    """BIP44/BIP84: m / purpose' / coin_type' / account' (coin type 1 on test networks)."""
    return [purpose.value | HARDENED, params.bip44_coin_type | HARDENED, account | HARDENED]
