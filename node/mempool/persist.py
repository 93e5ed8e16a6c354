"""Saving the mempool across restarts (Core's mempool.dat): on shutdown the transactions and
their entry times are written; on start they are offered to the pool again, which re-checks
them against the chain as it now is.

Format (little-endian): 4-byte magic ``MCMP``, u32 version 1, CompactSize count, then per
transaction an i64 entry time and the transaction in BIP144 serialization. Written to a
temporary file and renamed over the old one, so a crash never leaves half a file.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from node.consensus.errors import DecodeError
from node.consensus.primitives import Tx
from node.consensus.serialize import ByteReader, compact_size

from .mempool import Mempool

MAGIC = b"MCMP"
VERSION = 1
FILENAME = "mempool.dat"


def save_mempool(mempool: Mempool, path: Path) -> int:
    items = mempool.snapshot()
    parts = [MAGIC, struct.pack("<I", VERSION), compact_size(len(items))]
    for tx, entered in items:
        parts.append(struct.pack("<q", entered))
        parts.append(tx.serialize())
    tmp = path.with_name(path.name + ".new")
    with tmp.open("wb") as f:
        f.write(b"".join(parts))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(items)


def read_mempool_file(path: Path) -> list[tuple[Tx, int]]:
    r = ByteReader(path.read_bytes())
    if r.read(4) != MAGIC:
        raise DecodeError(f"{path} is not a minicash mempool file")
    version = r.u32()
    if version != VERSION:
        raise DecodeError(f"{path}: unknown mempool file version {version}")
    items = []
    for _ in range(r.compact_size()):
        entered = r.i64()
        items.append((Tx.parse(r), entered))
    r.finish()
    return items


def load_mempool(mempool: Mempool, path: Path) -> tuple[int, int]:
    """Offer the saved transactions to ``mempool``: (kept, offered). A missing file is an
    empty pool; a damaged one is reported by DecodeError and loads nothing."""
    if not path.exists():
        return 0, 0
    items = read_mempool_file(path)
    return mempool.load(items), len(items)
