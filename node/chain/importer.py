"""Importing blocks from Bitcoin Core's block files (blk*.dat): a record is the network magic,
a 4-byte little-endian length, then the block (Core's LoadExternalBlockFile).

Blocks may come in any order: one whose parent is unknown is remembered by file position and
imported when the parent arrives. Blocks already stored are skipped after reading their header
only, so an interrupted import resumes where it stopped. Invalid blocks are reported with their
reject reason and the import goes on.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from node.consensus.errors import DecodeError, ValidationError
from node.consensus.primitives import BlockHeader
from node.consensus.serialize import ByteReader

from .chainstate import ChainState
from .index import HAVE_DATA

MAX_BLOCK_RECORD = 4_000_000 + 1_000  # a serialized block cannot be larger (plus slack)


@dataclass
class ImportStats:
    imported: int = 0
    skipped: int = 0  # already stored
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (block hash, reason)
    unconnected: int = 0  # blocks whose parent never appeared
    bytes_read: int = 0
    stopped: bool = False  # asked to stop before the files' end


@dataclass(frozen=True, slots=True)
class _Position:
    path: Path
    offset: int
    size: int


def scan_block_records(data: bytes | mmap.mmap, magic: bytes) -> Iterator[tuple[int, int]]:
    """Yield (offset, size) of every block record in ``data``. Bytes that are not a record
    (Core pre-allocates files with zeros) are skipped by searching for the next magic."""
    pos = 0
    end = len(data)
    while True:
        pos = data.find(magic, pos)
        if pos < 0 or pos + 8 > end:
            return
        (size,) = struct.unpack_from("<I", data, pos + 4)
        start = pos + 8
        if size < 80 or size > MAX_BLOCK_RECORD or start + size > end:
            pos += 1  # a false match of the magic bytes: keep searching
            continue
        yield start, size
        pos = start + size


def import_files(chain: ChainState, paths: list[Path],
                 progress: Callable[[ImportStats], None] | None = None,
                 stop_requested: Callable[[], bool] = lambda: False) -> ImportStats:
    """Import every block record of ``paths``. ``stop_requested`` is asked between blocks
    (a Ctrl-C, as Core's shutdown request: the block at hand is finished, never cut short);
    the stats then say ``stopped``."""
    stats = ImportStats()
    waiting: dict[bytes, list[_Position]] = {}  # parent hash -> blocks that need it
    for path in paths:
        with path.open("rb") as f:
            if path.stat().st_size == 0:
                continue
            # A memory map keeps memory flat however large the file (Core's are 128 MiB).
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                for offset, size in scan_block_records(data, chain.params.magic):
                    stats.bytes_read += size + 8
                    _import_one(chain, _Position(path, offset, size),
                                data[offset:offset + size], waiting, stats, stop_requested)
                    if progress is not None:
                        progress(stats)
                    if stats.stopped:
                        return stats
    stats.unconnected = sum(len(v) for v in waiting.values())
    return stats


def _import_one(chain: ChainState, position: _Position, raw: bytes,
                waiting: dict[bytes, list[_Position]], stats: ImportStats,
                stop_requested: Callable[[], bool]) -> None:
    """Import one block record, then the waiting blocks it is the ancestor of (a block
    early in a shuffled file may bring in thousands: the stop request is asked between)."""
    queue = [(position, raw)]
    while queue:
        if stop_requested():
            stats.stopped = True
            return
        pos, raw = queue.pop()
        try:
            header = BlockHeader.parse(ByteReader(raw[:80]))
        except DecodeError as e:
            stats.invalid.append(("?", f"undecodable header: {e}"))
            continue
        known = chain.index.get(header.hash)
        if known is not None and known.status & HAVE_DATA:
            stats.skipped += 1
        elif header.prev_hash not in chain.index:
            waiting.setdefault(header.prev_hash, []).append(pos)
            continue
        else:
            try:
                chain.process_raw_block(raw)
                stats.imported += 1
            except DecodeError as e:
                stats.invalid.append((header.hash[::-1].hex(), f"undecodable block: {e}"))
                continue
            except ValidationError as e:
                stats.invalid.append((header.hash[::-1].hex(), e.reason))
                continue
        for child in waiting.pop(header.hash, ()):
            with child.path.open("rb") as f:
                f.seek(child.offset)
                queue.append((child, f.read(child.size)))
