"""A thin wrapper over one LevelDB (plyvel): bytes in, bytes out, and plyvel's errors translated.

Nothing of plyvel escapes this module: every ``plyvel.Error`` (``IOError``,
``CorruptionError``, ...) and plyvel's "database is closed" ``RuntimeError`` becomes a
:class:`StorageError` whose message names the database and, for a database that cannot be opened
or is corrupted, the recovery command the owner passed in.

Atomicity is LevelDB's: a :class:`WriteBatch` is applied entirely or not at all, also across a
crash. A write without ``sync`` survives a process crash (``kill -9``: the data is in the OS's
buffers) but may be lost, always as a suffix of the write log, in an OS crash or power cut; a
``sync`` write also makes everything written before it durable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import plyvel

from .errors import StorageError

# What plyvel raises: its own error classes, and RuntimeError on a closed database or iterator.
_PLYVEL_ERRORS = (plyvel.Error, RuntimeError)


def _reason(exc: BaseException) -> str:
    """plyvel's message (LevelDB's status string, as bytes) as readable text."""
    arg = exc.args[0] if exc.args else exc
    if isinstance(arg, bytes):
        return arg.decode("utf-8", "replace")
    return str(arg)


class WriteBatch:
    """Puts and deletes applied atomically by :meth:`Database.write` (nothing happens before)."""

    __slots__ = ("_wb", "put", "delete")

    def __init__(self, wb: plyvel._plyvel.WriteBatch) -> None:
        self._wb = wb
        # Bound methods of the native batch: no wrapper call per put on the hot path.
        self.put = wb.put
        self.delete = wb.delete

    def clear(self) -> None:
        self._wb.clear()

    def approximate_size(self) -> int:
        """Bytes the batch occupies (LevelDB's ApproximateSize)."""
        return self._wb.approximate_size()


class Database:
    """One LevelDB directory.

    ``recovery_hint`` completes the sentence "to recover, ..." in the message of a
    :class:`StorageError` for a database that cannot be opened or turns out corrupted, e.g.
    ``"run `minicash-node reindex-chainstate`"``.
    """

    __slots__ = ("path", "recovery_hint", "_db")

    def __init__(self, path: Path, create: bool = True, recovery_hint: str = "", *,
                 cache_size: int = 8 << 20, write_buffer_size: int = 4 << 20) -> None:
        self.path = Path(path)
        self.recovery_hint = recovery_hint
        try:  # LevelDB creates the directory even when it then refuses to create a database
            existed = (self.path / "CURRENT").exists()
        except OSError:
            existed = True
        try:
            # As Core's dbwrapper: a bloom filter per table, so a read looks into the one
            # table holding its key rather than into every level-0 table, and no compression
            # (txids and keys do not compress; snappy only costs a copy per block read).
            self._db = plyvel.DB(str(self.path), create_if_missing=create,
                                 paranoid_checks=True, lru_cache_size=cache_size,
                                 write_buffer_size=write_buffer_size,
                                 bloom_filter_bits=10, compression=None)
        except plyvel.CorruptionError as exc:
            raise StorageError(self._with_hint(
                f"the database at {self.path} is corrupted ({_reason(exc)})")) from None
        except plyvel.Error as exc:
            if not create and not existed:
                msg = f"there is no database at {self.path}"
            else:
                msg = f"cannot open the database at {self.path} ({_reason(exc)})"
            raise StorageError(self._with_hint(msg)) from None

    # -- errors ----------------------------------------------------------------------------------
    def _with_hint(self, msg: str) -> str:
        return f"{msg}; to recover, {self.recovery_hint}" if self.recovery_hint else msg

    def corrupted(self, what: str) -> StorageError:
        """The error for stored data its owner cannot make sense of: ``what`` says which."""
        return StorageError(self._with_hint(f"the database at {self.path} is corrupted: {what}"))

    def _error(self, exc: BaseException, doing: str) -> StorageError:
        if isinstance(exc, plyvel.CorruptionError):
            return StorageError(self._with_hint(
                f"the database at {self.path} is corrupted ({_reason(exc)})"))
        if isinstance(exc, RuntimeError):
            return StorageError(f"the database at {self.path} is closed ({doing})")
        return StorageError(f"cannot {doing} the database at {self.path} ({_reason(exc)})")

    # -- single keys -----------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        try:
            return self._db.get(key, verify_checksums=True)
        except _PLYVEL_ERRORS as exc:
            raise self._error(exc, "read from") from None

    def put(self, key: bytes, value: bytes, sync: bool = False) -> None:
        try:
            self._db.put(key, value, sync=sync)
        except _PLYVEL_ERRORS as exc:
            raise self._error(exc, "write to") from None

    def delete(self, key: bytes, sync: bool = False) -> None:
        try:
            self._db.delete(key, sync=sync)
        except _PLYVEL_ERRORS as exc:
            raise self._error(exc, "write to") from None

    # -- ranges ----------------------------------------------------------------------------------
    def iterate(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for every key starting with ``prefix``, in key order."""
        return self._iterate(self._db, prefix)

    def _iterate(self, source: plyvel.DB | plyvel._plyvel.Snapshot,
                 prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        try:
            with source.iterator(prefix=prefix or None, verify_checksums=True) as it:
                yield from it
        except _PLYVEL_ERRORS as exc:
            raise self._error(exc, "read from") from None

    def snapshot(self) -> Snapshot:
        """A consistent read-only view as of now; close it (or use ``with``) when done."""
        try:
            return Snapshot(self, self._db.snapshot())
        except _PLYVEL_ERRORS as exc:
            raise self._error(exc, "read from") from None

    # -- batches ---------------------------------------------------------------------------------
    def new_batch(self) -> WriteBatch:
        try:
            return WriteBatch(self._db.write_batch())
        except _PLYVEL_ERRORS as exc:
            raise self._error(exc, "write to") from None

    def write(self, batch: WriteBatch, sync: bool = False) -> None:
        """Apply ``batch`` atomically; with ``sync``, only return once it is on disk."""
        try:
            if sync:
                durable = self._db.write_batch(sync=True)
                durable.append(batch._wb)
                durable.write()
            else:
                batch._wb.write()
        except _PLYVEL_ERRORS as exc:
            raise self._error(exc, "write to") from None

    def sync(self) -> None:
        """Make every write so far durable: a synced write persists the ones before it too
        (LevelDB's documented contract for mixing synced and unsynced writes)."""
        self.write(self.new_batch(), sync=True)

    @contextmanager
    def batch(self, sync: bool = False) -> Iterator[WriteBatch]:
        """A batch written atomically when the block ends, and discarded if it raises."""
        wb = self.new_batch()
        yield wb
        self.write(wb, sync)

    # -- lifetime --------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._db.closed

    def close(self) -> None:
        """Close the database (idempotent). Data written without ``sync`` is kept."""
        try:
            self._db.close()
        except _PLYVEL_ERRORS as exc:
            raise self._error(exc, "close") from None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"


class Snapshot:
    """A point-in-time view of a :class:`Database` (LevelDB snapshot): reads only."""

    __slots__ = ("_owner", "_snap")

    def __init__(self, owner: Database, snap: plyvel._plyvel.Snapshot) -> None:
        self._owner = owner
        self._snap = snap

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._snap.get(key, verify_checksums=True)
        except _PLYVEL_ERRORS as exc:
            raise self._owner._error(exc, "read from") from None

    def iterate(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        return self._owner._iterate(self._snap, prefix)

    def close(self) -> None:
        try:
            self._snap.close()
        except _PLYVEL_ERRORS:
            pass  # releasing a snapshot of a closed database: nothing left to release

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
