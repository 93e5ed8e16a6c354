"""The memory pool of unconfirmed transactions (Core's CTxMemPool and AcceptToMemoryPool).

A transaction is accepted after the consensus checks against the UTXO set plus the pool, and
Bitcoin Core's standardness policy. Each entry tracks its in-pool parents and children and the
totals of its ancestors and descendants (count, vsize, fees), which the chain limits, eviction
and block assembly (by ancestor fee rate: child pays for parent) need. Conflicting spends
replace per BIP125's economic rules with full-RBF (Core's default since v28).

Reads the chain through a narrow view (coins, tip, ancestors' median times) and learns of
blocks as a :class:`~node.chain.chainstate.ChainListener`; never writes chain state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from node.chain.index import BlockIndex
from node.chain.script_check import ScriptCache
from node.consensus.coin import Coin
from node.consensus.errors import ValidationError
from node.consensus.hashes import hash_to_hex
from node.consensus.params import Params
from node.consensus.primitives import Block, OutPoint, Tx
from node.consensus.script.errors import ScriptError, script_error_string
from node.consensus.script.flags import MANDATORY_FLAGS, STANDARD_FLAGS
from node.consensus.script.interpreter import verify_input
from node.consensus.script.sighash import PrecomputedTxData
from node.consensus.script.sigops import tx_sigop_cost
from node.consensus.tx_check import check_transaction
from node.consensus.tx_verify import (
    calculate_sequence_locks,
    check_tx_inputs,
    evaluate_sequence_locks,
    is_final_tx,
)

from .policy import (
    DEFAULT_ANCESTOR_LIMIT,
    DEFAULT_ANCESTOR_SIZE_LIMIT_KVB,
    DEFAULT_DESCENDANT_LIMIT,
    DEFAULT_DESCENDANT_SIZE_LIMIT_KVB,
    DEFAULT_INCREMENTAL_RELAY_FEE,
    DEFAULT_MAX_MEMPOOL_SIZE_MB,
    DEFAULT_MEMPOOL_EXPIRY_HOURS,
    DEFAULT_MIN_RELAY_TX_FEE,
    MAX_BIP125_REPLACEMENT_CANDIDATES,
    MAX_STANDARD_TX_SIGOPS_COST,
    check_inputs_standard,
    check_standard_tx,
    check_tx_size_small,
    check_witness_standard,
    fee_for,
    pre_check_ephemeral_tx,
    virtual_size,
)

log = logging.getLogger(__name__)

MEMPOOL_HEIGHT = 0x7FFFFFFF  # Core: the height given to coins created by pool transactions
ROLLING_FEE_HALFLIFE = 12 * 3600  # Core: the rising minimum fee halves every 12 hours


NO_LINKS: frozenset = frozenset()


class ChainView:
    """What the mempool reads from the chain: implemented by ChainState."""

    params: Params
    tip: BlockIndex
    height: int
    active: list[BlockIndex]

    def get_coin(self, outpoint: OutPoint) -> Coin | None: ...


@dataclass(slots=True, eq=False)  # eq=False: entries hash and compare by identity
class MempoolEntry:
    tx: Tx
    fee: int
    vsize: int  # Core's GetTxSize: BIP141 vsize, or more for sigop-heavy transactions
    sigop_cost: int
    time: int  # when it entered the pool
    height: int  # the chain height when it entered
    # In-pool parents and children. Most entries have none: they share one empty frozenset
    # (an empty set costs 216 bytes) until a link is made.
    parents: AbstractSet[MempoolEntry] = NO_LINKS
    children: AbstractSet[MempoolEntry] = NO_LINKS
    # Totals over the entry and all its in-pool ancestors / descendants (inclusive).
    ancestor_count: int = 1
    ancestor_size: int = 0
    ancestor_fees: int = 0
    ancestor_sigops: int = 0
    descendant_count: int = 1
    descendant_size: int = 0
    descendant_fees: int = 0

    @property
    def txid(self) -> bytes:
        return self.tx.txid

    @property
    def fee_rate(self) -> float:
        """Satoshis per virtual byte."""
        return self.fee / self.vsize

    @property
    def ancestor_fee_rate(self) -> float:
        return self.ancestor_fees / self.ancestor_size

    @property
    def descendant_fee_rate(self) -> float:
        return self.descendant_fees / self.descendant_size


@dataclass
class MempoolLimits:
    ancestor_count: int = DEFAULT_ANCESTOR_LIMIT
    ancestor_size_vb: int = DEFAULT_ANCESTOR_SIZE_LIMIT_KVB * 1000
    descendant_count: int = DEFAULT_DESCENDANT_LIMIT
    descendant_size_vb: int = DEFAULT_DESCENDANT_SIZE_LIMIT_KVB * 1000
    max_bytes: int = DEFAULT_MAX_MEMPOOL_SIZE_MB * 1_000_000
    expiry_seconds: int = DEFAULT_MEMPOOL_EXPIRY_HOURS * 3600
    min_relay_fee: int = DEFAULT_MIN_RELAY_TX_FEE  # sat/kvB
    incremental_relay_fee: int = DEFAULT_INCREMENTAL_RELAY_FEE  # sat/kvB


class MempoolListener:
    """Told of transactions entering and leaving the pool (relay, indexes, the API)."""

    def tx_added(self, entry: MempoolEntry) -> None: ...

    def tx_removed(self, entry: MempoolEntry, reason: str) -> None: ...


class Mempool:
    def __init__(self, chain: ChainView, *, limits: MempoolLimits | None = None,
                 script_cache: ScriptCache | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.chain = chain
        self.limits = limits or MempoolLimits()
        self.script_cache = script_cache
        self.clock = clock
        self.entries: dict[bytes, MempoolEntry] = {}  # by txid
        self.by_wtxid: dict[bytes, MempoolEntry] = {}
        self.spenders: dict[OutPoint, MempoolEntry] = {}  # Core's mapNextTx
        self.listeners: list[MempoolListener] = []
        self.total_vsize = 0
        self.total_fees = 0
        self._usage = 0  # approximate memory, what max_bytes limits
        # The rising minimum fee after evictions (Core's rollingMinimumFeeRate), sat/kvB.
        self._rolling_min_fee = 0.0
        self._rolling_updated = 0.0

    # -- queries -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, txid: bytes) -> bool:
        return txid in self.entries

    def get(self, txid: bytes) -> MempoolEntry | None:
        return self.entries.get(txid)

    def memory_usage(self) -> int:
        return self._usage

    def min_fee_rate(self) -> int:
        """The fee rate (sat/kvB) a new transaction must pay: the minimum relay fee, or more
        after the pool overflowed (Core's GetMinFee), decaying back with a 12-hour half-life."""
        if self._rolling_min_fee:
            now = self.clock()
            elapsed = now - self._rolling_updated
            if elapsed > 10:
                # Halve faster when the pool has room again, as Core does.
                halflife = ROLLING_FEE_HALFLIFE
                if self._usage < self.limits.max_bytes / 4:
                    halflife /= 4
                elif self._usage < self.limits.max_bytes / 2:
                    halflife /= 2
                self._rolling_min_fee /= 2 ** (elapsed / halflife)
                self._rolling_updated = now
                if self._rolling_min_fee < self.limits.incremental_relay_fee / 2:
                    self._rolling_min_fee = 0.0
        return max(int(self._rolling_min_fee), self.limits.min_relay_fee)

    def ancestors(self, entry: MempoolEntry) -> set[MempoolEntry]:
        return _closure(entry.parents, lambda e: e.parents)

    def descendants(self, entry: MempoolEntry) -> set[MempoolEntry]:
        return _closure(entry.children, lambda e: e.children)

    # -- acceptance ----------------------------------------------------------------------------
    def accept(self, tx: Tx) -> MempoolEntry:
        """Core's AcceptToMemoryPool. Raises ValidationError with Core's reject reason."""
        now = int(self.clock())
        check_transaction(tx)
        if tx.is_coinbase():
            raise ValidationError("coinbase")
        check_standard_tx(tx)
        check_tx_size_small(tx)

        chain = self.chain
        tip = chain.tip
        next_height = tip.height + 1
        # BIP113: finality against the median time past, as the next block will judge it.
        if not is_final_tx(tx, next_height, tip.median_time_past()):
            raise ValidationError("non-final")
        if tx.wtxid in self.by_wtxid:
            raise ValidationError("txn-already-in-mempool")
        if tx.txid in self.entries:
            raise ValidationError("txn-same-nonwitness-data-in-mempool")

        conflicts = {self.spenders[i.prevout] for i in tx.vin if i.prevout in self.spenders}
        coins, parents = self._input_coins(tx)
        self._check_sequence_locks(tx, coins)
        fee = check_tx_inputs(tx, coins, next_height, chain.params)
        # A dust output is allowed only in a zero-fee tx (Core v29's ephemeral dust).
        pre_check_ephemeral_tx(tx, fee)
        check_inputs_standard(tx, coins)
        check_witness_standard(tx, coins)
        sigop_cost = tx_sigop_cost(tx, [c.txout for c in coins], int(STANDARD_FLAGS))
        if sigop_cost > MAX_STANDARD_TX_SIGOPS_COST:
            raise ValidationError("bad-txns-too-many-sigops", str(sigop_cost))
        vsize = virtual_size(tx.weight, sigop_cost)

        min_fee = fee_for(vsize, self.min_fee_rate())
        if self._rolling_min_fee and fee < min_fee:
            raise ValidationError("mempool min fee not met", f"{fee} < {min_fee}")
        relay_fee = fee_for(vsize, self.limits.min_relay_fee)
        if fee < relay_fee:
            raise ValidationError("min relay fee not met", f"{fee} < {relay_fee}")

        entry = MempoolEntry(tx, fee, vsize, sigop_cost, now, tip.height,
                             parents if parents else NO_LINKS)
        ancestors = _closure(entry.parents, lambda e: e.parents)
        if any(a in conflicts for a in ancestors):
            raise ValidationError("bad-txns-spends-conflicting-tx",
                                  f"{hash_to_hex(tx.txid)} spends conflicting transaction")
        self._check_ancestor_limits(entry, ancestors)
        evicted = self._check_replacement(entry, conflicts, ancestors) if conflicts else set()

        self._check_scripts(tx, coins)

        for victim in evicted:
            self._remove(victim, "replaced")
        self._add(entry, ancestors)
        self._trim_to_size()
        if entry.txid not in self.entries:
            raise ValidationError("mempool full")
        return entry

    def _input_coins(self, tx: Tx) -> tuple[list[Coin], set[MempoolEntry]]:
        coins: list[Coin] = []
        parents: set[MempoolEntry] = set()
        for txin in tx.vin:
            parent = self.entries.get(txin.prevout.txid)
            if parent is not None:
                if txin.prevout.n >= len(parent.tx.vout):
                    raise ValidationError("bad-txns-inputs-missingorspent")
                coins.append(Coin(parent.tx.vout[txin.prevout.n], MEMPOOL_HEIGHT, False))
                parents.add(parent)
                continue
            coin = self.chain.get_coin(txin.prevout)
            if coin is None:
                # Core says "txn-already-known" when the tx's own outputs are in the UTXO set.
                if self.chain.get_coin(OutPoint(tx.txid, 0)) is not None:
                    raise ValidationError("txn-already-known")
                raise ValidationError("bad-txns-inputs-missingorspent",
                                      f"{txin.prevout} is missing or spent")
            coins.append(coin)
        return coins, parents

    def _check_sequence_locks(self, tx: Tx, coins: list[Coin]) -> None:
        """BIP68 at the next block (Core's CheckSequenceLocksAtTip): pool coins count as
        confirmed in that block."""
        if tx.version & 0xFFFFFFFF < 2:
            return
        tip = self.chain.tip
        next_height = tip.height + 1
        heights = [next_height if c.height == MEMPOOL_HEIGHT else c.height for c in coins]
        active = self.chain.active
        lock = calculate_sequence_locks(
            tx, True, heights,
            lambda h: (active[h] if h <= tip.height else tip).median_time_past())
        if not evaluate_sequence_locks(next_height, tip.median_time_past(), lock):
            raise ValidationError("non-BIP68-final")

    def _check_ancestor_limits(self, entry: MempoolEntry, ancestors: set[MempoolEntry]) -> None:
        lim = self.limits
        count = len(ancestors) + 1
        size = entry.vsize + sum(a.vsize for a in ancestors)
        if count > lim.ancestor_count:
            raise ValidationError("too-long-mempool-chain",
                                  f"too many unconfirmed ancestors [limit: {lim.ancestor_count}]")
        if size > lim.ancestor_size_vb:
            raise ValidationError("too-long-mempool-chain",
                                  f"exceeds ancestor size limit [limit: {lim.ancestor_size_vb}]")
        for a in ancestors:
            if a.descendant_count + 1 > lim.descendant_count:
                raise ValidationError(
                    "too-long-mempool-chain",
                    f"too many descendants for tx {hash_to_hex(a.txid)} "
                    f"[limit: {lim.descendant_count}]")
            if a.descendant_size + entry.vsize > lim.descendant_size_vb:
                raise ValidationError(
                    "too-long-mempool-chain",
                    f"exceeds descendant size limit for tx {hash_to_hex(a.txid)} "
                    f"[limit: {lim.descendant_size_vb}]")
        entry.ancestor_count = count
        entry.ancestor_size = size
        entry.ancestor_fees = entry.fee + sum(a.fee for a in ancestors)
        entry.ancestor_sigops = entry.sigop_cost + sum(a.sigop_cost for a in ancestors)
        entry.descendant_size = entry.vsize
        entry.descendant_fees = entry.fee

    def _check_replacement(self, entry: MempoolEntry, conflicts: set[MempoolEntry],
                           ancestors: set[MempoolEntry]) -> set[MempoolEntry]:
        """BIP125's economic rules (full-RBF: every conflict is replaceable). Returns what the
        replacement evicts: the conflicts and all their descendants."""
        evicted: set[MempoolEntry] = set()
        for c in conflicts:
            evicted.add(c)
            evicted |= self.descendants(c)
        txid = hash_to_hex(entry.txid)
        # Rule 5: a bounded number of evictions.
        if len(evicted) > MAX_BIP125_REPLACEMENT_CANDIDATES:
            raise ValidationError("too many potential replacements",
                                  f"rejecting replacement {txid}; too many potential "
                                  f"replacements ({len(evicted)} > "
                                  f"{MAX_BIP125_REPLACEMENT_CANDIDATES})")
        # Rule 2: no new unconfirmed inputs (only parents the conflicts already had).
        conflict_parents = set().union(*(c.parents for c in conflicts))
        for parent in entry.parents:
            if parent not in conflict_parents:
                raise ValidationError("replacement-adds-unconfirmed",
                                      f"replacement {txid} adds unconfirmed input")
        # Rule 6: a higher fee rate than each transaction it directly replaces.
        for c in conflicts:
            if entry.fee * c.vsize <= c.fee * entry.vsize:
                raise ValidationError("insufficient fee",
                                      f"rejecting replacement {txid}; new feerate "
                                      f"{entry.fee_rate:.8f} <= old feerate {c.fee_rate:.8f}")
        # Rule 3: at least the fees it removes.
        removed_fees = sum(e.fee for e in evicted)
        if entry.fee < removed_fees:
            raise ValidationError("insufficient fee",
                                  f"rejecting replacement {txid}, less fees than conflicting "
                                  f"txs; {entry.fee} < {removed_fees}")
        # Rule 4: pays for its own relay at the incremental relay fee.
        extra = entry.fee - removed_fees
        needed = fee_for(entry.vsize, self.limits.incremental_relay_fee)
        if extra < needed:
            raise ValidationError("insufficient fee",
                                  f"rejecting replacement {txid}, not enough additional fees "
                                  f"to relay; {extra} < {needed}")
        return evicted

    def _check_scripts(self, tx: Tx, coins: list[Coin]) -> None:
        cache = PrecomputedTxData(tx)
        for n, coin in enumerate(coins):
            try:
                verify_input(tx, n, coin.script_pubkey, coin.value, STANDARD_FLAGS, cache)
            except ScriptError as e:
                # Core tells a policy failure from a consensus one by re-checking with only
                # the mandatory flags.
                try:
                    verify_input(tx, n, coin.script_pubkey, coin.value, MANDATORY_FLAGS, cache)
                except ScriptError as e2:
                    raise ValidationError(
                        f"mandatory-script-verify-flag-failed ({script_error_string(e2.err)})",
                        f"input {n}") from None
                raise ValidationError(
                    f"non-mandatory-script-verify-flag ({script_error_string(e.err)})",
                    f"input {n}") from None
        if self.script_cache is not None:
            self.script_cache.add(tx.wtxid, STANDARD_FLAGS)

    # -- bookkeeping ---------------------------------------------------------------------------
    def _add(self, entry: MempoolEntry, ancestors: set[MempoolEntry]) -> None:
        tx = entry.tx
        self.entries[tx.txid] = entry
        self.by_wtxid[tx.wtxid] = entry
        for txin in tx.vin:
            self.spenders[txin.prevout] = entry
        for parent in entry.parents:
            if parent.children is NO_LINKS:
                parent.children = set()
            parent.children.add(entry)  # type: ignore[attr-defined]
        for a in ancestors:
            a.descendant_count += 1
            a.descendant_size += entry.vsize
            a.descendant_fees += entry.fee
        self.total_vsize += entry.vsize
        self.total_fees += entry.fee
        self._usage += _entry_usage(entry)
        for listener in self.listeners:
            listener.tx_added(entry)

    def _remove(self, entry: MempoolEntry, reason: str) -> None:
        """Remove ``entry`` and, first, every descendant (they would spend missing inputs)."""
        for d in sorted(self.descendants(entry), key=lambda e: -e.ancestor_count):
            self._remove_one(d, reason)
        self._remove_one(entry, reason)

    def _remove_one(self, entry: MempoolEntry, reason: str,
                    update_descendants: bool = False) -> None:
        tx = entry.tx
        if self.entries.get(tx.txid) is not entry:
            return
        for a in self.ancestors(entry):
            a.descendant_count -= 1
            a.descendant_size -= entry.vsize
            a.descendant_fees -= entry.fee
        if update_descendants:
            # Confirmed in a block: its descendants no longer have it as an ancestor.
            for d in self.descendants(entry):
                d.ancestor_count -= 1
                d.ancestor_size -= entry.vsize
                d.ancestor_fees -= entry.fee
                d.ancestor_sigops -= entry.sigop_cost
        for parent in entry.parents:
            parent.children.discard(entry)  # type: ignore[attr-defined]
            if not parent.children:
                parent.children = NO_LINKS
        for child in entry.children:
            child.parents.discard(entry)  # type: ignore[attr-defined]
            if not child.parents:
                child.parents = NO_LINKS
        del self.entries[tx.txid]
        del self.by_wtxid[tx.wtxid]
        for txin in tx.vin:
            if self.spenders.get(txin.prevout) is entry:
                del self.spenders[txin.prevout]
        self.total_vsize -= entry.vsize
        self.total_fees -= entry.fee
        self._usage -= _entry_usage(entry)
        for listener in self.listeners:
            listener.tx_removed(entry, reason)

    def _trim_to_size(self) -> None:
        """Evict the packages with the lowest descendant fee rate until the pool fits, and
        raise the minimum fee to what the last eviction paid plus the incremental fee (Core's
        TrimToSize)."""
        while self._usage > self.limits.max_bytes and self.entries:
            worst = min(self.entries.values(),
                        key=lambda e: (e.descendant_fees / e.descendant_size, -e.time))
            removed_rate = worst.descendant_fees * 1000 / worst.descendant_size
            new_min = removed_rate + self.limits.incremental_relay_fee
            if new_min > self._rolling_min_fee:
                self._rolling_min_fee = new_min
                self._rolling_updated = self.clock()
            self._remove(worst, "sizelimit")

    def expire(self) -> int:
        """Remove transactions older than the expiry (14 days) with their descendants."""
        cutoff = self.clock() - self.limits.expiry_seconds
        old = [e for e in self.entries.values() if e.time < cutoff]
        before = len(self.entries)
        for e in old:
            self._remove(e, "expiry")
        return before - len(self.entries)

    # -- chain events (ChainListener) ----------------------------------------------------------
    def block_connected(self, block: Block, index: BlockIndex) -> None:
        """Drop what the block confirmed, and whatever now conflicts with it."""
        for tx in block.txs[1:]:
            entry = self.entries.get(tx.txid)
            if entry is not None:
                # Parents come first in a block, so the entry has no in-pool ancestors left.
                self._remove_one(entry, "block", update_descendants=True)
            for txin in tx.vin:
                other = self.spenders.get(txin.prevout)
                if other is not None:
                    self._remove(other, "conflict")

    def block_disconnected(self, block: Block, index: BlockIndex) -> None:
        """Put the block's transactions back (Core's MaybeUpdateMempoolForReorg). Those that
        no longer fit (now-immature coinbase spends, non-final ones) are dropped."""
        for tx in block.txs[1:]:
            self.readd(tx)

    def readd(self, tx: Tx) -> bool:
        try:
            entry = self.accept(tx)
        except ValidationError as e:
            log.debug("not re-adding %s: %s", hash_to_hex(tx.txid), e)
            return False
        self._link_existing_children(entry)
        return True

    def _link_existing_children(self, entry: MempoolEntry) -> None:
        """Blocks are disconnected newest first, so a child can return to the pool before its
        parent: link them when the parent arrives and recount the package totals (Core's
        UpdateTransactionsFromBlock). Otherwise evicting the parent would leave the child."""
        txid = entry.txid
        children = {self.spenders[op] for op in
                    (OutPoint(txid, n) for n in range(len(entry.tx.vout)))
                    if op in self.spenders}
        if not children:
            return
        for child in children:
            if entry.children is NO_LINKS:
                entry.children = set()
            entry.children.add(child)  # type: ignore[attr-defined]
            if child.parents is NO_LINKS:
                child.parents = set()
            child.parents.add(entry)  # type: ignore[attr-defined]
        # Recount every entry whose ancestors or descendants changed: the whole connected
        # package (a reorg is rare and packages are small).
        package = _closure([entry], lambda e: (*e.parents, *e.children))
        for e in package:
            ancestors = self.ancestors(e)
            e.ancestor_count = len(ancestors) + 1
            e.ancestor_size = e.vsize + sum(a.vsize for a in ancestors)
            e.ancestor_fees = e.fee + sum(a.fee for a in ancestors)
            e.ancestor_sigops = e.sigop_cost + sum(a.sigop_cost for a in ancestors)
            descendants = self.descendants(e)
            e.descendant_count = len(descendants) + 1
            e.descendant_size = e.vsize + sum(d.vsize for d in descendants)
            e.descendant_fees = e.fee + sum(d.fee for d in descendants)

    # -- persistence ---------------------------------------------------------------------------
    def snapshot(self) -> list[tuple[Tx, int]]:
        """(tx, entry time) of every entry, parents before children, for saving."""
        return [(e.tx, e.time) for e in sorted(self.entries.values(),
                                               key=lambda e: e.ancestor_count)]

    def load(self, items: Iterable[tuple[Tx, int]]) -> int:
        """Re-accept saved transactions, keeping their entry times; returns how many stay."""
        kept = 0
        for tx, entered in items:
            try:
                entry = self.accept(tx)
            except ValidationError:
                continue
            entry.time = entered
            kept += 1
        return kept


def _closure(start: Iterable[MempoolEntry],
             step: Callable[[MempoolEntry], Iterable[MempoolEntry]]) -> set[MempoolEntry]:
    seen: set[MempoolEntry] = set()
    stack = list(start)
    while stack:
        e = stack.pop()
        if e not in seen:
            seen.add(e)
            stack.extend(step(e))
    return seen


def _entry_usage(entry: MempoolEntry) -> int:
    # The serialized transaction plus the Python objects around it: an estimate, close enough
    # for a size cap (Core uses its own DynamicMemoryUsage estimate the same way).
    return entry.tx.total_size + 600 + 250 * (len(entry.tx.vin) + len(entry.tx.vout))
