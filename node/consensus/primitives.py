"""Bitcoin's data structures with byte-exact serialization.

OutPoint, TxIn, TxOut, Tx (legacy and BIP144 segwit), BlockHeader and Block. Each is an
immutable slotted dataclass with ``serialize()`` and a ``parse(reader)`` classmethod. Hashes
(txid, wtxid, block hash) are computed once and cached on the object.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import DecodeError
from .hashes import hash_to_hex, sha256d
from .serialize import MAX_SIZE, ByteReader, compact_size, from_bytes

_SHA256 = hashlib.sha256

# Bitcoin Core: WITNESS_SCALE_FACTOR (consensus/consensus.h)
WITNESS_SCALE_FACTOR = 4
NULL_HASH = bytes(32)
NULL_INDEX = 0xFFFFFFFF
SEQUENCE_FINAL = 0xFFFFFFFF

# Smallest serialized sizes, used to refuse absurd element counts before allocating.
_MIN_TXIN_SIZE = 41  # 36-byte outpoint + empty script length + 4-byte sequence
_MIN_TXOUT_SIZE = 9  # 8-byte value + empty script length

_OUTPOINT = struct.Struct("<32sI")
_HEADER = struct.Struct("<i32s32sIII")


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, slots=True)
class OutPoint:
    txid: bytes  # internal byte order; Core: COutPoint::hash
    n: int

    def serialize(self) -> bytes:
        return _OUTPOINT.pack(self.txid, self.n)

    @classmethod
    def parse(cls, r: ByteReader) -> OutPoint:
        txid = r.read(32)
        return cls(txid, r.u32())

    def is_null(self) -> bool:
        return self.n == NULL_INDEX and self.txid == NULL_HASH

    def __str__(self) -> str:
        return f"{hash_to_hex(self.txid)}:{self.n}"


NULL_OUTPOINT = OutPoint(NULL_HASH, NULL_INDEX)


@dataclass(frozen=True, slots=True)
class TxIn:
    prevout: OutPoint
    script_sig: bytes = b""
    sequence: int = SEQUENCE_FINAL  # Core: nSequence
    witness: tuple[bytes, ...] = ()  # Core: scriptWitness.stack (BIP141)

    def serialize(self) -> bytes:
        """Serialization without the witness (witnesses are serialized after all outputs)."""
        return (self.prevout.serialize() + compact_size(len(self.script_sig)) + self.script_sig
                + struct.pack("<I", self.sequence))

    @classmethod
    def parse(cls, r: ByteReader) -> TxIn:
        prevout = OutPoint.parse(r)
        script_sig = r.var_bytes()
        return cls(prevout, script_sig, r.u32())

    def serialize_witness(self) -> bytes:
        return compact_size(len(self.witness)) + b"".join(
            compact_size(len(item)) + item for item in self.witness)


@dataclass(frozen=True, slots=True)
class TxOut:
    value: int  # satoshis; Core: nValue
    script_pubkey: bytes

    def serialize(self) -> bytes:
        return struct.pack("<q", self.value) + compact_size(len(self.script_pubkey)) + \
            self.script_pubkey

    @classmethod
    def parse(cls, r: ByteReader) -> TxOut:
        value = r.i64()
        return cls(value, r.var_bytes())


def _read_count(r: ByteReader, min_item_size: int, what: str) -> int:
    n = r.compact_size()
    if n * min_item_size > r.remaining():
        raise DecodeError(f"{what} count {n} exceeds the bytes left ({r.remaining()})")
    return n


@dataclass(frozen=True, slots=True)
class Tx:
    version: int
    vin: tuple[TxIn, ...]
    vout: tuple[TxOut, ...]
    locktime: int = 0  # Core: nLockTime
    _txid: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _wtxid: bytes | None = field(default=None, init=False, repr=False, compare=False)
    # Sizes cached as two slots, not a tuple: a mempool holds many transactions.
    _base_size: int = field(default=0, init=False, repr=False, compare=False)
    _total_size: int = field(default=0, init=False, repr=False, compare=False)
    # The outputs as parsed, without their count: BIP143's hashOutputs hashes exactly these
    # bytes, so verifying a parsed transaction need not serialize its outputs again.
    _outputs_raw: bytes | None = field(default=None, init=False, repr=False, compare=False)
    # Core's GetLegacySigOpCount, once known (script.sigops): a block's transactions are
    # counted by CheckBlock and again by ConnectBlock's sigop cost. -1: not counted yet.
    _legacy_sigops: int = field(default=-1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.vin, tuple):
            _set(self, "vin", tuple(self.vin))
        if not isinstance(self.vout, tuple):
            _set(self, "vout", tuple(self.vout))

    # -- serialization -------------------------------------------------------------------------
    def has_witness(self) -> bool:
        return any(txin.witness for txin in self.vin)

    def serialize_legacy(self) -> bytes:
        """Serialization without witness data: what the txid commits to."""
        return b"".join((
            struct.pack("<i", self.version),
            compact_size(len(self.vin)), *(i.serialize() for i in self.vin),
            compact_size(len(self.vout)), *(o.serialize() for o in self.vout),
            struct.pack("<I", self.locktime),
        ))

    def serialize(self) -> bytes:
        """BIP144 serialization: marker 0x00 and flag 0x01 only when some input has a witness."""
        if not self.has_witness():
            return self.serialize_legacy()
        return b"".join((
            struct.pack("<i", self.version), b"\x00\x01",
            compact_size(len(self.vin)), *(i.serialize() for i in self.vin),
            compact_size(len(self.vout)), *(o.serialize() for o in self.vout),
            *(i.serialize_witness() for i in self.vin),
            struct.pack("<I", self.locktime),
        ))

    @classmethod
    def parse(cls, r: ByteReader, allow_witness: bool = True) -> Tx:
        """Parse like Core's UnserializeTransaction, including its witness-flag quirks.

        Written as one function over the raw bytes, not ByteReader calls per field: parsing
        is on every path a transaction takes (wire, block import, mempool)."""
        data = r.data
        start = pos = r.pos
        try:
            (version,) = _I32_AT(data, pos)
            pos += 4
            flags = 0
            vin: list[TxIn] = []
            vout: list[TxOut] = []
            outputs_at = outputs_end = 0  # no outputs: BIP144's marker with a zero flag
            if data[pos] == 0 and allow_witness:
                # An empty input list (a zero CompactSize is the one byte 0) is the BIP144
                # marker; the next byte is the flag.
                flags = data[pos + 1]
                pos += 2
                if flags != 0:
                    vin, pos = _parse_inputs(data, pos)
                    vout, outputs_at, pos = _parse_outputs(data, pos)
                    outputs_end = pos
            else:
                vin, pos = _parse_inputs(data, pos)
                vout, outputs_at, pos = _parse_outputs(data, pos)
                outputs_end = pos
            witness_bytes = 0
            wstart = pos
            if flags & 1 and allow_witness:
                flags ^= 1
                any_witness = False
                size_all = len(data)
                for txin in vin:
                    n = data[pos]
                    if n == 2:
                        # Two short items, a signature and a key (P2WPKH, most inputs):
                        # read without the general loop's list.
                        first = pos + 2 + data[pos + 1]
                        if data[pos + 1] < 0xFD and first < size_all and data[first] < 0xFD:
                            end = first + 1 + data[first]
                            if end <= size_all:
                                _SET_WITNESS(txin, (data[pos + 2:first], data[first + 1:end]))
                                pos = end
                                any_witness = True
                                continue
                    if n < 0xFD:
                        pos += 1
                    else:
                        n, pos = _compact_at(data, pos)
                    if n > size_all - pos:
                        raise DecodeError(f"witness item count {n} exceeds the bytes left")
                    if not n:
                        continue  # the parsed input already has the empty witness
                    items = []
                    for _ in range(n):
                        size = data[pos]
                        if size < 0xFD:
                            pos += 1
                        else:
                            size, pos = _compact_at(data, pos)
                        end = pos + size
                        if end > size_all:
                            raise DecodeError("truncated witness item")
                        items.append(data[pos:end])
                        pos = end
                    _SET_WITNESS(txin, tuple(items))
                    any_witness = True
                witness_bytes = pos - wstart
                if not any_witness:
                    raise DecodeError("superfluous witness record")
            if flags:
                raise DecodeError("unknown transaction optional data")
            (locktime,) = _U32_AT(data, pos)
            pos += 4
        except (IndexError, struct.error):
            raise DecodeError(f"truncated transaction at offset {start}") from None
        r.pos = pos
        total = pos - start
        # The parser accepts only canonical encodings, so the bytes just read are exactly what
        # serialize() would write: hash them now rather than re-serializing later.
        # sha256d, inlined (twice per transaction of every block).
        if witness_bytes:
            txid = _SHA256(_SHA256(data[start:start + 4] + data[start + 6:wstart]
                                   + data[pos - 4:pos]).digest()).digest()
            wtxid = _SHA256(_SHA256(data[start:pos]).digest()).digest()
            base_size = total - witness_bytes - 2  # BIP141: no marker, flag or witnesses
        else:
            txid = wtxid = _SHA256(_SHA256(data[start:pos]).digest()).digest()
            base_size = total
        return _make_tx(version, tuple(vin), tuple(vout), locktime, txid, wtxid, base_size, total,
                        data[outputs_at:outputs_end])

    @classmethod
    def from_hex(cls, s: str) -> Tx:
        try:
            raw = bytes.fromhex(s)
        except ValueError:
            raise DecodeError("transaction is not valid hex") from None
        return from_bytes(cls, raw)

    # -- identity and size ---------------------------------------------------------------------
    @property
    def txid(self) -> bytes:
        if self._txid is None:
            _set(self, "_txid", sha256d(self.serialize_legacy()))
        return self._txid  # type: ignore[return-value]

    @property
    def wtxid(self) -> bytes:
        if self._wtxid is None:
            _set(self, "_wtxid", sha256d(self.serialize()) if self.has_witness() else self.txid)
        return self._wtxid  # type: ignore[return-value]

    def _measure(self) -> None:
        base = len(self.serialize_legacy())
        _set(self, "_base_size", base)
        _set(self, "_total_size", len(self.serialize()) if self.has_witness() else base)

    @property
    def base_size(self) -> int:
        """Size without witness data (Core: GetSerializeSize with TX_NO_WITNESS)."""
        if not self._total_size:  # every transaction is at least 10 bytes: 0 means unknown
            self._measure()
        return self._base_size

    @property
    def total_size(self) -> int:
        if not self._total_size:
            self._measure()
        return self._total_size

    @property
    def weight(self) -> int:
        """BIP141 weight: base size x 3 + total size."""
        return self.base_size * (WITNESS_SCALE_FACTOR - 1) + self.total_size

    @property
    def vsize(self) -> int:
        return (self.weight + WITNESS_SCALE_FACTOR - 1) // WITNESS_SCALE_FACTOR

    def is_coinbase(self) -> bool:
        # OutPoint.is_null, inlined: asked several times per transaction of every block
        # (calling it measured +0.29% of block connect's instructions).
        vin = self.vin
        if len(vin) != 1:
            return False
        prevout = vin[0].prevout
        return prevout.n == NULL_INDEX and prevout.txid == NULL_HASH


# Constructors for the parser that fill the slots directly: a frozen dataclass's __init__
# sets each field through object.__setattr__, which costs more than the parsing itself.
_new = object.__new__


def slot_setters(cls: type, *names: str) -> tuple:
    """The slot descriptors' setters of a slotted dataclass, for fast constructors."""
    return tuple(cls.__dict__[name].__set__ for name in names)


_SET_OUTPOINT = slot_setters(OutPoint, "txid", "n")
_SET_TXIN = slot_setters(TxIn, "prevout", "script_sig", "sequence", "witness")
_SET_WITNESS = _SET_TXIN[3]
_SET_TXOUT = slot_setters(TxOut, "value", "script_pubkey")
_SET_TX = slot_setters(Tx, "version", "vin", "vout", "locktime", "_txid", "_wtxid",
                        "_base_size", "_total_size", "_outputs_raw", "_legacy_sigops")


def make_txout(value: int, script_pubkey: bytes, _s=_SET_TXOUT) -> TxOut:
    """``TxOut(value, script_pubkey)`` for hot loops (the UTXO decoder)."""
    o = _new(TxOut)
    _s[0](o, value)
    _s[1](o, script_pubkey)
    return o


def _make_tx(version: int, vin: tuple[TxIn, ...], vout: tuple[TxOut, ...], locktime: int,
             txid: bytes, wtxid: bytes, base_size: int, total_size: int, outputs_raw: bytes,
             _s=_SET_TX) -> Tx:
    o = _new(Tx)
    _s[0](o, version)
    _s[1](o, vin)
    _s[2](o, vout)
    _s[3](o, locktime)
    _s[4](o, txid)
    _s[5](o, wtxid)
    _s[6](o, base_size)
    _s[7](o, total_size)
    _s[8](o, outputs_raw)
    _s[9](o, -1)
    return o


_I32_AT = struct.Struct("<i").unpack_from
_U32_AT = struct.Struct("<I").unpack_from
_OUTPOINT_SIZE_AT = struct.Struct("<32sIB").unpack_from  # an input's outpoint, script size byte
_VALUE_SIZE_AT = struct.Struct("<qB").unpack_from  # an output's value and script size byte
_U16_AT = struct.Struct("<H").unpack_from
_U64_AT = struct.Struct("<Q").unpack_from


def _compact_at(data: bytes, pos: int) -> tuple[int, int]:
    """A canonical CompactSize at ``pos`` (no larger than MAX_SIZE): (value, next pos)."""
    first = data[pos]
    if first < 0xFD:
        return first, pos + 1
    if first == 0xFD:
        (v,) = _U16_AT(data, pos + 1)
        pos += 3
        low = 0xFD
    elif first == 0xFE:
        (v,) = _U32_AT(data, pos + 1)
        pos += 5
        low = 0x10000
    else:
        (v,) = _U64_AT(data, pos + 1)
        pos += 9
        low = 0x100000000
    if v < low:
        raise DecodeError("non-canonical CompactSize")
    if v > MAX_SIZE:
        raise DecodeError(f"CompactSize {v} exceeds the maximum {MAX_SIZE}")
    return v, pos


def _parse_inputs(data: bytes, pos: int, _new=_new, _s=_SET_TXIN,
                  _so=_SET_OUTPOINT) -> tuple[list[TxIn], int]:
    """The inputs, with empty witnesses: theirs come after the outputs (BIP144) and are set
    by the caller. The objects are filled in here, without a constructor call per object."""
    n = data[pos]  # CompactSizes below 0xFD are their own single byte
    if n < 0xFD:
        pos += 1
    else:
        n, pos = _compact_at(data, pos)
    if n * _MIN_TXIN_SIZE > len(data) - pos:
        raise DecodeError(f"input count {n} exceeds the bytes left ({len(data) - pos})")
    vin = []
    for _ in range(n):
        txid, index, size = _OUTPOINT_SIZE_AT(data, pos)
        if size < 0xFD:
            pos += 37
        else:
            size, pos = _compact_at(data, pos + 36)
        end = pos + size
        if end + 4 > len(data):
            raise DecodeError("truncated input")
        prevout = _new(OutPoint)
        _so[0](prevout, txid)
        _so[1](prevout, index)
        txin = _new(TxIn)
        _s[0](txin, prevout)
        _s[1](txin, data[pos:end])
        _s[2](txin, _U32_AT(data, end)[0])
        _s[3](txin, ())
        vin.append(txin)
        pos = end + 4
    return vin, pos


def _parse_outputs(data: bytes, pos: int, _new=_new,
                   _s=_SET_TXOUT) -> tuple[list[TxOut], int, int]:
    """(outputs, where the first begins, where the list ends)."""
    n = data[pos]
    if n < 0xFD:
        pos += 1
    else:
        n, pos = _compact_at(data, pos)
    first = pos
    if n * _MIN_TXOUT_SIZE > len(data) - pos:
        raise DecodeError(f"output count {n} exceeds the bytes left ({len(data) - pos})")
    vout = []
    for _ in range(n):
        value, size = _VALUE_SIZE_AT(data, pos)
        if size < 0xFD:
            pos += 9
        else:
            size, pos = _compact_at(data, pos + 8)
        end = pos + size
        if end > len(data):
            raise DecodeError("truncated output")
        out = _new(TxOut)
        _s[0](out, value)
        _s[1](out, data[pos:end])
        vout.append(out)
        pos = end
    return vout, first, pos


@dataclass(frozen=True, slots=True)
class BlockHeader:
    version: int
    prev_hash: bytes  # Core: hashPrevBlock
    merkle_root: bytes  # Core: hashMerkleRoot
    time: int
    bits: int
    nonce: int
    _hash: bytes | None = field(default=None, init=False, repr=False, compare=False)

    SIZE = 80

    def serialize(self) -> bytes:
        return _HEADER.pack(self.version, self.prev_hash, self.merkle_root, self.time,
                            self.bits, self.nonce)

    @classmethod
    def parse(cls, r: ByteReader) -> BlockHeader:
        return cls(*_HEADER.unpack(r.read(cls.SIZE)))

    @property
    def hash(self) -> bytes:
        if self._hash is None:
            _set(self, "_hash", sha256d(self.serialize()))
        return self._hash  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    txs: tuple[Tx, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.txs, tuple):
            _set(self, "txs", tuple(self.txs))

    @property
    def hash(self) -> bytes:
        return self.header.hash

    def serialize(self, witness: bool = True) -> bytes:
        body = (t.serialize() if witness else t.serialize_legacy() for t in self.txs)
        return b"".join((self.header.serialize(), compact_size(len(self.txs)), *body))

    @classmethod
    def parse(cls, r: ByteReader, on_tx: Callable[[int, Tx], object] | None = None) -> Block:
        """``on_tx(position, tx)``, if given, is called as each transaction is read: a caller
        can start work on the first transactions while the rest are still being parsed."""
        header = BlockHeader.parse(r)
        n = _read_count(r, 10, "transaction")  # a tx is at least 10 bytes
        if on_tx is None:
            return cls(header, tuple(Tx.parse(r) for _ in range(n)))
        txs = []
        for pos in range(n):
            tx = Tx.parse(r)
            on_tx(pos, tx)
            txs.append(tx)
        return cls(header, tuple(txs))

    @classmethod
    def from_hex(cls, s: str) -> Block:
        try:
            raw = bytes.fromhex(s)
        except ValueError:
            raise DecodeError("block is not valid hex") from None
        return from_bytes(cls, raw)

    def _sizes(self) -> tuple[int, int]:
        """(base size, total size), in one pass reading the transactions' slots: CheckBlock
        and ContextualCheckBlock ask for them, once per transaction of every block."""
        base = total = 0
        for t in self.txs:
            if not t._total_size:  # not parsed, and not measured yet
                t._measure()
            base += t._base_size
            total += t._total_size
        head = BlockHeader.SIZE + len(compact_size(len(self.txs)))
        return head + base, head + total

    @property
    def base_size(self) -> int:
        return self._sizes()[0]

    @property
    def total_size(self) -> int:
        return self._sizes()[1]

    @property
    def weight(self) -> int:
        base, total = self._sizes()
        return base * (WITNESS_SCALE_FACTOR - 1) + total
