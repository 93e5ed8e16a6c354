"""Wallet files on disk: where they live, atomic writes with mode 0600, and the encrypted seed.

A wallet is a directory ``<home>/wallets/<network>/<name>/`` holding ``wallet.json`` (keys,
labels, address counters; the seed encrypted unless created with ``--no-password``) and
``cache.json`` (transactions seen through the node: rebuildable, so never encrypted).
``<home>`` is ``$MINICASH_HOME`` or ``~/.minicash``, the same rule as ``node.config``.

The seed (mnemonic and BIP39 passphrase) is sealed with ChaCha20-Poly1305 under a key from
scrypt; the network and account xpub are the associated data, so a sealed seed
cannot be pasted into another wallet's file unnoticed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

HOME_ENV = "MINICASH_HOME"
PASSWORD_ENV = "MINICASH_WALLET_PASSWORD"
WALLET_FILE = "wallet.json"
CACHE_FILE = "cache.json"
# scrypt cost: 2^15 x 8 x 128 bytes = 32 MiB and ~0.1 s here; stored per file so it can grow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class StoreError(Exception):
    """A wallet file that is missing, exists already, is unreadable, or a wrong password."""


class WrongPassword(StoreError):
    pass


def minicash_home(env: dict[str, str] | os._Environ = os.environ) -> Path:
    """``$MINICASH_HOME`` or ``~/.minicash`` (node.config.minicash_home has the same rule)."""
    home = env.get(HOME_ENV, "").strip()
    return Path(home).expanduser() if home else Path.home() / ".minicash"


def wallet_dir(network: str, name: str) -> Path:
    if not _NAME.match(name):
        raise StoreError(f"bad wallet name {name!r}: letters, digits, '.', '_' and '-' only")
    return minicash_home() / "wallets" / network / name


def list_wallets(network: str) -> list[str]:
    root = minicash_home() / "wallets" / network
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / WALLET_FILE).is_file())


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temp file in the same directory (mode 0600), fsync, then rename over ``path``:
    a crash leaves either the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read {path}: {exc}") from None


def _key(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())


def seal(secret: dict, password: str, associated: bytes) -> dict:
    """Encrypt a JSON-able secret under ``password``; the result is JSON-able."""
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    key = _key(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    blob = ChaCha20Poly1305(key).encrypt(nonce, json.dumps(secret).encode(), associated)
    return {"cipher": "chacha20poly1305", "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R,
            "p": SCRYPT_P, "salt": salt.hex(), "nonce": nonce.hex(), "ciphertext": blob.hex()}


def unseal(sealed: dict, password: str, associated: bytes) -> dict:
    """The secret back; WrongPassword if the password (or the associated data) is wrong."""
    if sealed.get("cipher") != "chacha20poly1305" or sealed.get("kdf") != "scrypt":
        raise StoreError("wallet file uses an unknown cipher or key derivation")
    key = _key(password, bytes.fromhex(sealed["salt"]), sealed["n"], sealed["r"], sealed["p"])
    try:
        plain = ChaCha20Poly1305(key).decrypt(bytes.fromhex(sealed["nonce"]),
                                              bytes.fromhex(sealed["ciphertext"]), associated)
    except InvalidTag:
        raise WrongPassword("wrong password") from None
    return json.loads(plain)
