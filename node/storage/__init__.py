"""Persistence under the chain state: LevelDB wrappers, key layouts, the UTXO cache.

Owns the bytes on disk and nothing else: how blocks, undo data, block-index records, markers
and coins are keyed and encoded (coins and undo data in Bitcoin Core's compact formats), the
atomic batches that keep them consistent across a crash, and the datadir lock. It stores what
the chain gives it and enforces no consensus or policy rule; it must not import
``node.chain`` or anything above it, and runs no threads or asyncio.

Datadir layout::

    <datadir>/.lock         flock(2) lock held by the running node; contains its pid
    <datadir>/blocks/       LevelDB: BlockStore (raw blocks, undo data, block index, markers)
    <datadir>/chainstate/   LevelDB: CoinsDB (the UTXO set and its best-block marker)

Key layouts are documented in :mod:`node.storage.blocks` and :mod:`node.storage.coins`.

Crash safety: within one database, writes land in order and a batch lands whole or not at all
(``kill -9`` loses nothing written; a power cut may lose a suffix of what was not ``sync``ed).
Nothing is atomic across the two databases, so the chain writes a block's data, undo data and
index record (``blocks/``) before the coins that depend on them (``chainstate/``, whose
best-block marker moves with the coins in one batch), syncs the block store before each
chainstate flush (a power cut then loses at most blocks the chainstate does not refer to),
and on start replays the blocks after the chainstate's best block.
"""

from __future__ import annotations

from .blocks import BlockStore
from .coins import CoinsCache, CoinsDB, UtxoStats
from .datadir import close_datadir, open_datadir
from .db import Database, WriteBatch
from .errors import CoinsLogicError, DatadirInUse, StorageError
from .lock import DatadirLock

__all__ = [
    "BlockStore",
    "CoinsCache",
    "CoinsDB",
    "CoinsLogicError",
    "Database",
    "DatadirInUse",
    "DatadirLock",
    "StorageError",
    "UtxoStats",
    "WriteBatch",
    "close_datadir",
    "open_datadir",
]
