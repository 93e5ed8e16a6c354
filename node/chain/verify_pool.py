"""Helper processes that verify ECDSA signatures in batches, for :mod:`node.chain.script_check`.

A helper does nothing but ``crypto.verify``: it receives a batch of records
``(pubkey, DER signature, 32-byte digest)`` packed into one byte string, and answers with
the indexes of the records that failed (usually none). Everything that needs the chain, the
transaction or the script interpreter stays with the caller; what crosses the pipe is about
140 bytes per signature.

Balancing the work (Core's CCheckQueue has its master thread join in the same way): the caller
queues up to ``backlog`` batches per helper and keeps the rest itself. When its own work on
the block is done, it verifies what it kept, and then takes back (*steals*) the newest batches
a helper has not started yet: each helper reads a shared *limit* before every batch and
answers "skipped" for batches at or beyond it. So the helpers are busy from the first batch to
the last, and the block ends when the last two batches do, whatever else the machine runs.
A batch may be verified twice when a steal races the helper starting it; both answers are the
same, so that costs only time.

Helpers are started with "spawn", like the miner's (see node.mining.pow_search for why not
fork), import only the crypto backend, ignore SIGINT (the parent decides when they end) and
exit when their pipe closes, so they never outlive a killed node.
"""

from __future__ import annotations

import multiprocessing
import signal
import struct
from array import array
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection

from node.consensus import crypto
from node.worker_processes import pipe_ready, shut_down, wait_for_parent

Record = tuple[bytes, bytes, bytes]  # (pubkey, DER signature without hash type, digest)
Tag = tuple[int, int]  # what the caller calls a record: (tx position, input)

_HEADER = struct.Struct("<BH")  # pubkey length, signature length
_SEQ = struct.Struct("<q")  # a batch's number, before its records
NO_LIMIT = (1 << 63) - 1
SKIPPED = b"\xff"  # a helper's answer for a batch taken back (a failure list is 4n bytes)
STOP_TIMEOUT = 5.0
IDLE_CHECK_SECONDS = 5.0


def encode_records(records: list[Record]) -> bytes:
    parts = []
    pack = _HEADER.pack
    for pubkey, sig, digest in records:
        parts.append(pack(len(pubkey), len(sig)))
        parts.append(pubkey)
        parts.append(sig)
        parts.append(digest)
    return b"".join(parts)


def verify_encoded(data: bytes, verify: Callable[[bytes, bytes, bytes], bool],
                   pos: int = 0) -> bytes:
    """Verify every record of ``data`` from ``pos``; the indexes of those that failed, as
    packed uint32."""
    failed = array("I")
    unpack = _HEADER.unpack_from
    i, end = 0, len(data)
    while pos < end:
        key_len, sig_len = unpack(data, pos)
        pos += 3
        sig_at = pos + key_len
        digest_at = sig_at + sig_len
        if not verify(data[pos:sig_at], data[sig_at:digest_at], data[digest_at:digest_at + 32]):
            failed.append(i)
        pos = digest_at + 32
        i += 1
    return failed.tobytes()


def failed_tags(records: list[Record], tags: list[Tag]) -> list[Tag]:
    """Verify ``records`` here: the tags of those that fail."""
    verify = crypto.get_backend().verify
    return [tag for (pubkey, sig, digest), tag in zip(records, tags, strict=True)
            if not verify(pubkey, sig, digest)]


def _helper_main(conn: Connection, backend: str, limit) -> None:  # noqa: ANN001 (a RawValue)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    verify = crypto.set_backend(backend).verify
    parent = multiprocessing.parent_process()
    seq_of = _SEQ.unpack_from
    ready = pipe_ready(conn)
    try:
        while wait_for_parent(ready, parent, IDLE_CHECK_SECONDS):
            data = conn.recv_bytes()
            if not data:
                return
            if seq_of(data)[0] >= limit.value:
                conn.send_bytes(SKIPPED)  # the caller took it back
            else:
                conn.send_bytes(verify_encoded(data, verify, _SEQ.size))
    except (EOFError, OSError):
        return  # the parent closed its end or went away


class _Batch:
    __slots__ = ("seq", "records", "tags", "stolen")

    def __init__(self, seq: int, records: list[Record], tags: list[Tag]) -> None:
        self.seq = seq
        self.records = records
        self.tags = tags
        self.stolen = False  # taken back and verified by the caller


class VerifyPool:
    """``helpers`` verifying processes; one user at a time (the caller serialises)."""

    def __init__(self, helpers: int, backlog: int = 8) -> None:
        if helpers < 1:
            raise ValueError("a VerifyPool needs at least one helper")
        self.helpers = helpers
        # Batches queued per helper: enough for the caller's longest stretch without a
        # chance to send more (encoding a block's undo data), few enough for the socket's
        # buffer (8 x ~4.5 kB), so a send never blocks.
        self.backlog = backlog
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list = []
        self._conns: list[Connection] = []
        self._ready: list = []  # per helper, pipe_ready of its pipe
        self._limits: list = []  # per helper, the shared RawValue it reads before each batch
        # Per helper, the batches sent and not yet answered, oldest first.
        self._pending: list[deque[_Batch]] = []
        self._seq = 0
        self._failed: list[Tag] = []  # tags of failed records, until collect()
        self._lost: set[int] = set()  # helpers found dead, removed after the current pass
        self.taken_back = 0  # batches the caller verified itself after queueing them

    @property
    def running(self) -> bool:
        return bool(self._procs)

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def start(self) -> None:
        """Start the helpers (without waiting for their imports: batches queue meanwhile,
        and the caller verifies what they cannot take). Idempotent."""
        if self._procs:
            return
        backend = crypto.get_backend().name
        try:
            for i in range(self.helpers):
                parent_end, child_end = self._ctx.Pipe(duplex=True)
                limit = self._ctx.RawValue("q", NO_LIMIT)
                proc = self._ctx.Process(target=_helper_main, args=(child_end, backend, limit),
                                         name=f"verify-{i}", daemon=True)
                proc.start()
                child_end.close()  # the child has its copy; ours would hide its EOF
                self._procs.append(proc)
                self._conns.append(parent_end)
                self._ready.append(pipe_ready(parent_end))
                self._limits.append(limit)
                self._pending.append(deque())
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask the helpers to exit; terminate those that do not within ``timeout``."""
        if not self._procs:
            return
        try:
            shut_down(self._procs, self._conns, lambda conn: conn.send_bytes(b""), timeout)
        finally:
            self._procs, self._conns, self._limits, self._pending = [], [], [], []
            self._ready = []
            self._failed, self._lost = [], set()

    def submit(self, records: list[Record], tags: list[Tag]) -> bool:
        """Queue a batch on the least busy helper; False (nothing sent) if each already has
        ``backlog`` batches outstanding. Answers are read only when the queues look full:
        until then the batches they answer count as outstanding, which only delays reading."""
        if not self._conns:
            return False
        best = self._least_busy()
        if len(self._pending[best]) >= self.backlog:
            self._drain(block=False)
            if not self._conns:
                return False
            best = self._least_busy()
            if len(self._pending[best]) >= self.backlog:
                return False
        self._seq += 1
        batch = _Batch(self._seq, records, tags)
        try:
            self._conns[best].send_bytes(_SEQ.pack(batch.seq) + encode_records(records))
        except OSError:
            self._lose(best)
            self._forget_lost()
            return False
        self._pending[best].append(batch)
        return True

    def _least_busy(self) -> int:
        pending = self._pending
        return min(range(len(pending)), key=lambda i: len(pending[i]))

    def collect(self) -> list[Tag]:
        """Take back the batches no helper has started (all but one per helper) and verify
        them here, newest first, then wait for the rest: the tags of the records that failed
        since the last collect."""
        self._drain(block=False)
        while (batch := self._newest_waiting()) is not None:
            self._failed.extend(failed_tags(batch.records, batch.tags))
            self._drain(block=False)
        return self._finish()

    def cancel(self) -> None:
        """Drop every queued batch (the caller no longer needs the answers): the helpers
        skip those they have not started."""
        for limit, pending in zip(self._limits, self._pending, strict=True):
            limit.value = 0
            for batch in pending:
                batch.stolen = True
        self._finish()

    def _finish(self) -> list[Tag]:
        self._drain(block=True)
        for limit in self._limits:
            limit.value = NO_LIMIT  # nothing is outstanding: no batch can be skipped by mistake
        failed, self._failed = self._failed, []
        return failed

    def _newest_waiting(self) -> _Batch | None:
        """Take back the newest batch of the helper with the most not yet started (its
        oldest is taken as started), or None if no helper has two."""
        best, best_waiting = -1, 1
        for i, pending in enumerate(self._pending):
            waiting = sum(1 for b in pending if not b.stolen)  # stolen ones are a suffix
            if waiting > best_waiting:
                best, best_waiting = i, waiting
        if best < 0:
            return None
        batch = self._pending[best][best_waiting - 1]
        self._limits[best].value = batch.seq  # skip it and everything after it
        batch.stolen = True
        self.taken_back += 1
        return batch

    def _drain(self, block: bool) -> None:
        """Read the answers that are in (all of them with ``block``)."""
        for i, conn in enumerate(self._conns):
            pending, ready = self._pending[i], self._ready[i]
            while pending and (block or ready(0)):
                try:
                    answer = conn.recv_bytes()
                except (EOFError, OSError):
                    self._lose(i)
                    break
                batch = pending.popleft()
                if batch.stolen:
                    continue  # verified here already, whatever the helper did
                if answer == SKIPPED:  # not asked for; verify it here rather than trust it
                    self._failed.extend(failed_tags(batch.records, batch.tags))
                    continue
                tags = batch.tags
                self._failed.extend(tags[j] for j in array("I", answer))
        self._forget_lost()

    def _lose(self, i: int) -> None:
        """Helper ``i`` died: verify its outstanding batches here; it is dropped after."""
        for batch in self._pending[i]:
            if not batch.stolen:
                self._failed.extend(failed_tags(batch.records, batch.tags))
        self._pending[i].clear()
        self._lost.add(i)

    def _forget_lost(self) -> None:
        if not self._lost:
            return
        for i in sorted(self._lost, reverse=True):
            proc, conn = self._procs.pop(i), self._conns.pop(i)
            self._pending.pop(i)
            self._limits.pop(i)
            self._ready.pop(i)
            conn.close()
            proc.join(0)
        self._lost.clear()
