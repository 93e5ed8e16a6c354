"""The block index: one :class:`BlockIndex` per known header (Core's CBlockIndex)."""

from __future__ import annotations

import struct

from node.consensus.pow import MEDIAN_TIME_SPAN, block_proof
from node.consensus.primitives import BlockHeader
from node.consensus.serialize import ByteReader

# Status bits (Core's BlockStatus, simplified to what minicash tracks).
HAVE_DATA = 1 << 0  # the full block is stored
HAVE_UNDO = 1 << 1  # undo data is stored (the block was connected at least once)
VALID_TRANSACTIONS = 1 << 2  # passed check_block and contextual_check_block
VALID_SCRIPTS = 1 << 3  # connected: inputs, amounts and scripts all valid
FAILED_VALID = 1 << 4  # the block itself is invalid
FAILED_CHILD = 1 << 5  # descends from an invalid block
FAILED_MASK = FAILED_VALID | FAILED_CHILD

_RECORD = struct.Struct("<III")  # height, status, tx count; after the 80-byte header


class BlockIndex:
    """What the node knows about one block. ``prev`` links form a tree rooted at genesis."""

    __slots__ = ("hash", "header", "height", "prev", "chainwork", "status", "tx_count",
                 "sequence", "_mtp")

    def __init__(self, header: BlockHeader, height: int, prev: BlockIndex | None,
                 status: int = 0, tx_count: int = 0, sequence: int = 0) -> None:
        self.hash = header.hash
        self.header = header
        self.height = height
        self.prev = prev
        self.chainwork = (prev.chainwork if prev else 0) + block_proof(header.bits)
        self.status = status
        self.tx_count = tx_count
        # Order of arrival: among equal-work tips the first seen wins (Core's nSequenceId).
        self.sequence = sequence
        self._mtp: int | None = None

    @property
    def time(self) -> int:
        return self.header.time

    @property
    def bits(self) -> int:
        return self.header.bits

    def is_failed(self) -> bool:
        return bool(self.status & FAILED_MASK)

    def median_time_past(self) -> int:
        """Median of the timestamps of this block and its ten predecessors (BIP113)."""
        if self._mtp is None:
            times = []
            node: BlockIndex | None = self
            while node is not None and len(times) < MEDIAN_TIME_SPAN:
                times.append(node.header.time)
                node = node.prev
            times.sort()
            self._mtp = times[len(times) // 2]
        return self._mtp

    def ancestor(self, height: int) -> BlockIndex:
        """The ancestor at ``height`` (this block itself at its own height)."""
        if not 0 <= height <= self.height:
            raise ValueError(f"no ancestor at height {height} of a block at {self.height}")
        node = self
        while node.height > height:
            node = node.prev  # type: ignore[assignment]
        return node

    # -- persistence -----------------------------------------------------------------------
    def record(self) -> bytes:
        return self.header.serialize() + _RECORD.pack(self.height, self.status, self.tx_count)

    @staticmethod
    def parse_record(raw: bytes) -> tuple[BlockHeader, int, int, int]:
        """(header, height, status, tx count) from a stored record."""
        r = ByteReader(raw)
        header = BlockHeader.parse(r)
        height, status, tx_count = _RECORD.unpack(r.read(_RECORD.size))
        r.finish()
        return header, height, status, tx_count

    def __repr__(self) -> str:
        return f"BlockIndex({self.hash[::-1].hex()[:16]}.., height={self.height}, " \
               f"status={self.status:#x})"


def find_fork(a: BlockIndex, b: BlockIndex) -> BlockIndex:
    """The last common ancestor of ``a`` and ``b`` (Core's LastCommonAncestor)."""
    if a.height > b.height:
        a = a.ancestor(b.height)
    elif b.height > a.height:
        b = b.ancestor(a.height)
    while a is not b:
        a, b = a.prev, b.prev  # type: ignore[assignment]
    return a


class AncestorWalk:
    """``(bits, time)`` of ``start``'s ancestors for the retarget rules, which ask for heights
    going down one at a time (regtest's min-difficulty walk can go back 2,015 blocks): each
    call continues from where the last one stopped instead of starting over from ``start``."""

    __slots__ = ("start", "node")

    def __init__(self, start: BlockIndex) -> None:
        self.start = start
        self.node = start

    def __call__(self, height: int) -> tuple[int, int]:
        if height > self.node.height:
            self.node = self.start
        node = self.node.ancestor(height)
        self.node = node
        return node.bits, node.time
