"""Errors raised by the storage layer.

:class:`StorageError` means the disk let us down or holds something we cannot use (an unopenable
or corrupted database, a datadir locked by another process): the node cannot go on with this
datadir and the message says what to do. :class:`CoinsLogicError` is a caller's bug caught by the
UTXO cache (Core throws ``std::logic_error`` in the same places).
"""

from __future__ import annotations

from node.consensus.errors import MinicashError


class StorageError(MinicashError):
    """A database or datadir that cannot be opened, read or written; the message says why."""


class DatadirInUse(StorageError):
    """Another process holds the datadir's lock. ``pid`` is its process id, if it wrote one."""

    def __init__(self, pid: int | None) -> None:
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(f"datadir is in use by {holder}")
        self.pid = pid


class CoinsLogicError(MinicashError, RuntimeError):
    """The UTXO cache was asked for something that would corrupt it (Core: std::logic_error)."""
