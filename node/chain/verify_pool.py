"""Helper processes that verify ECDSA signatures in batches, for :mod:`node.chain.script_check`.

A helper does nothing but ``crypto.verify``: it receives batches of records
``(pubkey, DER signature, 32-byte digest)``, each batch packed into one byte string, and at
the end of a session reports which records failed (usually none). Everything that needs the
chain, the transaction or the script interpreter stays with the caller; what crosses the pipe
is about 140 bytes per signature.

Each helper numbers the records it is sent, one count for the helper's life, and shares two
numbers with the caller (a small shared array): the *limit*, below which it may verify, and
the record it has *started*. Before each record it reads the limit and publishes the number.

Balancing the work (Core's CCheckQueue has its master thread join in the same way): the caller
queues up to ``backlog`` records per helper and keeps the rest itself. When its own work on the
block is done, it verifies what it kept, and then takes back (*steals*) from the end of each
helper's queue the records not started yet, a few at a time, by lowering the limit. So the
helpers are busy from the first record to the last, and the block ends within about one
signature of the helpers, whatever else the machine runs. A record may be verified twice when a
steal races the helper starting it; both verdicts are the same, so that costs only time.

No answer crosses the pipe during a session: the caller learns how far a helper has got from
the shared numbers, and asks for the failures once, at the end (a message with no records),
sending that request before it steals, so the report is usually waiting when it is read. A
block of 2,000 signatures used to cost ~63 answers read and ~180 polls of the pipes.

Helpers are started with "spawn", like the miner's (see node.mining.pow_search for why not
fork), import only the crypto backend, ignore SIGINT (the parent decides when they end) and
exit when their pipe closes, so they never outlive a killed node.
"""

from __future__ import annotations

import multiprocessing
import signal
import struct
from array import array
from collections.abc import Callable, Iterator, MutableSequence
from contextlib import contextmanager
from multiprocessing.connection import Connection

from node.consensus import crypto
from node.worker_processes import pipe_ready, shut_down, wait_for_parent

Record = tuple[bytes, bytes, bytes]  # (pubkey, DER signature without hash type, digest)
Tag = tuple[int, int]  # what the caller calls a record: (tx position, input)

_HEADER = struct.Struct("<BH")  # pubkey length, signature length
# A batch starts with its first record's number; a message of only a number ends a session.
_NUMBER = struct.Struct("<q")
NO_LIMIT = (1 << 63) - 1
LIMIT, STARTED = 0, 1  # the shared array: verify below LIMIT; STARTED is the latest record begun
STEAL_RECORDS = 8  # most records the caller takes back at once: ~0.4 ms of verifying
STOP_TIMEOUT = 5.0
IDLE_CHECK_SECONDS = 5.0


def encode_batch(first: int, records: list[Record]) -> bytes:
    """A batch as a helper reads it: ``records`` numbered from ``first``."""
    parts = [_NUMBER.pack(first)]
    pack = _HEADER.pack
    for pubkey, sig, digest in records:
        parts.append(pack(len(pubkey), len(sig)))
        parts.append(pubkey)
        parts.append(sig)
        parts.append(digest)
    return b"".join(parts)


def verify_batch(data: bytes, verify: Callable[[bytes, bytes, bytes], bool],
                 shared: MutableSequence[int], failed: array) -> int:
    """Verify the records of batch ``data`` in order while their numbers are below
    ``shared[LIMIT]``, setting ``shared[STARTED]`` to each one's number before it; the numbers
    of those that fail are appended to ``failed``. Returns the number of the first record
    left unverified, or NO_LIMIT if none was."""
    number = _NUMBER.unpack_from(data)[0]
    unpack = _HEADER.unpack_from
    pos, end = _NUMBER.size, len(data)
    while pos < end:
        if number >= shared[LIMIT]:  # the caller took it back, and so the rest
            return number
        shared[STARTED] = number
        key_len, sig_len = unpack(data, pos)
        pos += 3
        sig_at = pos + key_len
        digest_at = sig_at + sig_len
        if not verify(data[pos:sig_at], data[sig_at:digest_at], data[digest_at:digest_at + 32]):
            failed.append(number)
        pos = digest_at + 32
        number += 1
    return NO_LIMIT


def failed_tags(records: list[Record], tags: list[Tag]) -> list[Tag]:
    """Verify ``records`` here: the tags of those that fail."""
    verify = crypto.get_backend().verify
    return [tag for (pubkey, sig, digest), tag in zip(records, tags, strict=True)
            if not verify(pubkey, sig, digest)]


def _helper_main(conn: Connection, backend: str, shared) -> None:  # noqa: ANN001 (a RawArray)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    verify = crypto.set_backend(backend).verify
    parent = multiprocessing.parent_process()
    ready = pipe_ready(conn)
    failed = array("q")
    unverified = NO_LIMIT  # the lowest record number skipped this session
    try:
        while wait_for_parent(ready, parent, IDLE_CHECK_SECONDS):
            data = conn.recv_bytes()
            if not data:
                return
            if len(data) == _NUMBER.size:  # the session's end: report
                conn.send_bytes(_NUMBER.pack(unverified) + failed.tobytes())
                failed, unverified = array("q"), NO_LIMIT
            else:
                unverified = min(unverified, verify_batch(data, verify, shared, failed))
    except (EOFError, OSError):
        return  # the parent closed its end or went away


class _Batch:
    __slots__ = ("first", "records", "tags")

    def __init__(self, first: int, records: list[Record] | None, tags: list[Tag]) -> None:
        self.first = first  # the number of its first record
        # None once the helper is past them; until then kept to take back, or to verify here
        # if the helper dies
        self.records = records
        self.tags = tags


class _Helper:
    """The caller's side of one helper process, and of its current session."""

    __slots__ = ("proc", "conn", "shared", "sent", "first", "limit", "batches", "done",
                 "dead")

    def __init__(self, proc, conn: Connection, shared) -> None:  # noqa: ANN001
        self.proc = proc
        self.conn = conn
        self.shared = shared
        self.sent = 0  # number of the next record to send
        self.first = 0  # number of the session's first record
        self.limit = NO_LIMIT  # what the caller last wrote to shared[LIMIT]
        self.batches: list[_Batch] = []  # this session's, in order
        self.done = 0  # the helper is past the batches before this index: records dropped
        self.dead = False  # found gone: its session is verified by the caller

    def next_unstarted(self) -> int:
        return max(self.shared[STARTED] + 1, self.first)

    @property
    def end(self) -> int:
        """The number after the last record the helper may verify: the caller has the rest."""
        return min(self.limit, self.sent)

    def queued(self) -> int:
        """Records sent below the limit and not started."""
        return self.end - self.next_unstarted()

    def drop_started(self) -> None:
        """Free the records of the batches the helper is past (it never needs them back, and
        neither does the caller: a failure is reported by number, mapped by the tags)."""
        batches, started = self.batches, self.shared[STARTED]
        i = self.done
        while i < len(batches) and batches[i].first + len(batches[i].tags) <= started:
            batches[i].records = None
            i += 1
        self.done = i

    def records_between(self, start: int, end: int) -> tuple[list[Record], list[Tag], list[Tag]]:
        """The records numbered ``start`` to ``end`` (excluded) of this session, with their
        tags, and the tags of those among them already dropped."""
        records: list[Record] = []
        tags: list[Tag] = []
        dropped: list[Tag] = []
        for batch in reversed(self.batches):
            lo = max(start - batch.first, 0)
            hi = min(end - batch.first, len(batch.tags))
            if lo < hi:
                if batch.records is None:
                    dropped.extend(batch.tags[lo:hi])
                else:
                    records.extend(batch.records[lo:hi])
                    tags.extend(batch.tags[lo:hi])
            if batch.first <= start:
                break
        return records, tags, dropped

    def tag_of(self, number: int) -> Tag:
        for batch in reversed(self.batches):
            if batch.first <= number:
                return batch.tags[number - batch.first]
        raise ValueError(f"record {number} is not in this session")

    def new_session(self) -> None:
        self.first = self.sent
        self.batches, self.done = [], 0
        self.limit = self.shared[LIMIT] = NO_LIMIT


class VerifyPool:
    """``helpers`` verifying processes; one user at a time (the caller serialises)."""

    def __init__(self, helpers: int, backlog: int = 256) -> None:
        if helpers < 1:
            raise ValueError("a VerifyPool needs at least one helper")
        self.helpers = helpers
        # Records queued per helper: enough for the caller's longest stretch without a chance
        # to send more (encoding a block's undo data; ~14 ms), few enough for the socket's
        # buffer (~36 kB), so a send never blocks.
        self.backlog = backlog
        self._ctx = multiprocessing.get_context("spawn")
        self._helpers: list[_Helper] = []
        self.taken_back = 0  # records the caller verified itself after queueing them

    @property
    def running(self) -> bool:
        return bool(self._helpers)

    def pids(self) -> list[int]:
        return [h.proc.pid for h in self._helpers]

    def start(self) -> None:
        """Start the helpers (without waiting for their imports: batches queue meanwhile,
        and the caller verifies what they cannot take). Idempotent."""
        if self._helpers:
            return
        backend = crypto.get_backend().name
        try:
            for i in range(self.helpers):
                parent_end, child_end = self._ctx.Pipe(duplex=True)
                shared = self._ctx.RawArray("q", [NO_LIMIT, -1])
                proc = self._ctx.Process(target=_helper_main, args=(child_end, backend, shared),
                                         name=f"verify-{i}", daemon=True)
                proc.start()
                child_end.close()  # the child has its copy; ours would hide its EOF
                self._helpers.append(_Helper(proc, parent_end, shared))
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask the helpers to exit; terminate those that do not within ``timeout``."""
        if not self._helpers:
            return
        helpers, self._helpers = self._helpers, []
        shut_down([h.proc for h in helpers], [h.conn for h in helpers],
                  lambda conn: conn.send_bytes(b""), timeout)

    def submit(self, records: list[Record], tags: list[Tag]) -> bool:
        """Queue a batch on the least busy helper; False (nothing sent) if each already has
        ``backlog`` records waiting. A batch has records, one tag each: an empty one would
        read as the session's end to the helper (a message of a number alone)."""
        if not records or len(records) != len(tags):
            raise ValueError(f"a batch needs records, one tag each ({len(records)} records, "
                             f"{len(tags)} tags)")
        best, queued = None, self.backlog
        for helper in self._helpers:
            if not helper.dead and (waiting := helper.queued()) < queued:
                best, queued = helper, waiting
        if best is None:
            return False
        try:
            best.conn.send_bytes(encode_batch(best.sent, records))
        except OSError:
            best.dead = True
            return False
        best.batches.append(_Batch(best.sent, records, tags))
        best.sent += len(records)
        best.drop_started()
        return True

    def collect(self) -> list[Tag]:
        """Take back the records no helper has started and verify them here, newest first,
        then wait for the helpers: the tags of the records that failed since the last
        collect, and of any whose verdict was lost with a helper that died (the caller checks
        each again with its script)."""
        with self._stopped_if_interrupted():
            self._end_sessions()
            failed: list[Tag] = []
            while (helper := self._most_queued()) is not None:
                end = helper.end
                start = end - min(STEAL_RECORDS, (end - helper.next_unstarted() + 1) // 2)
                helper.limit = helper.shared[LIMIT] = start  # skip it and everything after it
                records, tags, _ = helper.records_between(start, end)  # not started: all there
                self.taken_back += len(records)
                failed.extend(failed_tags(records, tags))
            for helper in self._helpers:
                failed.extend(self._report(helper))
            self._forget_dead()
            return failed

    def cancel(self) -> None:
        """Drop every queued record (the caller no longer needs the verdicts): the helpers
        skip those they have not started."""
        with self._stopped_if_interrupted():
            for helper in self._helpers:
                helper.limit = helper.shared[LIMIT] = 0
            self._end_sessions()
            for helper in self._helpers:
                self._report(helper)
            self._forget_dead()

    @contextmanager
    def _stopped_if_interrupted(self) -> Iterator[None]:
        """A session ended half-way (an exception, Ctrl-C) may leave a report unread in a
        pipe, which the next session would take for its own: stop the helpers instead (the
        next session starts new ones)."""
        try:
            yield
        except BaseException:
            self.stop()
            raise

    def _end_sessions(self) -> None:
        for helper in self._helpers:
            if not helper.dead and helper.sent > helper.first:
                try:
                    helper.conn.send_bytes(_NUMBER.pack(helper.sent))
                except OSError:
                    helper.dead = True

    def _most_queued(self) -> _Helper | None:
        """The live helper with the most records not started below its limit, or None."""
        best, most = None, 0
        for helper in self._helpers:
            if not helper.dead and (waiting := helper.queued()) > most:
                best, most = helper, waiting
        return best

    def _report(self, helper: _Helper) -> list[Tag]:
        """Read ``helper``'s report of its session, verify here what it left below the limit
        (nothing, unless it died), and start a new session: the failed records' tags."""
        if helper.sent == helper.first:
            helper.new_session()
            return []
        verified_to, numbers = helper.first, array("q")
        if not helper.dead:
            try:
                answer = helper.conn.recv_bytes()
                verified_to = _NUMBER.unpack_from(answer)[0]
                numbers.frombytes(answer[_NUMBER.size:])
            except (EOFError, OSError, struct.error, ValueError):
                helper.dead = True
                verified_to, numbers = helper.first, array("q")
        end = helper.end
        failed = [helper.tag_of(n) for n in numbers]
        if verified_to < end:
            # Not verified: the helper died (its verdicts are lost), or skipped records it was
            # not asked to. Verify them here rather than trust the gap; those whose records
            # were dropped are named for the caller to check again with their scripts.
            records, tags, dropped = helper.records_between(verified_to, end)
            failed.extend(failed_tags(records, tags))
            failed.extend(dropped)
        helper.new_session()
        return failed

    def _forget_dead(self) -> None:
        for helper in [h for h in self._helpers if h.dead]:
            self._helpers.remove(helper)
            helper.conn.close()
            helper.proc.join(0)
