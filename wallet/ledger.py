"""What the cached transactions mean for the wallet: its coins, balance and history.

Pure functions of the wallet's account and cache (no network): a coin is an output paying one
of our scripts that no cached transaction spends; Esplora lists a spending transaction in the
history of the script it spends from, so the cache sees every spend of our coins.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.consensus.hashes import hex_to_hash
from node.consensus.primitives import OutPoint

from .wallet import Wallet


@dataclass(frozen=True)
class Coin:
    txid: str
    vout: int
    value: int
    script_pubkey: bytes
    chain: int
    index: int
    address: str
    height: int | None  # None: unconfirmed
    confirmations: int
    coinbase: bool
    own_unconfirmed: bool  # unconfirmed, but every input of its transaction is ours

    @property
    def outpoint(self) -> OutPoint:
        return OutPoint(hex_to_hash(self.txid), self.vout)

    def mature(self, maturity: int) -> bool:
        # Core's wallet (CWalletTx::GetBlocksToMaturity) waits for COINBASE_MATURITY + 1
        # confirmations, one more than consensus needs, so a one-block reorg cannot
        # invalidate a spend: 101 blocks mined to a fresh wallet make 50 coins spendable.
        return not self.coinbase or self.confirmations >= maturity + 1


@dataclass(frozen=True)
class Balance:
    confirmed: int
    unconfirmed: int
    immature: int


@dataclass(frozen=True)
class HistoryEntry:
    txid: str
    amount: int  # net change of the wallet's coins (negative: sent)
    fee: int | None  # what we paid, when we funded it
    confirmations: int
    height: int | None
    time: int | None
    labels: list[str]
    addresses: list[str]  # where the coins went (sends) or which of ours got them (receives)


def _tip(wallet: Wallet) -> int:
    return int(wallet.cache.get("tip", 0))


def _confirmations(tx: dict, tip: int) -> int:
    status = tx["status"]
    return tip - status["block_height"] + 1 if status.get("confirmed") else 0


def _owns(wallet: Wallet, script_hex: str) -> tuple[int, int] | None:
    return wallet.account.owner(bytes.fromhex(script_hex))


def _prepare(wallet: Wallet) -> None:
    """Derive every address the cache knows, so ``Account.owner`` recognises them."""
    top = [0, 0]
    for entry in wallet.cache.get("scripts", {}).values():
        top[entry["chain"]] = max(top[entry["chain"]], entry["index"] + 1)
    for chain in (0, 1):
        wallet.account.derive_up_to(chain, max(top[chain], wallet.issued[chain] + 1))


def coins(wallet: Wallet) -> list[Coin]:
    """Unspent outputs paying the wallet, oldest first."""
    _prepare(wallet)
    txs = wallet.cache.get("txs", {})
    tip = _tip(wallet)
    spent = {(i["txid"], i["vout"]) for tx in txs.values() for i in tx["vin"]}
    out = []
    for tx in txs.values():
        conf = _confirmations(tx, tip)
        coinbase = bool(tx["vin"]) and tx["vin"][0]["is_coinbase"]
        own = conf == 0 and all(i["prevout"] and _owns(wallet, i["prevout"]["scriptpubkey"])
                                for i in tx["vin"])
        for n, o in enumerate(tx["vout"]):
            owner = _owns(wallet, o["scriptpubkey"])
            if owner is None or (tx["txid"], n) in spent:
                continue
            out.append(Coin(tx["txid"], n, o["value"], bytes.fromhex(o["scriptpubkey"]),
                            owner[0], owner[1], o.get("address") or "",
                            tx["status"].get("block_height") if conf else None, conf,
                            coinbase, own))
    out.sort(key=lambda c: (c.height is None, c.height or 0, c.txid, c.vout))
    return out


def balance(wallet: Wallet) -> Balance:
    maturity = wallet.params.coinbase_maturity
    confirmed = unconfirmed = immature = 0
    for c in coins(wallet):
        if not c.mature(maturity):
            immature += c.value
        elif c.confirmations:
            confirmed += c.value
        else:
            unconfirmed += c.value
    return Balance(confirmed, unconfirmed, immature)


def spendable(wallet: Wallet) -> list[Coin]:
    """Coins that may fund a transaction: mature, and confirmed unless they are our own
    unconfirmed change (Core's "trusted" coins: no unconfirmed foreign inputs)."""
    maturity = wallet.params.coinbase_maturity
    return [c for c in coins(wallet)
            if c.mature(maturity) and (c.confirmations > 0 or c.own_unconfirmed)]


def history(wallet: Wallet) -> list[HistoryEntry]:
    """Every transaction touching the wallet, newest first."""
    _prepare(wallet)
    txs = wallet.cache.get("txs", {})
    tip = _tip(wallet)
    labels = wallet.labels
    entries = []
    for tx in txs.values():
        received = [o for o in tx["vout"] if _owns(wallet, o["scriptpubkey"])]
        ours_in = [i for i in tx["vin"]
                   if i["prevout"] and _owns(wallet, i["prevout"]["scriptpubkey"])]
        amount = sum(o["value"] for o in received) - sum(i["prevout"]["value"] for i in ours_in)
        if ours_in:
            shown = [o.get("address") or "" for o in tx["vout"]
                     if not _owns(wallet, o["scriptpubkey"])]
        else:
            shown = [o.get("address") or "" for o in received]
        involved = [o.get("address") for o in tx["vout"]] + \
            [_address_of(wallet, i) for i in ours_in]
        status = tx["status"]
        entries.append(HistoryEntry(
            tx["txid"], amount, tx["fee"] if ours_in else None, _confirmations(tx, tip),
            status.get("block_height"), status.get("block_time"),
            sorted({labels[a] for a in involved if a in labels}), shown))
    entries.sort(key=lambda e: (e.height is not None, -(e.height or 0), e.txid))
    return entries


def _address_of(wallet: Wallet, txin: dict) -> str | None:
    owner = _owns(wallet, txin["prevout"]["scriptpubkey"])
    return wallet.account.address(*owner) if owner else None


def last_used(wallet: Wallet, chain: int) -> int:
    """The highest index on ``chain`` with any history (-1: none)."""
    return max(used_indexes(wallet, chain), default=-1)


def used_indexes(wallet: Wallet, chain: int) -> set[int]:
    """The indexes on ``chain`` with any history."""
    return {e["index"] for e in wallet.cache.get("scripts", {}).values()
            if e["chain"] == chain and e["txids"]}
