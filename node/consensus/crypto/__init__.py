"""Keys and ECDSA signatures over secp256k1, behind one small interface with two backends.

- ``coincurve``: libsecp256k1 through coincurve, the same library Bitcoin Core uses; chosen
  automatically when coincurve is installed.
- ``ecdsa``: pure Python on python-ecdsa, always present, ~40x slower to verify.

Both give byte-identical results (signatures, keys, tweaks, verification verdicts). The backend
is the one process-wide setting of ``node.consensus``: picked on first use, or forced with the
environment variable ``MINICASH_CRYPTO_BACKEND`` (``ecdsa`` or ``coincurve``) or
:func:`set_backend`. The convenience functions below look the backend up on every call; a hot
loop (script verification of a block) may bind ``get_backend().verify`` once instead.

Owns no I/O beyond reading that one environment variable.
"""

from __future__ import annotations

import importlib
import os

from .backend import CryptoBackend, N, encode_der, normalize_s, parse_der_lax

__all__ = [
    "ENV_VAR",
    "N",
    "CryptoBackend",
    "available_backends",
    "clear_caches",
    "encode_der",
    "get_backend",
    "normalize_s",
    "parse_der_lax",
    "pubkey_from_secret",
    "pubkey_is_valid",
    "pubkey_serialize",
    "pubkey_tweak_add",
    "secret_is_valid",
    "secret_tweak_add",
    "set_backend",
    "sign",
    "verify",
]

ENV_VAR = "MINICASH_CRYPTO_BACKEND"

# Backend name -> module, in order of preference.
_MODULES = {
    "coincurve": "node.consensus.crypto.coincurve_backend",
    "ecdsa": "node.consensus.crypto.ecdsa_backend",
}

_backend: CryptoBackend | None = None


def _load(name: str) -> CryptoBackend:
    """The backend called ``name``; ValueError if unknown, ImportError if not installed."""
    module = _MODULES.get(name)
    if module is None:
        raise ValueError(
            f"unknown crypto backend {name!r}: choose one of {', '.join(sorted(_MODULES))}"
        )
    # Each backend module implements the CryptoBackend protocol with module-level functions.
    return importlib.import_module(module)  # type: ignore[return-value]


def available_backends() -> list[str]:
    """Names of the backends that can be loaded here, most preferred first."""
    names = []
    for name in _MODULES:
        try:
            _load(name)
        except ImportError:
            continue
        names.append(name)
    return names


def set_backend(name: str) -> CryptoBackend:
    """Make ``name`` the process-wide backend; ValueError if unknown or not installed."""
    global _backend
    try:
        backend = _load(name)
    except ImportError as exc:
        raise ValueError(f"crypto backend {name!r} is not available: {exc}") from exc
    _backend = backend
    return backend


def get_backend() -> CryptoBackend:
    """The process-wide backend, picked on first use (see the module docstring)."""
    if _backend is not None:
        return _backend
    choice = os.environ.get(ENV_VAR, "").strip().lower()
    if choice:
        try:
            return set_backend(choice)
        except ValueError as exc:
            raise ValueError(f"{ENV_VAR}={choice!r}: {exc}") from exc
    return set_backend(available_backends()[0])


def verify(pubkey: bytes, sig: bytes, msg32: bytes) -> bool:
    """CPubKey::Verify: DER ``sig`` (no sighash byte) over ``msg32``; never raises."""
    return (_backend or get_backend()).verify(pubkey, sig, msg32)


def clear_caches() -> None:
    """Forget the backend's parsed public keys: a later verify parses its key afresh."""
    (_backend or get_backend()).clear_caches()


def sign(secret: bytes, msg32: bytes, *, grind: bool = True) -> bytes:
    """CKey::Sign: deterministic (RFC6979) low-S DER signature; low R too with ``grind``."""
    return (_backend or get_backend()).sign(secret, msg32, grind=grind)


def pubkey_from_secret(secret: bytes, compressed: bool = True) -> bytes:
    return (_backend or get_backend()).pubkey_from_secret(secret, compressed)


def pubkey_is_valid(pubkey: bytes) -> bool:
    return (_backend or get_backend()).pubkey_is_valid(pubkey)


def pubkey_serialize(pubkey: bytes, compressed: bool) -> bytes:
    return (_backend or get_backend()).pubkey_serialize(pubkey, compressed)


def secret_is_valid(secret: bytes) -> bool:
    return (_backend or get_backend()).secret_is_valid(secret)


def secret_tweak_add(secret: bytes, tweak32: bytes) -> bytes:
    return (_backend or get_backend()).secret_tweak_add(secret, tweak32)


def pubkey_tweak_add(pubkey: bytes, tweak32: bytes) -> bytes:
    return (_backend or get_backend()).pubkey_tweak_add(pubkey, tweak32)
