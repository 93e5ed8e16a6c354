"""The in-memory part of the indexes: what the mempool's transactions fund and spend, by script
hash. Each transaction's contribution is recorded when it enters, so its removal (confirmed,
replaced, conflicting, evicted) undoes exactly that, whatever happened to the chain since."""

from __future__ import annotations

from collections.abc import Callable

from node.consensus.primitives import OutPoint, Tx, TxOut
from node.consensus.script.script import is_unspendable

from .store import script_hash


class _Record:
    """One pool transaction's contribution: which scripts it funds and spends."""

    __slots__ = ("funded", "spent", "touched")

    def __init__(self) -> None:
        self.funded: list[tuple[bytes, OutPoint, int]] = []  # (script hash, outpoint, value)
        self.spent: list[tuple[bytes, int]] = []  # (script hash, value) per known prevout
        self.touched: dict[bytes, None] = {}  # script hashes, in first-touch order


class MempoolView:
    """Per-script-hash history, totals and outputs of the pool, and who spends what."""

    __slots__ = ("records", "history", "funded", "spends", "stats", "confirmed")

    def __init__(self) -> None:
        self.records: dict[bytes, _Record] = {}  # txid -> record
        # script hash -> txids in arrival order (a dict is an ordered set; newest is last)
        self.history: dict[bytes, dict[bytes, None]] = {}
        self.funded: dict[bytes, dict[OutPoint, int]] = {}  # script hash -> outputs -> value
        self.spends: dict[OutPoint, tuple[bytes, int]] = {}  # outpoint -> (txid, vin)
        # script hash -> [tx_count, funded count, funded sum, spent count, spent sum]
        self.stats: dict[bytes, list[int]] = {}
        # Records of transactions that just left for a block, kept until that block is
        # indexed: what their inputs spent spares decoding the block's undo data.
        self.confirmed: dict[bytes, _Record] = {}

    def __len__(self) -> int:
        return len(self.records)

    def clear(self) -> None:
        self.records.clear()
        self.history.clear()
        self.funded.clear()
        self.spends.clear()
        self.stats.clear()
        self.confirmed.clear()

    def add(self, tx: Tx, prevout: Callable[[OutPoint], TxOut | None]) -> None:
        """Record ``tx``; ``prevout`` finds the output an input spends (pool or UTXO set)."""
        txid = tx.txid
        if txid in self.records:
            return
        rec = _Record()
        for vin, txin in enumerate(tx.vin):
            self.spends[txin.prevout] = (txid, vin)
            out = prevout(txin.prevout)
            if out is None:  # cannot happen for a transaction the pool accepted
                continue
            sh = script_hash(out.script_pubkey)
            rec.spent.append((sh, out.value))
            rec.touched[sh] = None
            st = self._stats(sh)
            st[3] += 1
            st[4] += out.value
        for n, out in enumerate(tx.vout):
            if is_unspendable(out.script_pubkey):
                continue
            sh = script_hash(out.script_pubkey)
            op = OutPoint(txid, n)
            rec.funded.append((sh, op, out.value))
            rec.touched[sh] = None
            self.funded.setdefault(sh, {})[op] = out.value
            st = self._stats(sh)
            st[1] += 1
            st[2] += out.value
        for sh in rec.touched:
            self.history.setdefault(sh, {})[txid] = None
            self.stats[sh][0] += 1
        self.records[txid] = rec

    def spent_outputs(self, tx: Tx) -> list[tuple[bytes, int]] | None:
        """(script hash, value) of what each input of ``tx`` spends, if ``tx`` is or just was
        in the pool and all its inputs were found then. An outpoint names one output for
        ever, so a record stays true whatever the chain did since."""
        txid = tx.txid
        rec = self.records.get(txid) or self.confirmed.get(txid)
        if rec is None or len(rec.spent) != len(tx.vin):
            return None
        return rec.spent

    def remove(self, tx: Tx, confirmed: bool = False) -> None:
        """Take ``tx`` out; ``confirmed``: it left for a block (see :attr:`confirmed`)."""
        txid = tx.txid
        rec = self.records.pop(txid, None)
        if rec is None:
            return
        if confirmed:
            self.confirmed[txid] = rec
        for txin in tx.vin:
            if self.spends.get(txin.prevout, (None,))[0] == txid:
                del self.spends[txin.prevout]
        for sh, value in rec.spent:
            st = self.stats[sh]
            st[3] -= 1
            st[4] -= value
        for sh, op, value in rec.funded:
            outs = self.funded[sh]
            del outs[op]
            if not outs:
                del self.funded[sh]
            st = self.stats[sh]
            st[1] -= 1
            st[2] -= value
        for sh in rec.touched:
            txids = self.history[sh]
            del txids[txid]
            if not txids:
                del self.history[sh]
            st = self.stats[sh]
            st[0] -= 1
            if not st[0]:
                del self.stats[sh]

    def _stats(self, sh: bytes) -> list[int]:
        st = self.stats.get(sh)
        if st is None:
            st = self.stats[sh] = [0, 0, 0, 0, 0]
        return st
