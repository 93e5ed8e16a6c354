"""Block data, undo data, block-index records and named markers, in one LevelDB.

Key layout (values are opaque to this module: the chain defines index records and markers):

- ``b"b" + block hash`` -> block-index record
- ``b"d" + block hash`` -> raw serialized block (with witnesses)
- ``b"u" + block hash`` -> undo data (:func:`~node.storage.codec.encode_block_undo`)
- ``b"m" + name (UTF-8)`` -> marker (e.g. the chain's tip)

Everything that must change together goes through one :meth:`BlockStore.batch`: every writer
takes an optional ``batch``, and writes directly (not synced) without one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager

from .db import Database, WriteBatch

INDEX_PREFIX = b"b"
BLOCK_PREFIX = b"d"
UNDO_PREFIX = b"u"
MARKER_PREFIX = b"m"


class BlockStore:
    """Raw blocks, their undo data, the block index and markers (the ``blocks/`` database)."""

    __slots__ = ("db",)

    def __init__(self, db: Database) -> None:
        self.db = db

    def _put(self, key: bytes, value: bytes, batch: WriteBatch | None) -> None:
        if batch is None:
            self.db.put(key, value)
        else:
            batch.put(key, value)

    def _delete(self, key: bytes, batch: WriteBatch | None) -> None:
        if batch is None:
            self.db.delete(key)
        else:
            batch.delete(key)

    # -- blocks and undo data --------------------------------------------------------------------
    def put_block(self, block_hash: bytes, raw: bytes, batch: WriteBatch | None = None) -> None:
        self._put(BLOCK_PREFIX + block_hash, raw, batch)

    def get_block(self, block_hash: bytes) -> bytes | None:
        return self.db.get(BLOCK_PREFIX + block_hash)

    def has_block(self, block_hash: bytes) -> bool:
        return self.db.get(BLOCK_PREFIX + block_hash) is not None

    def delete_block(self, block_hash: bytes, batch: WriteBatch | None = None) -> None:
        self._delete(BLOCK_PREFIX + block_hash, batch)

    def put_undo(self, block_hash: bytes, raw: bytes, batch: WriteBatch | None = None) -> None:
        self._put(UNDO_PREFIX + block_hash, raw, batch)

    def get_undo(self, block_hash: bytes) -> bytes | None:
        return self.db.get(UNDO_PREFIX + block_hash)

    def delete_undo(self, block_hash: bytes, batch: WriteBatch | None = None) -> None:
        self._delete(UNDO_PREFIX + block_hash, batch)

    # -- block index -----------------------------------------------------------------------------
    def put_index_records(self, records: Mapping[bytes, bytes],
                          batch: WriteBatch | None = None) -> None:
        """Store block-index records (block hash -> record), all in one batch."""
        if batch is None:
            with self.db.batch() as own:
                self.put_index_records(records, own)
            return
        put = batch.put
        for block_hash, record in records.items():
            put(INDEX_PREFIX + block_hash, record)

    def iter_index_records(self) -> Iterator[tuple[bytes, bytes]]:
        """(block hash, record) for every index record, in hash order."""
        for key, value in self.db.iterate(INDEX_PREFIX):
            yield key[1:], value

    # -- markers ---------------------------------------------------------------------------------
    def get_marker(self, name: str) -> bytes | None:
        return self.db.get(MARKER_PREFIX + name.encode())

    def set_marker(self, name: str, value: bytes, batch: WriteBatch | None = None) -> None:
        self._put(MARKER_PREFIX + name.encode(), value, batch)

    def delete_marker(self, name: str, batch: WriteBatch | None = None) -> None:
        self._delete(MARKER_PREFIX + name.encode(), batch)

    # -- atomic groups ---------------------------------------------------------------------------
    def batch(self, sync: bool = False) -> AbstractContextManager[WriteBatch]:
        """A batch applied atomically when the ``with`` block ends (discarded if it raises)."""
        return self.db.batch(sync)

    def new_batch(self) -> WriteBatch:
        return self.db.new_batch()

    def write(self, batch: WriteBatch, sync: bool = False) -> None:
        self.db.write(batch, sync)

    def sync(self) -> None:
        """Make everything written so far durable (before a chainstate flush that refers to
        it)."""
        self.db.sync()
