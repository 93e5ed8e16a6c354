"""Gap-limit scanning, paging and the cache of ``wallet.sync``, against a scripted Esplora."""

from __future__ import annotations

from collections import Counter

import pytest

from wallet import ledger, store
from wallet.account import RECEIVE
from wallet.esplora import EsploraClient, scripthash
from wallet.sync import GAP_LIMIT, sync
from wallet.wallet import Wallet

from .mnemonics import ABANDON


class ScriptedEsplora(EsploraClient):
    """Serves histories per script hash with Esplora's paging; counts the requests."""

    def __init__(self) -> None:
        super().__init__("http://scripted.invalid/api")
        self.history: dict[str, list[dict]] = {}
        self.tip = 0
        self.calls: Counter[str] = Counter()

    def pay(self, script: bytes, height: int | None, n: int) -> str:
        txid = f"{n:064x}"
        status = {"confirmed": True, "block_height": height} if height else {"confirmed": False}
        tx = {"txid": txid, "fee": 100, "weight": 400, "status": status,
              "vin": [{"txid": "ab" * 32, "vout": n, "is_coinbase": False, "prevout": None}],
              "vout": [{"scriptpubkey": script.hex(), "value": 1_000}]}
        hist = self.history.setdefault(scripthash(script), [])
        hist.append(tx)
        hist.sort(key=lambda t: (t["status"]["confirmed"], -t["status"].get("block_height", 0)))
        self.tip = max(self.tip, height or 0)
        return txid

    def get_text(self, path: str) -> str:
        assert path == "/blocks/tip/height"
        return str(self.tip)

    def get_json(self, path: str):
        parts = path.strip("/").split("/")
        hist = self.history.get(parts[1], [])
        mempool = [t for t in hist if not t["status"]["confirmed"]]
        chain = [t for t in hist if t["status"]["confirmed"]]
        if len(parts) == 2:
            self.calls["stats"] += 1
            return {"chain_stats": {"tx_count": len(chain), "funded_txo_sum": 1_000 * len(chain)},
                    "mempool_stats": {"tx_count": len(mempool)}}
        self.calls["txs"] += 1
        if len(parts) == 3:  # /txs: mempool, then the first confirmed page
            return mempool + chain[:25]
        after = [t["txid"] for t in chain].index(parts[4]) + 1  # /txs/chain/:last_seen
        return chain[after:after + 25]


@pytest.fixture
def wallet(tmp_path, monkeypatch):
    monkeypatch.setenv(store.HOME_ENV, str(tmp_path))
    return Wallet.create("regtest", "w", ABANDON)


def test_pages_history_once_then_fetches_only_what_changed(wallet):
    esplora = ScriptedEsplora()
    first = wallet.account.script(RECEIVE, 0)
    for h in range(1, 61):
        esplora.pay(first, h, h)
    report = sync(wallet, esplora)
    assert report.new_txs == 60 and esplora.calls["txs"] == 3  # 25 + 25 + 10
    assert report.addresses_checked == 2 * GAP_LIMIT + 1  # address 0, then 20 unused; change
    assert ledger.balance(wallet).confirmed == 60_000

    esplora.calls.clear()
    assert sync(wallet, esplora).addresses_fetched == 0 and esplora.calls["txs"] == 0

    esplora.pay(first, 61, 61)
    esplora.pay(first, None, 62)
    esplora.calls.clear()
    report = sync(wallet, esplora)
    assert report.new_txs == 2 and esplora.calls["txs"] == 1  # the first page reaches known txs
    assert len(ledger.history(wallet)) == 62
    assert ledger.balance(wallet).unconfirmed == 1_000

    # The unconfirmed one disappears (replaced elsewhere): the wallet forgets it.
    esplora.history[scripthash(first)] = [t for t in esplora.history[scripthash(first)]
                                          if t["status"]["confirmed"]]
    sync(wallet, esplora)
    assert ledger.balance(wallet) == ledger.Balance(61_000, 0, 0)


def test_gap_limit_finds_addresses_up_to_twenty_past_the_last_used(wallet):
    esplora = ScriptedEsplora()
    esplora.pay(wallet.account.script(RECEIVE, GAP_LIMIT - 1), 1, 1)  # found: within the gap
    esplora.pay(wallet.account.script(RECEIVE, 2 * GAP_LIMIT - 1), 2, 2)  # found from there
    esplora.pay(wallet.account.script(RECEIVE, 4 * GAP_LIMIT), 3, 3)  # beyond: not found
    sync(wallet, esplora)
    assert [c.index for c in ledger.coins(wallet)] == [GAP_LIMIT - 1, 2 * GAP_LIMIT - 1]
