"""Helper processes that verify ECDSA signatures in batches, for :mod:`node.chain.script_check`.

A helper does nothing but ``crypto.verify``: it receives a batch of records
``(pubkey, DER signature, 32-byte digest)`` packed into one byte string, and answers with
the indexes of the records that failed (usually none). Everything that needs the chain, the
transaction or the script interpreter stays with the caller; what crosses the pipe is about
140 bytes per signature.

The caller keeps at most ``backlog`` batches outstanding per helper. :meth:`VerifyPool.submit`
refuses a batch when every helper is that far behind, and the caller then verifies a few
records itself: so the work balances between the helpers and the caller, whatever else the
machine is doing.

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
from node.worker_processes import shut_down, wait_for_parent

Record = tuple[bytes, bytes, bytes]  # (pubkey, DER signature without hash type, digest)
Tag = tuple[int, int]  # what the caller calls a record: (tx position, input)

_HEADER = struct.Struct("<BH")  # pubkey length, signature length
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


def verify_encoded(data: bytes, verify: Callable[[bytes, bytes, bytes], bool]) -> bytes:
    """Verify every record of ``data``; the indexes of those that failed, as packed uint32."""
    failed = array("I")
    unpack = _HEADER.unpack_from
    pos, i, end = 0, 0, len(data)
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


def _helper_main(conn: Connection, backend: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    verify = crypto.set_backend(backend).verify
    parent = multiprocessing.parent_process()
    try:
        while wait_for_parent(conn, parent, IDLE_CHECK_SECONDS):
            data = conn.recv_bytes()
            if not data:
                return
            conn.send_bytes(verify_encoded(data, verify))
    except (EOFError, OSError):
        return  # the parent closed its end or went away


class VerifyPool:
    """``helpers`` verifying processes; one user at a time (the caller serialises)."""

    def __init__(self, helpers: int, backlog: int = 2) -> None:
        if helpers < 1:
            raise ValueError("a VerifyPool needs at least one helper")
        self.helpers = helpers
        self.backlog = backlog
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list = []
        self._conns: list[Connection] = []
        # Per helper, the batches sent and not yet answered, oldest first.
        self._pending: list[deque[tuple[list[Record], list[Tag]]]] = []
        self._failed: list[Tag] = []  # tags of failed records, until collect()
        self._lost: set[int] = set()  # helpers found dead, removed after the current pass

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
                proc = self._ctx.Process(target=_helper_main, args=(child_end, backend),
                                         name=f"verify-{i}", daemon=True)
                proc.start()
                child_end.close()  # the child has its copy; ours would hide its EOF
                self._procs.append(proc)
                self._conns.append(parent_end)
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
            self._procs, self._conns, self._pending = [], [], []
            self._failed, self._lost = [], set()

    def submit(self, records: list[Record], tags: list[Tag]) -> bool:
        """Send a batch to the least busy helper; False (nothing sent) if each already has
        ``backlog`` batches outstanding."""
        self._drain(block=False)
        if not self._conns:
            return False
        best = min(range(len(self._conns)), key=lambda i: len(self._pending[i]))
        if len(self._pending[best]) >= self.backlog:
            return False
        try:
            self._conns[best].send_bytes(encode_records(records))
        except OSError:
            self._lose(best)
            self._forget_lost()
            return False
        self._pending[best].append((records, tags))
        return True

    def collect(self) -> list[Tag]:
        """Wait for every outstanding batch: the tags of the records that failed since the
        last collect."""
        self._drain(block=True)
        failed, self._failed = self._failed, []
        return failed

    def _drain(self, block: bool) -> None:
        """Read the answers that are in (all of them with ``block``)."""
        for i, conn in enumerate(self._conns):
            pending = self._pending[i]
            while pending and (block or conn.poll()):
                try:
                    answer = conn.recv_bytes()
                except (EOFError, OSError):
                    self._lose(i)
                    break
                _, tags = pending.popleft()
                self._failed.extend(tags[j] for j in array("I", answer))
        self._forget_lost()

    def _lose(self, i: int) -> None:
        """Helper ``i`` died: verify its outstanding batches here; it is dropped after."""
        for records, tags in self._pending[i]:
            self._failed.extend(failed_tags(records, tags))
        self._pending[i].clear()
        self._lost.add(i)

    def _forget_lost(self) -> None:
        for i in sorted(self._lost, reverse=True):
            proc, conn = self._procs.pop(i), self._conns.pop(i)
            self._pending.pop(i)
            conn.close()
            proc.join(0)
        self._lost.clear()
