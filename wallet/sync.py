"""Bring the wallet's transaction cache up to date through the Esplora script-hash routes.

Gap-limit scanning (BIP44's gap limit of 20) of the receive and change chains: addresses are
queried in order until 20 in a row past the last used one (and past the last handed out) have
no history. The cache keeps, per address, Esplora's stats and the txids of its history, and
each transaction once; an address whose stats did not change and that has nothing in the
mempool costs one request, and any other is paged only back to the first confirmed transaction
already known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .account import CHANGE, RECEIVE
from .esplora import EsploraClient, scripthash
from .wallet import Wallet

GAP_LIMIT = 20  # BIP44 "Address gap limit"


@dataclass
class SyncReport:
    tip: int
    addresses_checked: int
    addresses_fetched: int
    new_txs: int


def _stats_key(stats: dict) -> list[int]:
    out = []
    for part in ("chain_stats", "mempool_stats"):
        s = stats.get(part) or {}
        out += [s.get("tx_count", 0), s.get("funded_txo_sum", 0), s.get("spent_txo_sum", 0)]
    return out


def _trim(tx: dict) -> dict:
    """The fields the wallet reads from an Esplora transaction (the cache stays small)."""
    return {
        "txid": tx["txid"], "fee": tx.get("fee", 0), "weight": tx.get("weight", 0),
        "status": tx["status"],
        "vin": [{"txid": i["txid"], "vout": i["vout"], "is_coinbase": i.get("is_coinbase", False),
                 "sequence": i.get("sequence", 0),
                 "prevout": ({"scriptpubkey": i["prevout"]["scriptpubkey"],
                              "value": i["prevout"]["value"]} if i.get("prevout") else None)}
                for i in tx["vin"]],
        "vout": [{"scriptpubkey": o["scriptpubkey"], "value": o["value"],
                  "address": o.get("scriptpubkey_address")} for o in tx["vout"]],
    }


def sync(wallet: Wallet, client: EsploraClient) -> SyncReport:
    cache = wallet.cache
    scripts: dict[str, Any] = cache.setdefault("scripts", {})
    txs: dict[str, Any] = cache.setdefault("txs", {})
    tip = client.tip_height()
    checked = fetched = new = 0
    for chain in (RECEIVE, CHANGE):
        last_used = -1
        index = 0
        while index <= max(last_used, wallet.issued[chain]) + GAP_LIMIT:
            sh = scripthash(wallet.account.script(chain, index))
            stats_key = _stats_key(client.scripthash_stats(sh))
            checked += 1
            entry = scripts.get(sh)
            # Unconfirmed history is always refetched: a replacement (BIP125) can leave an
            # address's stats exactly as they were, with another txid.
            if entry is None or entry["stats"] != stats_key or stats_key[3]:
                history: list[dict] = []
                older: list[str] = []
                if stats_key[0] or stats_key[3]:  # an unused address has nothing to fetch
                    fetched += 1
                    history, older = _fetch_history(client, sh, entry, txs, stats_key)
                for t in history:
                    new += t["txid"] not in txs
                    txs[t["txid"]] = _trim(t)
                txids = [t["txid"] for t in history] + older
                entry = scripts[sh] = {"chain": chain, "index": index, "stats": stats_key,
                                       "txids": txids}
            if entry["txids"]:
                last_used = index
            index += 1
    # Forget transactions no address refers to any more (replaced, or reorged away).
    live = {t for e in scripts.values() for t in e["txids"]}
    for txid in [t for t in txs if t not in live]:
        del txs[txid]
    cache["tip"] = tip
    wallet.save_cache()
    return SyncReport(tip, checked, fetched, new)


def _fetch_history(client: EsploraClient, sh: str, entry: dict | None, txs: dict,
                   stats_key: list[int]) -> tuple[list[dict], list[str]]:
    """The new part of a script hash's history, and the cached confirmed txids older than it
    (paging stopped at the first of them)."""
    known = []
    if entry is not None:
        known = [t for t in entry["txids"] if t in txs and txs[t]["status"]["confirmed"]]
    history = client.scripthash_txs(sh, set(known))
    fetched = {t["txid"] for t in history}
    older = [t for t in known if t not in fetched]
    confirmed = sum(1 for t in history if t["status"]["confirmed"])
    if confirmed + len(older) != stats_key[0]:
        # The cached history does not add up (a reorg replaced confirmed txs): fetch it all.
        return client.scripthash_txs(sh, None), []
    return history, older
