"""A wallet on disk: its account, its (optionally encrypted) seed, labels, address counters
and the transaction cache. Owns reading and writing the two files; no network."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.consensus.params import Params, get_params

from . import store
from .account import Account
from .hd import ExtendedKey, Purpose, account_path, format_path, mnemonic_to_seed, parse_path

FORMAT = 1


class WalletExists(store.StoreError):
    pass


class NoSuchWallet(store.StoreError):
    pass


@dataclass
class Wallet:
    name: str
    params: Params
    path: Path
    data: dict[str, Any]
    account: Account
    cache: dict[str, Any] = field(default_factory=dict)

    # -- creating and opening --------------------------------------------------------------
    @classmethod
    def create(cls, network: str, name: str, mnemonic: str, passphrase: str = "",
               password: str | None = None, purpose: Purpose = Purpose.BIP84) -> Wallet:
        """Write a new wallet; ``password=None`` stores the seed unencrypted."""
        params = get_params(network)
        path = store.wallet_dir(network, name)
        if (path / store.WALLET_FILE).exists():
            raise WalletExists(f"wallet {name!r} already exists on {network} ({path})")
        root = ExtendedKey.from_seed(mnemonic_to_seed(mnemonic, passphrase))
        acct_path = account_path(purpose, params)
        xpub = root.derive(acct_path).to_xpub(params)
        data: dict[str, Any] = {
            "format": FORMAT, "name": name, "network": network, "purpose": purpose.value,
            "master_fingerprint": root.fingerprint.hex(),
            "account_path": format_path(acct_path), "account_xpub": xpub,
            "labels": {}, "issued": [-1, -1],
        }
        secret = {"mnemonic": mnemonic, "passphrase": passphrase}
        if password is None:
            data["seed"] = {"encrypted": False, **secret}
        else:
            data["seed"] = {"encrypted": True,
                            "sealed": store.seal(secret, password, _associated(data))}
        wallet = cls(name, params, path, data, _account(params, data))
        wallet.save()
        wallet.save_cache()
        return wallet

    @classmethod
    def open(cls, network: str, name: str) -> Wallet:
        params = get_params(network)
        path = store.wallet_dir(network, name)
        try:
            data = store.read_json(path / store.WALLET_FILE)
        except FileNotFoundError:
            raise NoSuchWallet(f"no wallet {name!r} on {network} (create one with "
                               f"'minicash-wallet create --name {name}')") from None
        if data.get("format") != FORMAT or data.get("network") != network:
            raise store.StoreError(f"{path / store.WALLET_FILE} is not a {network} wallet "
                                   f"of format {FORMAT}")
        try:
            cache = store.read_json(path / store.CACHE_FILE)
        except (FileNotFoundError, store.StoreError):
            cache = {}  # only a cache: the next sync rebuilds it
        return cls(name, params, path, data, _account(params, data), cache)

    def save(self) -> None:
        store.write_json_atomic(self.path / store.WALLET_FILE, self.data)

    def save_cache(self) -> None:
        store.write_json_atomic(self.path / store.CACHE_FILE, self.cache)

    # -- secrets -----------------------------------------------------------------------------
    @property
    def encrypted(self) -> bool:
        return bool(self.data["seed"]["encrypted"])

    def secret(self, password: str | None) -> dict[str, str]:
        """{"mnemonic", "passphrase"}; WrongPassword if the password does not open it."""
        seed = self.data["seed"]
        if not seed["encrypted"]:
            return {"mnemonic": seed["mnemonic"], "passphrase": seed["passphrase"]}
        if password is None:
            raise store.WrongPassword("this wallet is encrypted: a password is needed")
        return store.unseal(seed["sealed"], password, _associated(self.data))

    def root_key(self, password: str | None) -> ExtendedKey:
        s = self.secret(password)
        root = ExtendedKey.from_seed(mnemonic_to_seed(s["mnemonic"], s["passphrase"]))
        if root.fingerprint != self.account.master_fingerprint:
            raise store.StoreError("the seed does not match this wallet's keys")
        return root

    # -- labels and address counters ---------------------------------------------------------
    @property
    def labels(self) -> dict[str, str]:
        return self.data["labels"]

    @property
    def issued(self) -> list[int]:
        """Per chain, the highest index handed out (receive) or put in a broadcast (change)."""
        return self.data["issued"]


def _associated(data: dict[str, Any]) -> bytes:
    return f"minicash-wallet:{data['network']}:{data['account_xpub']}".encode()


def _account(params: Params, data: dict[str, Any]) -> Account:
    return Account(params, Purpose(data["purpose"]),
                   ExtendedKey.parse(data["account_xpub"], params),
                   bytes.fromhex(data["master_fingerprint"]), parse_path(data["account_path"]))
