"""Opening and closing a datadir: the lock first, then the two databases (layout in
:mod:`node.storage`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from .blocks import BlockStore
from .coins import CoinsDB
from .db import Database
from .lock import DatadirLock

BLOCKS_DIR = "blocks"
CHAINSTATE_DIR = "chainstate"

# What to tell the user when a database cannot be opened or is corrupted. The chainstate is
# derived data, rebuilt from the stored blocks; the block store is the source, fetched again
# from peers.
CHAINSTATE_RECOVERY_HINT = "run `minicash-node reindex-chainstate`"
BLOCKS_RECOVERY_HINT = ("delete the datadir's blocks/ and chainstate/ directories and restart "
                        "the node to download the chain again")


def open_datadir(datadir: Path, *, blocks_hint: str = BLOCKS_RECOVERY_HINT,
                 chainstate_hint: str = CHAINSTATE_RECOVERY_HINT,
                 wipe_chainstate: bool = False,
                 ) -> tuple[DatadirLock, BlockStore, CoinsDB]:
    """Lock ``datadir`` (creating it as needed) and open its block store and chainstate.

    Raises :class:`~node.storage.errors.DatadirInUse` if another process has it, and
    :class:`~node.storage.errors.StorageError` if a database cannot be opened; nothing stays
    open or locked after an error. Close with :func:`close_datadir`.
    """
    datadir = Path(datadir)
    lock = DatadirLock(datadir)
    lock.acquire()
    blocks_db: Database | None = None
    try:
        if wipe_chainstate:
            # reindex-chainstate rebuilds it from the block store: removing it (under the
            # lock) also gets past a chainstate too corrupted to open.
            shutil.rmtree(datadir / CHAINSTATE_DIR, ignore_errors=True)
        blocks_db = Database(datadir / BLOCKS_DIR, create=True, recovery_hint=blocks_hint)
        chainstate_db = Database(datadir / CHAINSTATE_DIR, create=True,
                                 recovery_hint=chainstate_hint)
    except BaseException:
        if blocks_db is not None:
            blocks_db.close()
        lock.release()
        raise
    return lock, BlockStore(blocks_db), CoinsDB(chainstate_db)


def close_datadir(lock: DatadirLock, blocks: BlockStore, coins: CoinsDB) -> None:
    """Close both databases, then release the lock (also if closing fails)."""
    try:
        try:
            coins.db.close()
        finally:
            blocks.db.close()
    finally:
        lock.release()
