"""The wire layer's hot paths (issue 6), each beside the floor it cannot beat in the same run:
- a ``block`` message of ~1 MB through :class:`FrameDecoder` (64 KiB reads) and
  ``decode_message``, beside ``from_bytes(Block, raw)`` plus the frame checksum (SHA-256d of the
  payload), which any reader must do (target: ratio >= 0.9, i.e. framing adds under 10%);
- ``inv`` messages of 50,000 entries decoded, beside unpacking the same bytes with ``struct``
  alone (reported, no target: building the InvItem objects is the cost).
"""

from __future__ import annotations

import random
import struct

from node.consensus.hashes import sha256d
from node.consensus.primitives import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut
from node.consensus.serialize import from_bytes
from node.p2p.messages import MAX_INV_SZ, MSG_WTX, BlockMsg, Inv, InvItem, decode_message
from node.p2p.wire import FrameDecoder, frame

from .report import Figure, rate

MAGIC = bytes.fromhex("fabfb5da")
READ_SIZE = 65536
_INV_ENTRY = struct.Struct("<I32s")  # type, hash


def _block(n_txs: int, rng: random.Random) -> Block:
    """One-input two-output P2WPKH-shaped transactions (signatures are not checked here)."""
    txs = []
    for _ in range(n_txs):
        vin = (TxIn(OutPoint(rng.randbytes(32), 0), b"", 0xFFFFFFFE,
                    (rng.randbytes(72), rng.randbytes(33))),)
        vout = tuple(TxOut(10_000, b"\x00\x14" + rng.randbytes(20)) for _ in range(2))
        txs.append(Tx(2, vin, vout, 0))
    return Block(BlockHeader(0x20000000, bytes(32), bytes(32), 0, 0x207FFFFF, 0), txs)


def run() -> list[Figure]:
    rng = random.Random(6)
    raw = _block(4_500, rng).serialize()
    framed = frame(MAGIC, "block", raw)

    def through_the_wire() -> int:
        dec = FrameDecoder(MAGIC)
        for i in range(0, len(framed), READ_SIZE):
            for command, payload in dec.feed(framed[i:i + READ_SIZE]):
                msg = decode_message(command, payload)
                assert isinstance(msg, BlockMsg)
        return 1

    def floor() -> int:
        sha256d(raw)
        from_bytes(Block, raw)
        return 1

    ours, ref = rate(through_the_wire), rate(floor)
    figures = [Figure(f"p2p wire: {len(raw) // 1000} kB block frame+decode", ours, "blocks/s",
                      ref, ours / ref, target=0.9)]

    inv_payload = Inv([InvItem(MSG_WTX, rng.randbytes(32)) for _ in range(MAX_INV_SZ)]).serialize()
    body = inv_payload[3:]  # after the 3-byte CompactSize count

    def inv_decode() -> int:
        decode_message("inv", inv_payload)
        return MAX_INV_SZ

    def inv_unpack() -> int:
        list(_INV_ENTRY.iter_unpack(body))
        return MAX_INV_SZ

    ours, ref = rate(inv_decode), rate(inv_unpack)
    figures.append(Figure("p2p wire: inv entries decoded", ours, "entries/s", ref, ours / ref))
    return figures
