"""Script verification of a block's inputs, with the signature checks spread over cores
(Core's CCheckQueue does the same with threads).

How: the calling thread runs every input's script deferred (``interpreter.defer_input``: a
:class:`DeferringSignatureChecker`, or its fast path for the common P2WPKH spend), which
computes each OP_CHECKSIG's signature hash and records ``(pubkey, signature, digest)``
instead of verifying it. The records go in batches to helper *processes*
(:mod:`node.chain.verify_pool`) that only run libsecp256k1, while the caller goes on with the
block's other work; what the helpers' queues cannot take the caller keeps, and verifies at the
end together with the queued records no helper has started. A script whose recorded
signatures all verify has its real verdict; any input with a failed record, or whose
optimistic run failed, is run again with real checks before anything is reported, so the
answer is always the exact one.

For a new tip the session starts before the block is even parsed to the end
(``ChainState.process_raw_block`` feeds it each transaction as it is read, see
:class:`node.chain.preverify.ConnectAhead`): the helpers are then busy from the block's first
transactions, while the caller parses, checks and stores the block and updates the coins.

Why not threads: libsecp256k1 releases the GIL, but the Python around each check does not,
and a thread coming back from C waits for the GIL held by the thread doing the block's Python
work. Measured on 2 cores with 35 µs of Python per input: two threads reached 64-71 µs per
input, one helper process 45 µs.

``workers`` counts the cores doing signature checks, the caller included: 1 verifies inline
(no helper), N starts N - 1 helpers, on first need.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from node.consensus import crypto
from node.consensus.coin import Coin
from node.consensus.errors import ValidationError
from node.consensus.hashes import hash_to_hex
from node.consensus.primitives import Tx
from node.consensus.script.errors import ScriptError, script_error_string
from node.consensus.script.interpreter import defer_input, verify_input
from node.consensus.script.sighash import PrecomputedTxData
from node.worker_processes import default_workers

from .verify_pool import Record, Tag, VerifyPool, failed_tags

log = logging.getLogger(__name__)

Check = tuple[int, Tx, list[Coin]]  # (position of the tx in its block, tx, coins it spends)

BATCH_RECORDS = 32  # signature checks per batch: ~1.5 ms of work, enough to amortise a hand-off
# A session's first batches go out sooner, doubling up to BATCH_RECORDS: the helpers idle
# until work arrives. Into a block whose transactions are being parsed, a helper's first
# batch began ~1.2 ms in with 32 records at once, 0.75-1 ms with 8, ~0.6 ms with 2 (a
# helper takes ~0.15 ms to wake).
FIRST_BATCH_RECORDS = 2
INLINE_CHUNK = 8  # records the caller verifies between offers of more batches to the helpers
RETRY_ADDS = 64  # transactions added between offers while the helpers' queues are full


def _check_input(tx: Tx, n: int, coin: Coin, flags: int,
                 cache: PrecomputedTxData | None) -> tuple[str, str] | None:
    """Run input ``n``'s scripts with real signature checks: (reason, debug) or None."""
    try:
        verify_input(tx, n, coin.script_pubkey, coin.value, flags, cache)
    except ScriptError as e:
        return (f"mandatory-script-verify-flag-failed ({script_error_string(e.err)})",
                f"input {n} of {hash_to_hex(tx.txid)}")
    return None


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
    """Script checks for a chain: ``workers`` cores' worth of signature verification."""

    def __init__(self, workers: int | None = None, cache: ScriptCache | None = None) -> None:
        self.workers = max(1, workers if workers is not None else default_workers())
        self.cache = cache if cache is not None else ScriptCache()
        self._pool = VerifyPool(self.workers - 1) if self.workers > 1 else None
        # One session at a time uses the helpers (the chain's thread, or the node's
        # pre-verification thread); a session that finds them busy verifies inline.
        self._pool_lock = threading.Lock()

    def start(self) -> None:
        """Start the helper processes now rather than at the first batch (benchmarks)."""
        if self._pool is not None:
            self._pool.start()

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.stop()

    def session(self, flags: int) -> BlockChecks:
        return BlockChecks(self, flags)

    def verified(self, checks: list[Check], flags: int) -> list[bytes]:
        """Verify ``checks`` and wait: the wtxids of those whose every input passed. Failures
        are not reported: the caller only learns what it may skip later (the block's own
        connection finds and names any failure)."""
        session = BlockChecks(self, flags, use_cache=False, all_failures=True)
        try:
            for pos, tx, coins in checks:
                session.add(pos, tx, coins)
            failed = session.finish()
        except BaseException:  # the helpers are let go, not kept from every later session
            session.abandon()
            raise
        return [tx.wtxid for pos, tx, _ in checks if pos not in failed]

    # -- the helper pool, for sessions ------------------------------------------------------
    def _acquire_pool(self) -> VerifyPool | None:
        """The helpers for a session, started if need be; None if another session has them
        or they cannot start (the session then verifies on its own thread)."""
        if self._pool is None or not self._pool_lock.acquire(blocking=False):
            return None
        try:
            self._pool.start()
        except Exception as e:  # no process to be had (EMFILE, EAGAIN): slower, not stuck
            self._pool_lock.release()
            log.warning("signature helpers did not start (%s): verifying on one core", e)
            return None
        except BaseException:  # a Ctrl-C meanwhile
            self._pool_lock.release()
            raise
        return self._pool

    def _release_pool(self) -> None:
        self._pool_lock.release()


class BlockChecks:
    """The script checks of one block: ``add`` each transaction as its coins are found,
    then ``wait`` (or ``abandon`` if the block failed otherwise)."""

    __slots__ = ("checker", "flags", "cache", "skipped", "_txs", "_coins", "_coins_elsewhere",
                 "_records", "_tags", "_suspects", "_failed", "_pool", "_inline",
                 "_all_failures", "_adds", "_next_offer", "_batch", "_verify")

    def __init__(self, checker: ScriptChecker, flags: int, use_cache: bool = True,
                 all_failures: bool = False) -> None:
        self.checker = checker
        self.flags = int(flags)
        self.cache = checker.cache if use_cache else None
        self.skipped = 0  # transactions the script cache vouched for
        # Transactions deferred, and the coins they spend, by position, for their suspect
        # inputs to be run again. Their signature-hash parts are not kept: only suspects need
        # them again, and freed as each transaction is done they cost nothing at the block's
        # serial end. The coins may be handed back early (release_coins).
        self._txs: dict[int, Tx] = {}
        self._coins: dict[int, list[Coin]] = {}
        self._coins_elsewhere: Callable[[int], list[Coin]] | None = None
        # Deferred signature checks not yet sent: the helpers take batches from the front,
        # the caller verifies from the back once its other work on the block is done.
        self._records: list[Record] = []
        self._tags: list[Tag] = []  # (tx position, input) of each record
        self._suspects: set[Tag] = set()  # inputs to run again for real
        self._failed: dict[int, tuple[str, str]] = {}  # tx position -> its verdict, if known
        self._pool: VerifyPool | None = None
        # With one worker nothing is sent anywhere: each input's signatures are verified as
        # it is deferred (_verify_now).
        self._inline = checker.workers == 1
        self._verify = crypto.get_backend().verify if self._inline else None
        # A block needs only its earliest failure: once one is known, later ones are moot.
        self._all_failures = all_failures
        self._adds = 0
        self._next_offer = 0  # offer batches to the helpers again at this many adds
        self._batch = FIRST_BATCH_RECORDS  # records that make a batch worth sending now

    def add(self, pos: int, tx: Tx, coins: list[Coin]) -> None:
        """Check transaction ``pos`` spending ``coins``."""
        self._adds += 1
        # The cache is keyed by wtxid, which commits to the witness; the spent coins are fixed
        # by the outpoints the txid commits to, so a cached verdict still applies.
        if self.cache is not None and self.cache.covers(tx.wtxid, self.flags):
            self.skipped += 1
            return
        if self._failed and not self._all_failures:
            return  # transactions come in block order: this one cannot fail earlier
        flags = self.flags
        if self._inline:
            failure = self._verify_now(tx, coins)
            if failure is not None:
                self._failed[pos] = failure
            return
        self._txs[pos] = tx
        self._coins[pos] = coins
        records, tags = self._records, self._tags
        # The parts the inputs' signature hashes share: a one-input transaction has no one to
        # share them with, and its P2WPKH hash is made without (sighash.p2wpkh_sighash_all).
        cache = PrecomputedTxData(tx) if len(coins) > 1 else None
        for n, coin in enumerate(coins):
            before = len(records)
            txout = coin.txout
            try:
                defer_input(tx, n, txout.script_pubkey, txout.value, flags, cache, records)
            except ScriptError:
                del records[before:]  # the real run below redoes them
                self._suspects.add((pos, n))
                continue
            added = len(records) - before
            if added == 1:  # one signature check, as most inputs have
                tags.append((pos, n))
            elif added:
                tags.extend([(pos, n)] * added)
        if len(records) >= self._batch and self._adds >= self._next_offer:
            self._dispatch()

    def _verify_now(self, tx: Tx, coins: list[Coin]) -> tuple[str, str] | None:
        """With one worker: each input deferred and its records verified at once, by the
        same rule as the helpers' (an input with a failed record, or whose deferred run
        failed, runs again with real checks for its verdict). The deferred run has the
        common P2WPKH spend's fast path (interpreter.defer_input), which the real checks'
        general path lacks. The first failing input's (reason, debug), or None."""
        flags, verify = self.flags, self._verify
        cache = PrecomputedTxData(tx) if len(coins) > 1 else None
        records: list[Record] = []
        for n, coin in enumerate(coins):
            txout = coin.txout
            try:
                defer_input(tx, n, txout.script_pubkey, txout.value, flags, cache, records)
                passed = all([verify(pubkey, sig, digest) for pubkey, sig, digest in records])
            except ScriptError:
                passed = False
            records.clear()
            if not passed and (failure := _check_input(tx, n, coin, flags, cache)) is not None:
                return failure
        return None

    def release_coins(self, coins_of: Callable[[int], list[Coin]]) -> None:
        """Drop the spent coins kept for the suspects, but those of the suspects known
        already: ``coins_of(pos)`` gives transaction ``pos``'s back if a later one needs
        them (a failed signature record: in practice only in an invalid block). For a caller
        that has them elsewhere (the block's encoded undo data) and would rather free them
        while the helpers still verify."""
        coins = self._coins
        self._coins = {pos: coins[pos] for pos, _ in self._suspects}
        self._coins_elsewhere = coins_of

    def top_up(self) -> None:
        """Offer the helpers what they have room for of what is kept. For a caller busy
        with other work for a while after its last :meth:`add` (a block connected as it was
        parsed, then checked and stored): the helpers' queues hold ~10 ms of work."""
        if len(self._records) >= self._batch:
            self._dispatch()

    def _dispatch(self) -> None:
        """Offer the helpers whole batches from the front of what is kept."""
        records, tags = self._records, self._tags
        if self._pool is None:
            self._pool = self.checker._acquire_pool()
            if self._pool is None:  # busy with another session: verify here
                self._records, self._tags = [], []
                self._inline_verify(records, tags)
                return
        smallest = self._batch
        if self._offer(smallest):
            self._batch = min(2 * smallest, BATCH_RECORDS)
        # Full queues (the offer stopped with a whole batch still kept): the helpers are busy;
        # offer again a few transactions later rather than after each one.
        self._next_offer = self._adds + RETRY_ADDS if len(records) >= smallest else 0

    def _offer(self, smallest: int) -> int:
        """Send batches of at least ``smallest`` records while the helpers take them."""
        records, tags = self._records, self._tags
        sent = 0
        while len(records) - sent >= smallest:
            end = sent + BATCH_RECORDS
            if not self._pool.submit(records[sent:end], tags[sent:end]):  # type: ignore[union-attr]
                break
            sent = min(end, len(records))
        if sent:
            del records[:sent], tags[:sent]
        return sent

    def _inline_verify(self, records: list[Record], tags: list[Tag]) -> None:
        self._suspects.update(failed_tags(records, tags))

    def _collect(self) -> None:
        """Verify what is left, sharing it with the helpers, and gather their end-of-session
        reports into the suspects."""
        try:
            if self._pool is None and self._records:
                self._dispatch()  # takes the helpers, or verifies all here if they are busy
            records, tags = self._records, self._tags
            while records:
                if self._pool is not None:
                    self._offer(1)  # the helpers take from the front while they have room
                chunk = records[-INLINE_CHUNK:]
                if chunk:
                    self._inline_verify(chunk, tags[-INLINE_CHUNK:])
                    del records[-INLINE_CHUNK:], tags[-INLINE_CHUNK:]
        except BaseException:  # a Ctrl-C meanwhile: the helpers are let go, not kept for good
            self.abandon()
            raise
        if self._pool is not None:
            try:
                # The helpers' queued records are shared out again: the caller takes back
                # those not started yet.
                self._suspects.update(self._pool.collect())
            finally:
                self._give_back_pool()

    def _give_back_pool(self) -> None:
        self._pool = None
        self.checker._release_pool()

    def finish(self) -> dict[int, tuple[str, str]]:
        """Wait for every check; run the suspect inputs again with real checks, in block
        order. Returns {tx position: (reason, debug)} of the transactions that failed (only
        the earliest, unless the session wants all failures)."""
        self._collect()
        stop_at_first = not self._all_failures
        failed = dict(self._failed)
        caches: dict[int, PrecomputedTxData] = {}
        for pos, n in sorted(self._suspects):
            if pos in failed:
                continue
            if stop_at_first and failed and pos > min(failed):
                break
            tx, coins = self._txs[pos], self._coins.get(pos)
            if coins is None:  # released (release_coins)
                coins = self._coins_elsewhere(pos)  # type: ignore[misc]
            cache = caches.get(pos)
            if cache is None:
                cache = caches[pos] = PrecomputedTxData(tx)
            failure = _check_input(tx, n, coins[n], self.flags, cache)
            if failure is not None:
                failed[pos] = failure
        if stop_at_first and failed:
            first = min(failed)
            return {first: failed[first]}
        return failed

    def wait(self) -> None:
        """Block until every check ran; raise for the earliest failing input in the block."""
        failed = self.finish()
        if failed:
            reason, debug = failed[min(failed)]
            raise ValidationError(reason, debug)

    def abandon(self) -> None:
        """The block failed for another reason: drop the work, leaving the helpers idle."""
        self._records, self._tags = [], []
        if self._pool is not None:
            try:
                self._pool.cancel()
            finally:
                self._give_back_pool()
