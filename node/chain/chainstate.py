"""The chain state: which blocks are known, which chain is active, and the UTXO set at its tip.

Flow of a block (Core's ProcessNewBlock): header checks and a :class:`BlockIndex` entry, then
context-free and contextual block checks, then the block is stored, then
:meth:`ChainState.activate_best_chain` connects the most-work chain, disconnecting and
reconnecting across reorgs. Blocks whose parent is unknown wait in a bounded orphan pool.

Crash safety: block data, undo data, index records and the ``tip`` marker go to the block store
in one batch per block; UTXO changes live in a cache that is flushed in one batch together with
its best-block marker. On start, the blocks between the UTXO set's best block and the tip marker
are replayed (disconnected with undo data, reconnected from stored blocks), so a ``kill -9`` at
any instant leaves a datadir that reaches the same state.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from node.consensus.block_check import (
    block_script_flags,
    check_block,
    check_block_header,
    contextual_check_block,
    contextual_check_block_header,
)
from node.consensus.coin import Coin
from node.consensus.errors import ValidationError
from node.consensus.hashes import hash_to_hex
from node.consensus.params import Params
from node.consensus.pow import get_next_work_required
from node.consensus.primitives import Block, BlockHeader, OutPoint
from node.consensus.serialize import ByteReader, from_bytes
from node.storage import close_datadir, open_datadir
from node.storage.codec import decode_block_undo, encode_block_undo
from node.storage.coins import CoinsCache, UtxoStats

from .connect import BlockView, TxConnector
from .index import (
    FAILED_CHILD,
    FAILED_VALID,
    HAVE_DATA,
    HAVE_UNDO,
    VALID_SCRIPTS,
    VALID_TRANSACTIONS,
    AncestorWalk,
    BlockIndex,
    find_fork,
)
from .preverify import ConnectAhead, is_new_tip
from .script_check import ScriptChecker

log = logging.getLogger(__name__)

TIP_MARKER = "tip"
REINDEX_MARKER = "reindex"
DEFAULT_CACHE_BYTES = 256 << 20
DEFAULT_FLUSH_INTERVAL_BLOCKS = 2_000
MAX_ORPHAN_BLOCKS = 100

# Reasons that say the block's data was mangled, not that its header commits to something
# invalid: such a block is rejected but its header is not marked failed (Core: BLOCK_MUTATED),
# so the real block can still arrive.
_MUTATION_REASONS = frozenset({
    "bad-txnmrklroot", "bad-txns-duplicate", "bad-witness-nonce-size",
    "bad-witness-merkle-match", "unexpected-witness",
})


class ChainListener(Protocol):
    """What the mempool, indexes and relay subscribe to. Called after the state changed."""

    def block_connected(self, block: Block, index: BlockIndex) -> None: ...

    def block_disconnected(self, block: Block, index: BlockIndex) -> None: ...


class ChainState:
    def __init__(self, params: Params, datadir: Path, *,
                 cache_bytes: int = DEFAULT_CACHE_BYTES,
                 flush_interval_blocks: int = DEFAULT_FLUSH_INTERVAL_BLOCKS,
                 clock: Callable[[], float] = time.time,
                 reindex_chainstate: bool = False,
                 script_workers: int | None = None) -> None:
        self.params = params
        self.datadir = Path(datadir)
        self.cache_bytes = cache_bytes
        self.flush_interval_blocks = flush_interval_blocks
        self.clock = clock
        self.listeners: list[ChainListener] = []
        self.script_checker = ScriptChecker(script_workers)

        self._lock, self.blocks, self._coins_db = open_datadir(
            self.datadir, wipe_chainstate=reindex_chainstate)
        try:
            self.coins = CoinsCache(self._coins_db)
            self.index: dict[bytes, BlockIndex] = {}
            # The greatest height of any header known (valid or not), kept as headers arrive:
            # best_header() walks the whole index, too slow to ask per block.
            self.header_height = 0
            self.active: list[BlockIndex] = []
            self._candidates: set[BlockIndex] = set()
            self._unlinked: dict[bytes, list[BlockIndex]] = {}  # prev hash -> children with data
            self._orphans: OrderedDict[bytes, Block] = OrderedDict()  # hash -> block
            # Why blocks failed in this run (the index keeps only the fact that they did).
            self.invalid_reasons: dict[bytes, str] = {}
            self._just_accepted: dict[bytes, Block] = {}  # within one process_block call
            self._ahead: ConnectAhead | None = None  # the new tip, if connected as parsed
            self._sequence = 0
            self._blocks_since_flush = 0
            self._coins_unsettled = False  # see _changing_tip
            self._load(reindex_chainstate)
        except BaseException:
            self.script_checker.stop()
            close_datadir(self._lock, self.blocks, self._coins_db)
            raise

    # -- queries ---------------------------------------------------------------------------
    @property
    def tip(self) -> BlockIndex:
        return self.active[-1]

    @property
    def height(self) -> int:
        return len(self.active) - 1

    def best_header(self) -> BlockIndex:
        return max((i for i in self.index.values() if not i.is_failed()),
                   key=lambda i: (i.chainwork, -i.sequence))

    def at_height(self, height: int) -> BlockIndex | None:
        return self.active[height] if 0 <= height < len(self.active) else None

    def is_active(self, index: BlockIndex) -> bool:
        return index.height < len(self.active) and self.active[index.height] is index

    def read_block(self, index_or_hash: BlockIndex | bytes) -> Block | None:
        h = index_or_hash.hash if isinstance(index_or_hash, BlockIndex) else index_or_hash
        raw = self.blocks.get_block(h)
        return None if raw is None else from_bytes(Block, raw)

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        return self.coins.get_coin(outpoint)

    def utxo_stats(self) -> UtxoStats:
        """Count, amount and hash of the UTXO set at the tip (flushes the cache first)."""
        self.flush()
        return self._coins_db.stats()

    # -- accepting headers and blocks -------------------------------------------------------
    def process_headers(self, headers: Iterable[BlockHeader]) -> list[BlockIndex]:
        """Accept a run of headers (headers-first sync). Raises on the first invalid one."""
        return [self._accept_header(h) for h in headers]

    def process_block(self, block: Block, raw: bytes | None = None) -> BlockIndex | None:
        """Validate and store ``block`` and make the best chain active. Returns its index, or
        None when its parent is unknown (it waits in the orphan pool). Raises ValidationError
        with Core's reject reason if the block is invalid. ``raw``, the block's serialization
        when the caller has it (from the wire or a file), saves serializing it again."""
        with _collector_paused():
            # A new tip is connected before the block's other checks: the helpers verify
            # its signatures while this thread checks and stores the block.
            ahead = self._start_connect_ahead(block.header)
            if ahead is not None:
                try:
                    for pos, tx in enumerate(block.txs):
                        ahead.add(pos, tx)
                except BaseException:
                    ahead.abandon()
                    raise
            return self._process_block(block, raw, ahead)

    def _process_block(self, block: Block, raw: bytes | None,
                       ahead: ConnectAhead | None) -> BlockIndex | None:
        """``ahead``: the connection the caller started and fed the block's transactions,
        or None when :meth:`_start_connect_ahead` declined (the block is connected after
        its other checks, as usual)."""
        prev_hash = block.header.prev_hash
        if block.hash not in self.index and prev_hash not in self.index:
            if ahead is not None:
                ahead.abandon()
            self._add_orphan(block)
            return None
        self._ahead = ahead
        try:
            self._keep_helpers_busy()
            # Context-free checks come before the block touches the index (as in Core's
            # ProcessNewBlock): a block failing them may be a mangled copy of a valid
            # one, so its header must not be marked invalid.
            check_block(block, self.params)
            self._keep_helpers_busy()
            index = self._accept_block(block, raw)
            self._keep_helpers_busy()
            self.activate_best_chain()
            self._process_orphans(index.hash)
        finally:
            self._just_accepted.clear()
            if self._ahead is not None:  # not used: the block failed before connecting
                self._ahead.abandon()
                self._ahead = None
        if index.status & FAILED_VALID:
            raise ValidationError(self.invalid_reasons.get(index.hash, "invalid"))
        if index.status & FAILED_CHILD:
            raise ValidationError("bad-prevblk")
        return index

    def process_raw_block(self, raw: bytes) -> BlockIndex | None:
        """:meth:`process_block` for a block's serialization (from a file or a peer). A block
        that extends the tip is connected as each transaction is parsed (its coin changes
        kept aside until the block's other checks pass), so the signature helpers are at work
        from the block's first transactions, not only once it is read, checked and stored.
        Raises DecodeError if ``raw`` does not parse."""
        # One pause for parsing and connecting: the collector resumes only once the block's
        # objects are freed (on return), so it never walks them (~5 ms a 2,000-tx block).
        with _collector_paused():
            return self._process_raw_block(raw)

    def _process_raw_block(self, raw: bytes) -> BlockIndex | None:
        ahead = self._start_connect_ahead(BlockHeader.parse(ByteReader(raw[:BlockHeader.SIZE])))
        if ahead is None:
            return self._process_block(from_bytes(Block, raw), raw, None)
        try:
            reader = ByteReader(raw)
            block = Block.parse(reader, ahead.add)
            reader.finish()
        except BaseException:
            ahead.abandon()
            raise
        return self._process_block(block, raw, ahead)

    def _keep_helpers_busy(self) -> None:
        """For a block connected as it was parsed: refill the signature helpers' queues
        (~10 ms of work) between the steps before its connection, which add no checks and
        take a few ms each."""
        if self._ahead is not None:
            self._ahead.top_up()

    def _start_connect_ahead(self, header: BlockHeader) -> ConnectAhead | None:
        """A connection fed ahead of the block's other checks, for a block that is about to
        become the tip, when there are helpers to feed (with one worker there is nothing to
        overlap); else None. The header's proof of work is checked first, so no work is
        spent on a block nobody mined."""
        if self.script_checker.workers == 1 or not is_new_tip(self, header):
            return None
        known = self.index.get(header.hash)
        if known is not None and (known.status & HAVE_DATA or known.is_failed()):
            return None
        try:
            check_block_header(header, self.params)
        except ValidationError:
            return None  # the block's own checks reject it with the reason
        prev = self.tip
        return ConnectAhead(header.hash, prev, self._connector(prev, header.hash, verify=True))

    def _connector(self, prev: BlockIndex, block_hash: bytes, verify: bool) -> TxConnector:
        """A connection of block ``block_hash`` onto ``prev``, with a script-check session
        unless it is a replay (``verify=False``)."""
        params = self.params
        height = prev.height + 1
        flags = int(block_script_flags(height, params, block_hash))
        checks = self.script_checker.session(flags) if verify else None
        return TxConnector(BlockView(self.coins), params, prev, flags, checks,
                           verify and _enforce_bip30(height, params))

    def _add_orphan(self, block: Block) -> None:
        # Context-free checks first: only plausible blocks may occupy the pool.
        check_block(block, self.params)
        self._orphans[block.hash] = block
        while len(self._orphans) > MAX_ORPHAN_BLOCKS:
            self._orphans.popitem(last=False)

    def _process_orphans(self, parent: bytes) -> None:
        queue = [parent]
        while queue:
            p = queue.pop()
            children = [b for b in self._orphans.values() if b.header.prev_hash == p]
            for child in children:
                del self._orphans[child.hash]
                try:
                    self._accept_block(child)
                except ValidationError as e:
                    log.info("orphan block %s rejected: %s", hash_to_hex(child.hash), e)
                    continue
                queue.append(child.hash)
        self.activate_best_chain()

    def orphan_count(self) -> int:
        return len(self._orphans)

    def _accept_header(self, header: BlockHeader) -> BlockIndex:
        existing = self.index.get(header.hash)
        if existing is not None:
            if existing.is_failed():
                raise ValidationError("duplicate", "block is marked invalid")
            return existing
        check_block_header(header, self.params)
        prev = self.index.get(header.prev_hash)
        if prev is None:
            raise ValidationError("prev-blk-not-found")
        if prev.is_failed():
            raise ValidationError("bad-prevblk")
        height = prev.height + 1
        expected_bits = get_next_work_required(
            prev.height, prev.bits, prev.time, header.time, self.params, AncestorWalk(prev))
        contextual_check_block_header(header, height, prev.median_time_past(), expected_bits,
                                      self.params, int(self.clock()))
        index = BlockIndex(header, height, prev, sequence=self._next_sequence())
        self.index[index.hash] = index
        self.header_height = max(self.header_height, height)
        with self.blocks.batch() as batch:
            self.blocks.put_index_records({index.hash: index.record()}, batch)
        return index

    def _accept_block(self, block: Block, raw: bytes | None = None) -> BlockIndex:
        index = self._accept_header(block.header)
        if index.status & HAVE_DATA:
            return index
        # The caller ran check_block (process_block, or _add_orphan for pooled blocks).
        try:
            contextual_check_block(block, index.height, index.prev.median_time_past(),  # type: ignore[union-attr]
                                   self.params)
        except ValidationError as e:
            if e.reason not in _MUTATION_REASONS:
                self._mark_failed(index, e.reason)
            raise
        index.status |= HAVE_DATA | VALID_TRANSACTIONS
        index.tx_count = len(block.txs)
        with self.blocks.batch() as batch:
            self.blocks.put_block(block.hash, raw if raw is not None else block.serialize(),
                                  batch)
            self.blocks.put_index_records({index.hash: index.record()}, batch)
        # Connecting usually follows at once: spare it reading the block back from disk.
        self._just_accepted[index.hash] = block
        self._link(index)
        return index

    def _link(self, index: BlockIndex) -> None:
        """Track blocks whose whole ancestry has data: only those can become the tip."""
        prev = index.prev
        if prev is not None and prev not in self._candidates and not self.is_active(prev) \
                and not _linked(prev, self):
            self._unlinked.setdefault(prev.hash, []).append(index)
            return
        stack = [index]
        while stack:
            node = stack.pop()
            if not node.is_failed():
                self._candidates.add(node)
            stack.extend(self._unlinked.pop(node.hash, ()))

    # -- chain selection --------------------------------------------------------------------
    def activate_best_chain(self) -> None:
        """Make the most-work valid chain active (Core's ActivateBestChain)."""
        while True:
            tip = self.tip
            best = max((c for c in self._candidates if not c.is_failed()),
                       key=lambda i: (i.chainwork, -i.sequence), default=None)
            if best is None or best.chainwork <= tip.chainwork:
                break
            fork = find_fork(tip, best)
            while self.tip is not fork:
                self._disconnect_tip()
            path = []
            node = best
            while node is not fork:
                path.append(node)
                node = node.prev  # type: ignore[assignment]
            for index in reversed(path):
                try:
                    self._connect(index)
                except ValidationError as e:
                    log.warning("block %s at height %d is invalid: %s",
                                hash_to_hex(index.hash), index.height, e)
                    self._mark_failed(index, e.reason)
                    break  # choose again: another candidate may now be best
        self._candidates = {c for c in self._candidates
                            if c.chainwork >= self.tip.chainwork and not c.is_failed()}
        self._maybe_flush()

    def _mark_failed(self, index: BlockIndex, reason: str) -> None:
        index.status |= FAILED_VALID
        self.invalid_reasons[index.hash] = reason
        failed = {index}
        records = {index.hash: index.record()}
        # Descendants are few and invalidity is rare: a scan of the index is fine here.
        for other in sorted(self.index.values(), key=lambda i: i.height):
            if other.height > index.height and other.prev in failed:
                other.status |= FAILED_CHILD
                failed.add(other)
                records[other.hash] = other.record()
        self._candidates -= failed
        with self.blocks.batch() as batch:
            self.blocks.put_index_records(records, batch)

    # -- connecting and disconnecting -------------------------------------------------------
    def _connect(self, index: BlockIndex) -> None:
        block = self._just_accepted.pop(index.hash, None) or self.read_block(index)
        if block is None:
            raise RuntimeError(f"block data missing for {index!r}")
        started = time.perf_counter()
        with self._changing_tip():
            undo = self._validate_and_apply(block, index)
            index.status |= VALID_SCRIPTS | HAVE_UNDO
            with self.blocks.batch() as batch:
                self.blocks.put_undo(index.hash, undo, batch)
                self.blocks.put_index_records({index.hash: index.record()}, batch)
                self.blocks.set_marker(TIP_MARKER, index.hash, batch)
            self.coins.best_block = index.hash
        self.active.append(index)
        self._blocks_since_flush += 1
        log.info("connected block %d %s (%d txs) in %.1f ms", index.height,
                 hash_to_hex(index.hash), len(block.txs), (time.perf_counter() - started) * 1e3)
        for listener in self.listeners:
            listener.block_connected(block, index)

    @contextmanager
    def _changing_tip(self) -> Iterator[None]:
        """The stretch in which the UTXO cache holds some of a block's changes but not yet
        its best block. A block found invalid leaves it as it was (its changes are never
        made, or are taken back); any other exception (a Ctrl-C, a bug) may leave it half
        changed, matching no block. Flushing that would store a UTXO set no restart could
        mend, so the chain state stays unsettled: :meth:`flush` refuses and :meth:`close`
        keeps the last flush, from which the next start replays the stored blocks, as after
        a crash (Core, likewise, aborts the node on a failed flush rather than go on). Nor
        does it connect or disconnect another block: on coins that match no block, a valid
        one could be found invalid, and that verdict is stored."""
        if self._coins_unsettled:
            raise RuntimeError(_UNSETTLED)
        self._coins_unsettled = True
        try:
            yield
        except ValidationError:
            self._coins_unsettled = False
            raise
        self._coins_unsettled = False

    def _validate_and_apply(self, block: Block, index: BlockIndex,
                            verify: bool = True) -> bytes:
        """Core's ConnectBlock: check every input against the UTXO set, amounts, BIP68
        sequence locks, sigop cost and scripts; then spend and create coins in the cache.
        Returns the block's encoded undo data. With ``verify=False`` (replay of blocks
        connected before a crash) only apply."""
        params = self.params
        prev = index.prev
        assert prev is not None, "the genesis block is never connected"
        ahead, self._ahead = self._ahead, None
        if verify and ahead is not None and ahead.block_hash == index.hash \
                and ahead.prev is prev:
            # Connected as it was parsed, onto this same tip: the coins it read are still
            # the chain's (nothing changes the cache in between).
            connector = ahead.connector
            if ahead.error is not None:
                ahead.abandon()
                raise ahead.error
        else:
            if ahead is not None:
                ahead.abandon()
            connector = self._connector(prev, index.hash, verify)
            try:
                for pos, tx in enumerate(block.txs):
                    connector.add(pos, tx)
            except BaseException:
                if connector.checks is not None:
                    connector.checks.abandon()
                raise
        view, checks = connector.view, connector.checks
        if checks is None:
            view.commit()
            return b""  # a replay has its undo data stored already
        try:
            reward = sum(o.value for o in block.txs[0].vout)
            limit = connector.fees + params.block_subsidy(index.height)
            if reward > limit:
                raise ValidationError("bad-cb-amount",
                                      f"coinbase pays too much (actual={reward} vs limit={limit})")
            # Encoded while the helpers still verify signatures: it only reads spent coins. The
            # steps from here to the wait take 5-15 ms, as long as the helpers' queues last:
            # refilled before the encoding and before the commit, or the helpers may idle while
            # this thread keeps checks.
            checks.top_up()
            encoded_undo = encode_block_undo(connector.undo)
            if not view.revertible():
                # Its new coins replace cache entries (only duplicate transactions can: BIP30's
                # historical exceptions, or a duplicate coinbase where BIP30 is not enforced),
                # which reverting could not bring back: the checks must pass first.
                checks.wait()
                view.commit()
                return encoded_undo
            # The cache is updated before the last signatures are in, so that the helpers verify
            # while this thread does it (they would idle through it otherwise); a failure takes
            # the changes back. Nothing reads the cache in between.
            checks.top_up()
            view.commit(revertible=True)
            # The spent coins are now needed only if a signature fails, and the undo data holds
            # them: freed here, while the helpers verify, rather than with the block after the
            # last signature (~1.5-2.5 ms a 2,000-input block, the helpers idle meanwhile).
            undo = _SpentCoins(encoded_undo)
            connector.release_spent(undo.of_tx)
        except BaseException:
            # A block that goes no further (too big a reward, or an unexpected error or a
            # Ctrl-C here) must not leave the helpers verifying it, nor keep them from the
            # next block.
            checks.abandon()
            raise
        try:
            checks.wait()
        except BaseException:
            view.revert(undo.from_base(block, index.height))
            raise
        return encoded_undo

    def _disconnect_tip(self) -> None:
        index = self.tip
        block = self.read_block(index)
        raw_undo = self.blocks.get_undo(index.hash)
        if block is None or raw_undo is None:
            raise RuntimeError(f"cannot disconnect {index!r}: block or undo data missing")
        prev = index.prev
        assert prev is not None, "the genesis block is never disconnected"
        with self._changing_tip():
            self._unapply(block, decode_block_undo(raw_undo))
            with self.blocks.batch() as batch:
                self.blocks.set_marker(TIP_MARKER, prev.hash, batch)
            self.coins.best_block = prev.hash
        self.active.pop()
        self._candidates.add(index)  # still valid: may become best again
        self._blocks_since_flush += 1
        log.info("disconnected block %d %s", index.height, hash_to_hex(index.hash))
        for listener in self.listeners:
            listener.block_disconnected(block, index)

    def _unapply(self, block: Block, undo: list[list[Coin]]) -> None:
        """Core's DisconnectBlock: remove the block's outputs, restore what it spent."""
        if len(undo) != len(block.txs) - 1:
            raise RuntimeError("undo data does not match the block")
        for tx_pos in range(len(block.txs) - 1, -1, -1):
            tx = block.txs[tx_pos]
            for n in range(len(tx.vout)):
                self.coins.spend_coin(OutPoint(tx.txid, n))
            if tx_pos > 0:
                spent = undo[tx_pos - 1]
                for txin, coin in zip(reversed(tx.vin), reversed(spent), strict=True):
                    self.coins.add_coin(txin.prevout, coin, possible_overwrite=True)

    # -- persistence ----------------------------------------------------------------------
    def _maybe_flush(self) -> None:
        if self._blocks_since_flush >= self.flush_interval_blocks or \
                self.coins.memory_usage() > self.cache_bytes:
            self.flush()

    def flush(self) -> None:
        """Write the UTXO cache and its best-block marker in one atomic batch, once the
        blocks, undo data and index records it depends on are on disk: the block store's
        writes are not synced one by one, so a power cut could otherwise leave a chainstate
        whose best block the store lost (Core's FlushStateToDisk also syncs the block files
        and index before the coins)."""
        if self._coins_unsettled:
            raise RuntimeError(_UNSETTLED)
        self.blocks.sync()
        self.coins.flush(sync=True)
        self._blocks_since_flush = 0

    def close(self) -> None:
        try:
            self.script_checker.stop()
            if self._coins_unsettled:
                log.warning("%s", _UNSETTLED)
            else:
                self.flush()
        finally:
            close_datadir(self._lock, self.blocks, self._coins_db)

    def __enter__(self) -> ChainState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def _load(self, reindex: bool) -> None:
        records = [BlockIndex.parse_record(raw) for _, raw in self.blocks.iter_index_records()]
        if not records:
            self._init_genesis()
            return
        records.sort(key=lambda r: r[1])
        for header, height, status, tx_count in records:
            prev = self.index.get(header.prev_hash)
            if prev is None and height != 0:
                raise RuntimeError("block index is inconsistent: a block's parent is missing; "
                                   "run `minicash-node reindex-chainstate`")
            idx = BlockIndex(header, height, prev, status, tx_count, self._next_sequence())
            self.index[idx.hash] = idx
            self.header_height = max(self.header_height, height)
        genesis = self.index.get(self.params.genesis.hash)
        if genesis is None:
            raise RuntimeError(f"this datadir holds another network's chain, not "
                               f"{self.params.name}'s")
        if reindex or self.blocks.get_marker(REINDEX_MARKER) is not None:
            self._reset_for_reindex(genesis)
        tip_hash = self.blocks.get_marker(TIP_MARKER)
        tip = self.index.get(tip_hash) if tip_hash else genesis
        if tip is None:
            raise RuntimeError("the tip marker names an unknown block; "
                               "run `minicash-node reindex-chainstate`")
        self.active = [tip.ancestor(h) for h in range(tip.height + 1)]
        for idx in sorted(self.index.values(), key=lambda i: i.height):
            if idx.status & HAVE_DATA and not self.is_active(idx):
                self._link(idx)
        self._replay()
        self.activate_best_chain()
        if self.blocks.get_marker(REINDEX_MARKER) is not None:
            self.flush()
            with self.blocks.batch() as batch:
                self.blocks.delete_marker(REINDEX_MARKER, batch)

    def _reset_for_reindex(self, genesis: BlockIndex) -> None:
        """reindex-chainstate: empty the UTXO set and forget which blocks were connected or
        judged invalid, so that loading reconnects every stored block with full validation.
        The marker makes a crash in the middle resume the reindex on the next start."""
        with self.blocks.batch() as batch:
            self.blocks.set_marker(REINDEX_MARKER, b"\x01", batch)
        self._coins_db.wipe(genesis.hash)
        self.coins = CoinsCache(self._coins_db)
        keep = ~(VALID_SCRIPTS | HAVE_UNDO | FAILED_VALID | FAILED_CHILD)
        for idx in self.index.values():
            if idx is not genesis:
                idx.status &= keep
        with self.blocks.batch() as batch:
            self.blocks.put_index_records({i.hash: i.record() for i in self.index.values()},
                                          batch)
            self.blocks.set_marker(TIP_MARKER, genesis.hash, batch)

    def _init_genesis(self) -> None:
        genesis = self.params.genesis
        index = BlockIndex(genesis.header, 0, None,
                           HAVE_DATA | VALID_TRANSACTIONS | VALID_SCRIPTS,
                           len(genesis.txs), self._next_sequence())
        self.index[index.hash] = index
        with self.blocks.batch() as batch:
            self.blocks.put_block(index.hash, genesis.serialize(), batch)
            self.blocks.put_index_records({index.hash: index.record()}, batch)
            self.blocks.set_marker(TIP_MARKER, index.hash, batch)
        self.active = [index]
        # Like Core, the genesis coinbase is not spendable: the UTXO set starts empty.
        self.coins.best_block = index.hash
        self.flush()

    def _replay(self) -> None:
        """Bring the UTXO set from its flushed best block to the tip marker (Core's
        ReplayBlocks): undo blocks connected after a flush on a branch since abandoned, then
        roll forward the blocks connected since the flush, without re-verifying them."""
        coins_best = self.coins.best_block
        tip = self.tip
        if coins_best == tip.hash:
            return
        old = self.index.get(coins_best) if coins_best else None
        if old is None:
            raise RuntimeError("the UTXO set's best block is unknown; "
                               "run `minicash-node reindex-chainstate`")
        fork = find_fork(old, tip)
        log.info("replaying blocks: UTXO set at height %d, tip at %d", old.height, tip.height)
        node = old
        while node is not fork:
            block = self.read_block(node)
            raw_undo = self.blocks.get_undo(node.hash)
            if block is None or raw_undo is None:
                raise RuntimeError("cannot replay: block or undo data missing; "
                                   "run `minicash-node reindex-chainstate`")
            self._unapply(block, decode_block_undo(raw_undo))
            node = node.prev  # type: ignore[assignment]
        for h in range(fork.height + 1, tip.height + 1):
            index = self.active[h]
            block = self.read_block(index)
            if block is None:
                raise RuntimeError("cannot replay: block data missing; "
                                   "run `minicash-node reindex-chainstate`")
            self._validate_and_apply(block, index, verify=False)
        self.coins.best_block = tip.hash
        self.flush()


class _SpentCoins:
    """A connected block's spent coins, decoded from its undo data when first asked for."""

    __slots__ = ("_encoded", "_decoded")

    def __init__(self, encoded_undo: bytes) -> None:
        self._encoded = encoded_undo
        self._decoded: list[list[Coin]] | None = None

    def _all(self) -> list[list[Coin]]:
        if self._decoded is None:
            self._decoded = decode_block_undo(self._encoded)
        return self._decoded

    def of_tx(self, pos: int) -> list[Coin]:
        """The coins transaction ``pos`` of the block spent (the coinbase, 0, has no entry)."""
        return self._all()[pos - 1]

    def from_base(self, block: Block, height: int) -> dict[tuple[bytes, int], Coin]:
        """The coins the block spent from the UTXO set, by key, as BlockView.spent held
        them: not those it created itself (their height is the block's; older coins' is
        lower) and spent again."""
        spent = {}
        for tx, coins in zip(block.txs[1:], self._all(), strict=True):
            for txin, coin in zip(tx.vin, coins, strict=True):
                if coin.height < height:
                    spent[(txin.prevout.txid, txin.prevout.n)] = coin
        return spent


# Objects made since the last collection, past which the collector resuming after a block
# would spend more than ~0.4 ms on its young collection (a 2,000-input block leaves ~9,000 to
# ~14,000; an 80-input one ~1,000).
YOUNG_WALK_LIMIT = 5_000


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Connecting allocates tens of thousands of objects that all live until it ends: the
    cyclic collector would walk the whole heap (the UTXO cache) again and again for
    nothing. Paused meanwhile.

    After a big block, what outlives it (its coins in the cache, index entries) lives long,
    so it goes straight to the oldest generation: freeze then unfreeze moves every tracked
    object there without walking any (two list splices), where resuming would start with
    a young collection over all of it (1-1.5 ms of a 2,000-input block, with the helpers
    idle). That moves the rest of the process's young objects too, whose cyclic garbage
    then waits for a full collection: after a small block (a regtest block of a few
    transactions) the young collection is cheap, and runs as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] > YOUNG_WALK_LIMIT:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _linked(index: BlockIndex, chain: ChainState) -> bool:
    """Whether ``index`` and all its ancestors have block data (ancestors on the active chain
    are known to)."""
    node: BlockIndex | None = index
    while node is not None and not chain.is_active(node):
        if not node.status & HAVE_DATA or node.is_failed():
            return False
        node = node.prev
    return True


_UNSETTLED = ("a block connect or disconnect was interrupted half-way: the UTXO cache is not "
              "written; restart the node, and the blocks since the last flush are replayed")

# Core's BIP34_IMPLIES_BIP30_LIMIT: some pre-BIP34 mainnet coinbases encode a height above
# their own, so they are also valid coinbases for that later height; the lowest is 1,983,702.
BIP34_IMPLIES_BIP30_LIMIT = 1_983_702


def _enforce_bip30(height: int, params: Params) -> bool:
    """Whether BIP30 (no transaction may overwrite an unspent output) is checked for this
    block. BIP34's unique coinbases imply it from BIP34's activation until the limit above;
    before BIP34 it is checked, but for Core's two historical exceptions on mainnet."""
    if _bip30_exception(height, params):
        return False
    return height < params.bip34_height or height >= BIP34_IMPLIES_BIP30_LIMIT


def _bip30_exception(height: int, params: Params) -> bool:
    # Core: two mainnet blocks (91842, 91880) duplicated earlier coinbases before BIP30.
    return params.name == "main" and height in (91842, 91880)


__all__ = ["ChainState", "ChainListener"]
