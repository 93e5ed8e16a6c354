"""The mnemonic the wallet tests build their wallets from."""

from __future__ import annotations

# BIP39's first English test vector (all-zero 128-bit entropy): its seeds and BIP32/BIP44/BIP84
# keys and addresses are published, so tests can check what the wallet derives from it.
ABANDON = "abandon " * 11 + "about"
