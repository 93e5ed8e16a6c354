"""The proof-of-work search, outside the event loop: a tight nonce scan and a pool of worker
processes that splits the 2**32 nonce space between them.

* :func:`scan` is the pure inner loop: nonces ``[start, end)`` of an 80-byte header given as its
  first 76 bytes, using a SHA-256 midstate so the header's first 64-byte block is compressed
  once, not once per nonce.
* :class:`PowSearcher` is a service (``start()`` / ``stop()``) owning ``workers`` processes. Its
  :meth:`~PowSearcher.solve` hands out chunks of the nonce range, two per worker at a time, and
  returns the first solution any worker reports. :meth:`~PowSearcher.solve_async` is the same
  search for a coroutine: the event loop never waits on a hash.
* :func:`solve_block` / :func:`solve_block_async` show how the miner uses it: when a header's
  nonce space is exhausted it rolls the coinbase's extranonce (which changes the merkle root and
  so the header) and searches again. :func:`make_block_builder` builds those blocks with
  :mod:`node.mining.blocktools`.

Abandoning stale work: the pool shares one 64-bit *generation* number with its workers. Every
job carries the generation it was issued under, and a worker checks the shared value between
sub-ranges of ``CHECK_EVERY`` nonces (about 10 ms of hashing), so bumping it — on cancel, on a
solution, on a newer ``solve()`` call (a new tip), or on ``stop()`` — stops all outstanding work
within one sub-range without killing any process.

Why "spawn": workers are started from a fresh interpreter, never forked. The node's process
runs an asyncio loop and threads (executors, the multiprocessing helpers themselves); ``fork``
would copy locks held by those threads into the child (a classic deadlock) and every inherited
file descriptor — database handles, sockets, and the parent's own ends of the worker pipes,
which would stop a worker from ever seeing EOF when the node dies. ``forkserver`` is also safe
and starts workers faster, but it leaves a server process alive for the rest of the node's life,
outside this service's start/stop; the pool starts once per node run, so spawn's start-up cost
(a fresh interpreter importing this module, ~0.1 s, in parallel) does not matter.
(On POSIX, spawning starts multiprocessing's own resource-tracker helper once per interpreter;
it is the standard library's, holds nothing of ours and exits with the node.)
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import multiprocessing
import signal
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections

from node.consensus.params import Params
from node.consensus.pow import check_proof_of_work, derive_target
from node.consensus.primitives import Block, BlockHeader, Tx
from node.consensus.script.script import push_int
from node.mining.blocktools import (
    BLOCK_VERSION,
    build_block,
    create_coinbase,
    with_witness_commitment,
)
from node.worker_processes import default_workers, pipe_ready, shut_down, wait_for_parent

NONCE_SPACE = 1 << 32
HEADER76_SIZE = 76
DEFAULT_CHUNK = 1 << 18  # nonces per job: ~0.2 s of one worker's hashing
CHECK_EVERY = 1 << 14  # a worker looks for cancellation this often (~10 ms)
JOBS_PER_WORKER = 2  # one running, one queued: a worker never idles waiting for its next job
POLL_SECONDS = 0.02  # how often a blocking solve() looks at its cancel event
IDLE_CHECK_SECONDS = 1.0  # how often an idle worker checks that its parent is still alive
LOCK_TIMEOUT = 5.0  # a preempted search releases the pool within ~POLL_SECONDS + CHECK_EVERY
STOP_TIMEOUT = 3.0  # for workers to exit on their own before they are terminated

_NONCE = struct.Struct("<I")


# -- the scan ----------------------------------------------------------------------------------
def _check_args(header76: bytes, start: int, end: int) -> None:
    if len(header76) != HEADER76_SIZE:
        raise ValueError(f"header76 must be {HEADER76_SIZE} bytes, not {len(header76)}")
    if not 0 <= start <= end <= NONCE_SPACE:
        raise ValueError(f"nonce range [{start}, {end}) is not within [0, 2**32)")


def scan(header76: bytes, target: int, start: int, end: int) -> int | None:
    """The first nonce in ``[start, end)`` for which ``header76 + nonce`` (4 bytes, little
    endian) double-SHA-256es to at most ``target``, the hash read as a little-endian number;
    None when there is none in the range. Pure: no I/O, no shared state.
    """
    _check_args(header76, start, end)
    # The midstate: the first 64-byte block is compressed here, once. The 12-byte tail goes in
    # too; SHA-256 only buffers it (no compression until the nonce completes the block), so
    # each copy below carries it for free and the loop need not concatenate tail + nonce
    # (about 5% faster than ``h.update(tail12 + nonce_bytes)``).
    mid = hashlib.sha256(header76[:64])
    mid.update(header76[64:])
    # Local bindings: the loop body then does no global or attribute-chain lookups.
    copy = mid.copy
    sha256 = hashlib.sha256
    pack = _NONCE.pack
    from_bytes = int.from_bytes
    # The digest's last byte is the number's most significant: a hash whose top byte exceeds
    # the target's can be rejected by one index, before any 256-bit integer is built.
    top = target >> 248
    for nonce in range(start, end):
        h = copy()
        h.update(pack(nonce))
        d = sha256(h.digest()).digest()
        if d[31] <= top and from_bytes(d, "little") <= target:
            return nonce
    return None


def _scan_until(header76: bytes, target: int, start: int, end: int,
                stopped: Callable[[], bool]) -> int | None:
    """:func:`scan` in sub-ranges of CHECK_EVERY nonces, giving up (None) once ``stopped()``."""
    for lo in range(start, end, CHECK_EVERY):
        if stopped():
            return None
        nonce = scan(header76, target, lo, min(lo + CHECK_EVERY, end))
        if nonce is not None:
            return nonce
    return None


# -- the worker process ------------------------------------------------------------------------
def _worker_main(conn: Connection, generation) -> None:
    """A worker's life: jobs ``(generation, header76, target, start, end)`` arrive on ``conn``,
    each answered with ``(generation, nonce or None)``; None asks it to exit.

    SIGINT is ignored: the parent decides when workers end (a Ctrl-C at the terminal reaches
    the whole process group). An orphan does not linger: an idle worker checks every
    IDLE_CHECK_SECONDS that its parent is alive (EOF on the pipe also ends it), a busy one
    between sub-ranges, along with the generation.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    ready = pipe_ready(conn)
    try:
        while wait_for_parent(ready, parent, IDLE_CHECK_SECONDS):
            job = conn.recv()
            if job is None:
                return
            job_gen, header76, target, start, end = job
            nonce = _scan_until(header76, target, start, end, lambda g=job_gen: (
                generation.value != g or (parent is not None and not parent.is_alive())))
            conn.send((job_gen, nonce))
    except (EOFError, OSError):
        return  # the parent closed its end or went away


# -- the pool ----------------------------------------------------------------------------------
class PowSearcher:
    """A pool of ``workers`` processes searching nonces; see the module docstring.

    One search runs at a time. A new :meth:`solve` (the miner's reaction to a new tip)
    preempts a running one, which returns None, so stale work is abandoned at once. Blocking
    calls belong in a thread or process of their own; from the event loop use
    :meth:`solve_async`.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else default_workers()
        if self.workers < 1:
            raise ValueError("a PowSearcher needs at least one worker")
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list = []
        self._conns: list[Connection] = []
        self._outstanding: list[int] = []  # jobs sent and not yet answered, per worker
        self._generation = None  # shared with the workers
        self._gen_counter = 0
        self._gen_lock = threading.Lock()  # guards _gen_counter (held only instantly)
        self._search_lock = threading.Lock()  # held by the running search; guards the pipes

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker processes (without waiting for them to finish importing: the
        first search simply finds its jobs queued). Idempotent."""
        if self._procs:
            return
        self._generation = self._ctx.Value("Q", 0, lock=False)
        try:
            for i in range(self.workers):
                parent_end, child_end = self._ctx.Pipe(duplex=True)
                proc = self._ctx.Process(target=_worker_main, args=(child_end, self._generation),
                                         name=f"pow-search-{i}", daemon=True)
                proc.start()
                child_end.close()  # the child holds its own copy; ours would mask its EOF
                self._procs.append(proc)
                self._conns.append(parent_end)
                self._outstanding.append(0)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Abandon any search (it returns None), ask the workers to exit, and terminate those
        that have not within ``timeout``. No process outlives this call. Idempotent."""
        if not self._procs:
            return
        self._new_generation()  # a running solve() notices within POLL_SECONDS
        locked = self._search_lock.acquire(timeout=timeout)
        try:
            shut_down(self._procs, self._conns, lambda conn: conn.send(None), timeout)
        finally:
            self._procs, self._conns, self._outstanding = [], [], []
            if locked:
                self._search_lock.release()

    def __enter__(self) -> PowSearcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._procs)

    @property
    def searching(self) -> bool:
        """Whether a search is in progress."""
        return self._search_lock.locked()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    # -- searching ---------------------------------------------------------------------------
    def _new_generation(self) -> int:
        """Invalidate every job issued so far; return the new generation."""
        with self._gen_lock:
            self._gen_counter += 1
            if self._generation is not None:
                self._generation.value = self._gen_counter
            return self._gen_counter

    def _abandon(self, gen: int) -> None:
        """Stop the workers' jobs of search ``gen``, unless a newer search has already (it
        must not be invalidated in turn)."""
        with self._gen_lock:
            if self._gen_counter == gen:
                self._gen_counter += 1
                if self._generation is not None:
                    self._generation.value = self._gen_counter

    def solve(self, header76: bytes, target: int, cancel: threading.Event | None = None,
              chunk: int = DEFAULT_CHUNK, *, start: int = 0, end: int = NONCE_SPACE) -> int | None:
        """Search ``[start, end)`` (by default the whole nonce space) with every worker, in
        jobs of ``chunk`` nonces; return the first solution reported, or None when the range
        is exhausted, ``cancel`` is set, or a newer search or ``stop()`` preempts this one.

        With one worker the jobs run in order, so the result is the lowest solution; with
        several it is whichever a worker finds first.
        """
        _check_args(header76, start, end)
        if chunk < 1:
            raise ValueError("chunk must be positive")
        if not self._procs:
            raise RuntimeError("PowSearcher is not started")
        gen = self._new_generation()  # preempts the running search, if any
        if not self._search_lock.acquire(timeout=LOCK_TIMEOUT):
            raise TimeoutError("the previous proof-of-work search did not stop")
        try:
            if self._gen_counter != gen or not self._procs:
                return None  # preempted (or stopped) while waiting for the lock
            return self._search(gen, header76, target, cancel, chunk, start, end)
        finally:
            self._search_lock.release()

    def _search(self, gen: int, header76: bytes, target: int, cancel: threading.Event | None,
                chunk: int, start: int, end: int) -> int | None:
        conns, outstanding = self._conns, self._outstanding
        index = {conn: i for i, conn in enumerate(conns)}
        next_lo = start

        def top_up(i: int) -> None:
            nonlocal next_lo
            # Jobs of an abandoned search still queued at this worker count against its
            # allowance; they come back within one CHECK_EVERY sub-range.
            while outstanding[i] < JOBS_PER_WORKER and next_lo < end:
                hi = min(next_lo + chunk, end)
                try:
                    conns[i].send((gen, header76, target, next_lo, hi))
                except OSError as e:
                    raise RuntimeError(f"proof-of-work worker {self._procs[i].pid} "
                                       "exited unexpectedly") from e
                outstanding[i] += 1
                next_lo = hi

        for i in range(len(conns)):
            top_up(i)
        while True:
            if self._gen_counter != gen:
                return None  # preempted by a newer search or stop(), which bumped it
            if cancel is not None and cancel.is_set():
                self._abandon(gen)  # stop the workers' current jobs too
                return None
            busy = [conn for conn, n in zip(conns, outstanding, strict=True) if n]
            if not busy:
                return None  # every nonce in the range was tried
            for conn in wait_connections(busy, timeout=POLL_SECONDS):
                i = index[conn]
                try:
                    job_gen, nonce = conn.recv()
                except (EOFError, OSError) as e:
                    raise RuntimeError(f"proof-of-work worker {self._procs[i].pid} "
                                       "exited unexpectedly") from e
                outstanding[i] -= 1
                if job_gen == gen and nonce is not None:
                    self._abandon(gen)  # the other workers' jobs are now stale
                    return nonce
                top_up(i)

    async def solve_async(self, header76: bytes, target: int,
                          cancel_event: asyncio.Event | None = None,
                          chunk: int = DEFAULT_CHUNK, *, start: int = 0,
                          end: int = NONCE_SPACE) -> int | None:
        """:meth:`solve` for a coroutine. The boundary with the event loop: the blocking
        ``solve`` (which only waits on the workers' pipes; the hashing is in the workers) runs
        in the loop's default executor. Setting ``cancel_event``, or cancelling the awaiting
        task, stops the search within about POLL_SECONDS."""
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        search = loop.run_in_executor(None, functools.partial(
            self.solve, header76, target, stop, chunk, start=start, end=end))
        # If this task is cancelled, nobody awaits the search: keep its outcome from being
        # reported as a never-retrieved exception.
        search.add_done_callback(lambda f: f.cancelled() or f.exception())
        cancelled = asyncio.ensure_future(cancel_event.wait()) if cancel_event else None
        try:
            waiting = {search} if cancelled is None else {search, cancelled}
            while True:
                done, _ = await asyncio.wait(waiting, timeout=1.0,
                                             return_when=asyncio.FIRST_COMPLETED)
                if search in done:
                    nonce = search.result()
                    if cancel_event is not None and cancel_event.is_set():
                        return None  # a solution that raced a cancel is stale
                    return nonce
                if cancelled is not None and cancelled in done:
                    stop.set()
                    # Let the search release the pool before returning (bounded wait).
                    await asyncio.wait({search}, timeout=LOCK_TIMEOUT)
                    return None
        finally:
            stop.set()
            if cancelled is not None:
                cancelled.cancel()


# -- blocks and the extranonce -----------------------------------------------------------------
def make_block_builder(prev_hash: bytes, height: int, coinbase_value: int,
                       script_pubkey: bytes, txs: Sequence[Tx], time: int, bits: int,
                       version: int = BLOCK_VERSION) -> Callable[[int], Block]:
    """A ``block_builder`` for :func:`solve_block`: the block on ``prev_hash`` with ``txs``
    after a coinbase whose scriptSig is ``height`` then the extranonce, as Core's miner lays it
    out (``CScript() << nHeight << CScriptNum(nExtraNonce)``). A new extranonce gives a new
    coinbase txid, merkle root and header, hence a fresh 2**32 nonce space."""
    def build(extranonce: int) -> Block:
        coinbase = create_coinbase(height, coinbase_value, script_pubkey,
                                   extra=push_int(extranonce))
        block_txs = with_witness_commitment([coinbase, *txs])
        return build_block(prev_hash, block_txs, time, bits, version)
    return build


def _extranonces(max_extranonce: int | None) -> Iterable[int]:
    return itertools.count() if max_extranonce is None else range(max_extranonce)


def _target_of(block: Block, params: Params) -> int:
    target = derive_target(block.header.bits, params.pow_limit)
    if target is None:
        raise ValueError(f"bits {block.header.bits:#x} is not a valid target for {params.name}")
    return target


def _solved(block: Block, nonce: int, params: Params) -> Block:
    h = block.header
    header = BlockHeader(h.version, h.prev_hash, h.merkle_root, h.time, h.bits, nonce)
    if not check_proof_of_work(header.hash, h.bits, params):
        raise RuntimeError(f"nonce {nonce} does not solve the block: the search is broken")
    return Block(header, block.txs)


def solve_block(block_builder: Callable[[int], Block], params: Params,
                searcher: PowSearcher | None = None, *,
                cancel: threading.Event | None = None, max_extranonce: int | None = None,
                nonce_end: int = NONCE_SPACE, chunk: int = DEFAULT_CHUNK) -> Block | None:
    """Mine: for extranonce 0, 1, 2, ... build ``block_builder(extranonce)`` and search its
    nonces ``[0, nonce_end)``; return the first solved block (checked with Core's
    CheckProofOfWork), or None when cancelled or after ``max_extranonce`` extranonces.

    With ``searcher`` None the scan runs in the calling thread (tools and tests)."""
    for extranonce in _extranonces(max_extranonce):
        if cancel is not None and cancel.is_set():
            return None
        block = block_builder(extranonce)
        header76 = block.header.serialize()[:HEADER76_SIZE]
        target = _target_of(block, params)
        if searcher is None:
            nonce = _scan_until(header76, target, 0, nonce_end,
                                lambda: cancel is not None and cancel.is_set())
        else:
            nonce = searcher.solve(header76, target, cancel, chunk, end=nonce_end)
        if nonce is not None:
            return _solved(block, nonce, params)
    return None


async def solve_block_async(block_builder: Callable[[int], Block], params: Params,
                            searcher: PowSearcher, *,
                            cancel_event: asyncio.Event | None = None,
                            max_extranonce: int | None = None, nonce_end: int = NONCE_SPACE,
                            chunk: int = DEFAULT_CHUNK) -> Block | None:
    """:func:`solve_block` for the event loop: the same extranonce rolling over
    :meth:`PowSearcher.solve_async`."""
    for extranonce in _extranonces(max_extranonce):
        if cancel_event is not None and cancel_event.is_set():
            return None
        block = block_builder(extranonce)
        nonce = await searcher.solve_async(block.header.serialize()[:HEADER76_SIZE],
                                           _target_of(block, params), cancel_event, chunk,
                                           end=nonce_end)
        if nonce is not None:
            return _solved(block, nonce, params)
    return None
