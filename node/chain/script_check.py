"""Script verification of a block's inputs, in parallel: the one place where the chain's
CPU-heavy work leaves the calling thread (Core's CCheckQueue).

Worker *threads* suffice: libsecp256k1, called through cffi, releases the GIL while it
verifies, which is most of an input's cost (measured on 2 cores: 1 thread 16.7k inputs/s,
2 threads 31.3k). The pure-Python ``ecdsa`` backend holds the GIL and gains nothing.
Checks are submitted in batches while the caller goes on with the block's UTXO work, so the
two overlap; :meth:`ScriptChecker.wait` reports the earliest failing input of the block.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

from node.consensus.coin import Coin
from node.consensus.errors import ValidationError
from node.consensus.hashes import hash_to_hex
from node.consensus.primitives import Tx
from node.consensus.script.errors import ScriptError, script_error_string
from node.consensus.script.interpreter import verify_input
from node.consensus.script.sighash import PrecomputedTxData

BATCH_TXS = 32  # transactions per submitted batch: enough to amortise the hand-off

Check = tuple[int, Tx, list[Coin]]  # (position of the tx in its block, tx, coins it spends)


def default_workers() -> int:
    return os.cpu_count() or 1


def _verify_batch(batch: list[Check], flags: int) -> tuple[int, str, str] | None:
    """(tx position, reason, debug) of the first failing input of ``batch``, or None."""
    for pos, tx, coins in batch:
        cache = PrecomputedTxData(tx)
        for n, coin in enumerate(coins):
            try:
                verify_input(tx, n, coin.script_pubkey, coin.value, flags, cache)
            except ScriptError as e:
                return (pos, f"mandatory-script-verify-flag-failed ({script_error_string(e.err)})",
                        f"input {n} of {hash_to_hex(tx.txid)}")
    return None


def _verified_in_batch(batch: list[Check], flags: int) -> list[bytes]:
    """The wtxids of the transactions in ``batch`` whose every input verifies."""
    good = []
    for _, tx, coins in batch:
        cache = PrecomputedTxData(tx)
        try:
            for n, coin in enumerate(coins):
                verify_input(tx, n, coin.script_pubkey, coin.value, flags, cache)
        except ScriptError:
            continue
        good.append(tx.wtxid)
    return good


class ScriptCache:
    """Transactions whose scripts already verified, by wtxid, with the flags used (Core's
    script execution cache). The mempool verifies with the standard flags, a superset of
    every block's flags, so a transaction accepted there is not verified again when its
    block connects. Bounded: the oldest entries go first."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._verified: OrderedDict[bytes, int] = OrderedDict()

    def add(self, wtxid: bytes, flags: int) -> None:
        self._verified[wtxid] = int(flags)
        self._verified.move_to_end(wtxid)
        while len(self._verified) > self.max_entries:
            self._verified.popitem(last=False)

    def covers(self, wtxid: bytes, flags: int) -> bool:
        """Whether ``wtxid`` verified under at least every flag in ``flags``."""
        done = self._verified.get(wtxid)
        return done is not None and done & flags == flags

    def __len__(self) -> int:
        return len(self._verified)


class ScriptChecker:
    """A pool of ``workers`` threads (none when ``workers`` is 1: checks run inline)."""

    def __init__(self, workers: int | None = None, cache: ScriptCache | None = None) -> None:
        self.workers = max(1, workers if workers is not None else default_workers())
        self.cache = cache if cache is not None else ScriptCache()
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if self.workers > 1 and self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="script-check")

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def verified(self, checks: list[Check], flags: int) -> list[bytes]:
        """Verify ``checks`` on the pool and wait: the wtxids of those that passed. Failures
        are not reported: the caller only learns what it may skip later (the block's own
        connection finds and names any failure)."""
        if self._pool is None or len(checks) <= BATCH_TXS:
            return _verified_in_batch(checks, flags)
        # One slice per worker keeps the hand-offs few; transactions are similar in cost.
        step = -(-len(checks) // self.workers)
        futures = [self._pool.submit(_verified_in_batch, checks[i:i + step], flags)
                   for i in range(0, len(checks), step)]
        return [w for fut in futures for w in fut.result()]

    def session(self, flags: int) -> BlockChecks:
        return BlockChecks(self._pool, flags, self.cache)


class BlockChecks:
    """The script checks of one block: ``add`` as inputs are found, then ``wait``."""

    __slots__ = ("pool", "flags", "cache", "batch", "futures", "failure", "skipped")

    def __init__(self, pool: ThreadPoolExecutor | None, flags: int,
                 cache: ScriptCache | None = None) -> None:
        self.pool = pool
        self.flags = flags
        self.cache = cache
        self.batch: list[Check] = []
        self.futures: list[Future] = []
        self.failure: tuple[int, str, str] | None = None
        self.skipped = 0  # transactions the script cache vouched for

    def add(self, pos: int, tx: Tx, coins: list[Coin]) -> None:
        # The cache is keyed by wtxid, which commits to the witness; the spent coins are fixed
        # by the outpoints the txid commits to, so a cached verdict still applies.
        if self.cache is not None and self.cache.covers(tx.wtxid, self.flags):
            self.skipped += 1
            return
        self.batch.append((pos, tx, coins))
        if len(self.batch) >= BATCH_TXS:
            self._submit()

    def _submit(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        if self.pool is None:
            if self.failure is None:
                self.failure = _verify_batch(batch, self.flags)
        else:
            self.futures.append(self.pool.submit(_verify_batch, batch, self.flags))

    def wait(self) -> None:
        """Block until every check ran; raise for the earliest failing input in the block."""
        self._submit()
        failures = [f for f in (fut.result() for fut in self.futures) if f is not None]
        if self.failure is not None:
            failures.append(self.failure)
        if failures:
            _, reason, debug = min(failures)
            raise ValidationError(reason, debug)

    def abandon(self) -> None:
        """The block failed for another reason: drop what has not started, wait for the rest
        (their results no longer matter, but the caller's state must not change under them)."""
        for fut in self.futures:
            fut.cancel()
        for fut in self.futures:
            if not fut.cancelled():
                fut.exception()
        self.batch = []
