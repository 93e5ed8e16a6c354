"""One BIP44/BIP84 account seen from its public key: addresses of the receive (0) and change
(1) chains, and the way back from a script to its (chain, index). Needs no secret."""

from __future__ import annotations

from dataclasses import dataclass, field

from node.consensus.address import script_to_address
from node.consensus.params import Params

from .hd import ExtendedKey, Purpose

RECEIVE, CHANGE = 0, 1


@dataclass
class Account:
    params: Params
    purpose: Purpose
    xpub: ExtendedKey  # the account node m/purpose'/coin'/account', public
    master_fingerprint: bytes
    path: list[int]  # the account node's path from the master
    _chains: dict[int, ExtendedKey] = field(default_factory=dict, repr=False)
    _pubkeys: dict[tuple[int, int], bytes] = field(default_factory=dict, repr=False)
    _by_script: dict[bytes, tuple[int, int]] = field(default_factory=dict, repr=False)

    def pubkey(self, chain: int, index: int) -> bytes:
        key = (chain, index)
        pub = self._pubkeys.get(key)
        if pub is None:
            node = self._chains.get(chain)
            if node is None:
                node = self._chains[chain] = self.xpub.child(chain)
            pub = self._pubkeys[key] = node.child(index).pubkey
            self._by_script[self.purpose.script_for(pub)] = key
        return pub

    def script(self, chain: int, index: int) -> bytes:
        return self.purpose.script_for(self.pubkey(chain, index))

    def address(self, chain: int, index: int) -> str:
        addr = script_to_address(self.script(chain, index), self.params)
        assert addr is not None  # P2WPKH and P2PKH always have one
        return addr

    def full_path(self, chain: int, index: int) -> list[int]:
        return [*self.path, chain, index]

    def owner(self, script_pubkey: bytes) -> tuple[int, int] | None:
        """(chain, index) of one of our scripts derived so far, or None."""
        return self._by_script.get(script_pubkey)

    def derive_up_to(self, chain: int, count: int) -> None:
        for i in range(count):
            self.pubkey(chain, i)
