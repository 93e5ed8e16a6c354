"""Bitcoin's P2P messages: one small immutable class per command, registered by command name.

Each class has ``serialize() -> bytes`` and ``parse(reader)``; :func:`decode_message` looks the
command up in :data:`MESSAGES` and parses the whole payload (trailing bytes are malformed, except
in ``version``, which Core lets grow). Unknown commands decode to None: the caller ignores them.
Limits on element counts are Core's and are checked before anything is allocated; a payload
over a limit raises :class:`DecodeError` (Core treats such peers as misbehaving).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from node.consensus.errors import DecodeError
from node.consensus.primitives import Block, BlockHeader, Tx
from node.consensus.serialize import ByteReader, compact_size

from .netaddr import NetAddr
from .wire import frame

__all__ = [
    "MESSAGES", "Message", "decode_message", "encode_message", "NetAddr", "InvItem",
]

PROTOCOL_VERSION = 70016  # Core: PROTOCOL_VERSION (wtxidrelay, BIP339)
MIN_PEER_PROTO_VERSION = 31800  # Core: peers older than this are disconnected
SENDHEADERS_VERSION = 70012  # BIP130
FEEFILTER_VERSION = 70013  # BIP133
WTXID_RELAY_VERSION = 70016  # BIP339

# Service bits (Core: ServiceFlags, protocol.h)
NODE_NETWORK = 1
NODE_BLOOM = 1 << 2
NODE_WITNESS = 1 << 3
NODE_COMPACT_FILTERS = 1 << 6
NODE_NETWORK_LIMITED = 1 << 10
# What we offer: full blocks, with witnesses (Core: a default node's nLocalServices).
OUR_SERVICES = NODE_NETWORK | NODE_WITNESS

# Inventory types (Core: GetDataMsg, protocol.h)
MSG_TX = 1
MSG_BLOCK = 2
MSG_FILTERED_BLOCK = 3
MSG_CMPCT_BLOCK = 4
MSG_WTX = 5  # BIP339: the hash is a wtxid
MSG_WITNESS_FLAG = 1 << 30  # BIP144: ask for witness serialization
MSG_WITNESS_TX = MSG_TX | MSG_WITNESS_FLAG
MSG_WITNESS_BLOCK = MSG_BLOCK | MSG_WITNESS_FLAG
MSG_FILTERED_WITNESS_BLOCK = MSG_FILTERED_BLOCK | MSG_WITNESS_FLAG

# Limits (Core: net_processing.cpp, net.h, protocol.h)
MAX_ADDR_TO_SEND = 1000  # entries in one addr/addrv2
MAX_INV_SZ = 50_000  # entries in one inv/getdata/notfound
MAX_LOCATOR_SZ = 101  # hashes in a block locator
MAX_HEADERS_RESULTS = 2000  # headers in one headers message
MAX_SUBVERSION_LENGTH = 256  # bytes of user agent

M = TypeVar("M", bound="Message")


class Message:
    """Base of every message: ``command`` is the wire name, set by :func:`message`."""

    __slots__ = ()
    command: ClassVar[str]
    # version may carry fields added by later protocol versions: Core reads what it knows.
    allows_trailing: ClassVar[bool] = False

    def serialize(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def parse(cls: type[M], r: ByteReader) -> M:
        raise NotImplementedError


MESSAGES: dict[str, type[Message]] = {}


def message(command: str) -> Callable[[type[M]], type[M]]:
    """Class decorator: name the class's command and register it for :func:`decode_message`."""
    def register(cls: type[M]) -> type[M]:
        if command in MESSAGES:
            raise ValueError(f"two classes for command {command!r}")
        cls.command = command
        MESSAGES[command] = cls
        return cls
    return register


def decode_message(command: str, payload: bytes) -> Message | None:
    """Parse a payload; None for a command we do not know (ignore it, as Core does)."""
    cls = MESSAGES.get(command)
    if cls is None:
        return None
    r = ByteReader(payload)
    msg = cls.parse(r)
    if not cls.allows_trailing:
        r.finish()
    return msg


def encode_message(magic: bytes, msg: Message) -> bytes:
    return frame(magic, msg.command, msg.serialize())


def _read_count(r: ByteReader, limit: int, item_size: int, what: str) -> int:
    """A CompactSize element count, refused above ``limit`` or above the bytes left."""
    n = r.compact_size()
    if n > limit:
        raise DecodeError(f"{what} count {n} exceeds the limit of {limit}")
    if n * item_size > r.remaining():
        raise DecodeError(f"{what} count {n} exceeds the bytes left ({r.remaining()})")
    return n


def _bool(v: int) -> bool:
    # Core unserializes a bool from one byte as "non-zero"; it always sends 0 or 1.
    return v != 0


# -- payload-less messages ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Empty(Message):
    def serialize(self) -> bytes:
        return b""

    @classmethod
    def parse(cls, r: ByteReader):
        return cls()


@message("verack")
@dataclass(frozen=True, slots=True)
class Verack(_Empty):
    pass


@message("wtxidrelay")  # BIP339: sent between version and verack
@dataclass(frozen=True, slots=True)
class WtxidRelay(_Empty):
    pass


@message("sendaddrv2")  # BIP155: sent between version and verack
@dataclass(frozen=True, slots=True)
class SendAddrV2(_Empty):
    pass


@message("sendheaders")  # BIP130
@dataclass(frozen=True, slots=True)
class SendHeaders(_Empty):
    pass


@message("getaddr")
@dataclass(frozen=True, slots=True)
class GetAddr(_Empty):
    pass


@message("mempool")  # BIP35
@dataclass(frozen=True, slots=True)
class Mempool(_Empty):
    pass


# -- handshake and keep-alive ---------------------------------------------------------------------
_VERSION_HEAD = struct.Struct("<iQq")


@message("version")
@dataclass(frozen=True, slots=True)
class Version(Message):
    version: int
    services: int
    timestamp: int
    addr_recv: NetAddr  # without time (Core: addrMe)
    addr_from: NetAddr
    nonce: int  # random per connection: detects connecting to ourselves
    user_agent: str
    start_height: int
    relay: bool = True  # BIP37 fRelay; absent means true

    allows_trailing: ClassVar[bool] = True

    def serialize(self) -> bytes:
        ua = self.user_agent.encode()
        return b"".join((
            _VERSION_HEAD.pack(self.version, self.services, self.timestamp),
            self.addr_recv.serialize_v1(with_time=False),
            self.addr_from.serialize_v1(with_time=False),
            struct.pack("<Q", self.nonce), compact_size(len(ua)), ua,
            struct.pack("<i?", self.start_height, self.relay),
        ))

    @classmethod
    def parse(cls, r: ByteReader) -> Version:
        version, services, timestamp = _VERSION_HEAD.unpack(r.read(_VERSION_HEAD.size))
        addr_recv = NetAddr.parse_v1(r, with_time=False)
        addr_from = NetAddr.parse_v1(r, with_time=False)
        nonce = r.u64()
        n = r.compact_size()
        if n > MAX_SUBVERSION_LENGTH:
            raise DecodeError(f"user agent of {n} bytes exceeds {MAX_SUBVERSION_LENGTH}")
        user_agent = r.read(n).decode("utf-8", "replace")
        start_height = r.i32()
        relay = _bool(r.u8()) if r.remaining() else True
        return cls(version, services, timestamp, addr_recv, addr_from, nonce, user_agent,
                   start_height, relay)


@dataclass(frozen=True, slots=True)
class _Nonce(Message):
    nonce: int

    def serialize(self) -> bytes:
        return struct.pack("<Q", self.nonce)

    @classmethod
    def parse(cls, r: ByteReader):
        return cls(r.u64())


@message("ping")
@dataclass(frozen=True, slots=True)
class Ping(_Nonce):
    pass


@message("pong")
@dataclass(frozen=True, slots=True)
class Pong(_Nonce):
    pass


@message("feefilter")  # BIP133
@dataclass(frozen=True, slots=True)
class FeeFilter(Message):
    feerate: int  # sat per 1000 vbytes; Core ignores values outside MoneyRange

    def serialize(self) -> bytes:
        return struct.pack("<q", self.feerate)

    @classmethod
    def parse(cls, r: ByteReader) -> FeeFilter:
        return cls(r.i64())


@message("sendcmpct")  # BIP152
@dataclass(frozen=True, slots=True)
class SendCmpct(Message):
    announce: bool
    version: int

    def serialize(self) -> bytes:
        return struct.pack("<?Q", self.announce, self.version)

    @classmethod
    def parse(cls, r: ByteReader) -> SendCmpct:
        announce = _bool(r.u8())
        return cls(announce, r.u64())


# -- addresses ------------------------------------------------------------------------------------
_ADDR_V1_SIZE = 30
_ADDR_V2_MIN_SIZE = 4 + 1 + 1 + 1 + 2  # time, services, network, length, port


@message("addr")
@dataclass(frozen=True, slots=True)
class Addr(Message):
    addrs: tuple[NetAddr, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.addrs, tuple):
            object.__setattr__(self, "addrs", tuple(self.addrs))

    def serialize(self) -> bytes:
        return compact_size(len(self.addrs)) + b"".join(a.serialize_v1() for a in self.addrs)

    @classmethod
    def parse(cls, r: ByteReader) -> Addr:
        n = _read_count(r, MAX_ADDR_TO_SEND, _ADDR_V1_SIZE, "addr")
        return cls(tuple(NetAddr.parse_v1(r) for _ in range(n)))


@message("addrv2")  # BIP155
@dataclass(frozen=True, slots=True)
class AddrV2(Message):
    """Only IPv4 and IPv6 entries are kept; others (Tor, I2P, CJDNS) are read and dropped."""

    addrs: tuple[NetAddr, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.addrs, tuple):
            object.__setattr__(self, "addrs", tuple(self.addrs))

    def serialize(self) -> bytes:
        return compact_size(len(self.addrs)) + b"".join(a.serialize_v2() for a in self.addrs)

    @classmethod
    def parse(cls, r: ByteReader) -> AddrV2:
        n = _read_count(r, MAX_ADDR_TO_SEND, _ADDR_V2_MIN_SIZE, "addrv2")
        entries = (NetAddr.parse_v2(r) for _ in range(n))
        return cls(tuple(a for a in entries if a is not None))


# -- inventory ------------------------------------------------------------------------------------
_INV = struct.Struct("<I32s")


@dataclass(frozen=True, slots=True)
class InvItem:
    type: int  # MSG_TX, MSG_BLOCK, MSG_WTX, possibly with MSG_WITNESS_FLAG
    hash: bytes  # internal byte order

    def __post_init__(self) -> None:
        if len(self.hash) != 32:
            raise ValueError("an inventory hash is 32 bytes")


_SET_INV_TYPE = InvItem.type.__set__  # type: ignore[attr-defined]
_SET_INV_HASH = InvItem.hash.__set__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class _InvList(Message):
    items: tuple[InvItem, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.items, tuple):
            object.__setattr__(self, "items", tuple(self.items))

    def serialize(self) -> bytes:
        pack = _INV.pack
        return compact_size(len(self.items)) + b"".join(pack(i.type, i.hash) for i in self.items)

    @classmethod
    def parse(cls, r: ByteReader):
        n = _read_count(r, MAX_INV_SZ, _INV.size, cls.command)
        raw = r.read(n * _INV.size)
        # Up to 50,000 entries: fill the slots directly rather than through the dataclass
        # __init__ (1.6x faster); the struct already guarantees 32-byte hashes.
        new, set_type, set_hash = object.__new__, _SET_INV_TYPE, _SET_INV_HASH
        items = []
        for t, h in _INV.iter_unpack(raw):
            item = new(InvItem)
            set_type(item, t)
            set_hash(item, h)
            items.append(item)
        return cls(tuple(items))


@message("inv")
@dataclass(frozen=True, slots=True)
class Inv(_InvList):
    pass


@message("getdata")
@dataclass(frozen=True, slots=True)
class GetData(_InvList):
    pass


@message("notfound")
@dataclass(frozen=True, slots=True)
class NotFound(_InvList):
    pass


# -- headers and blocks ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Locator(Message):
    """Core: CBlockLocator (version, hashes from the tip back, sparser with depth) + hashStop."""

    version: int
    locator: tuple[bytes, ...]
    hash_stop: bytes = bytes(32)  # all zeros: as many as the reply allows

    def __post_init__(self) -> None:
        if not isinstance(self.locator, tuple):
            object.__setattr__(self, "locator", tuple(self.locator))
        if len(self.hash_stop) != 32 or any(len(h) != 32 for h in self.locator):
            raise ValueError("locator hashes are 32 bytes")

    def serialize(self) -> bytes:
        return b"".join((struct.pack("<i", self.version), compact_size(len(self.locator)),
                         *self.locator, self.hash_stop))

    @classmethod
    def parse(cls, r: ByteReader):
        version = r.i32()
        n = _read_count(r, MAX_LOCATOR_SZ, 32, "locator")
        raw = r.read(32 * n)
        locator = tuple(raw[i:i + 32] for i in range(0, len(raw), 32))
        return cls(version, locator, r.read(32))


@message("getheaders")
@dataclass(frozen=True, slots=True)
class GetHeaders(_Locator):
    pass


@message("getblocks")
@dataclass(frozen=True, slots=True)
class GetBlocks(_Locator):
    pass


_HEADER_ENTRY = struct.Struct("<i32s32sIIIB")  # a header and its (zero) transaction count


@message("headers")
@dataclass(frozen=True, slots=True)
class Headers(Message):
    headers: tuple[BlockHeader, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.headers, tuple):
            object.__setattr__(self, "headers", tuple(self.headers))

    def serialize(self) -> bytes:
        return compact_size(len(self.headers)) + b"".join(
            h.serialize() + b"\x00" for h in self.headers)

    @classmethod
    def parse(cls, r: ByteReader) -> Headers:
        n = _read_count(r, MAX_HEADERS_RESULTS, _HEADER_ENTRY.size, "headers")
        raw = r.read(n * _HEADER_ENTRY.size)
        headers = []
        for *fields, tx_count in _HEADER_ENTRY.iter_unpack(raw):
            # Core reads and ignores the count; btcd refuses a non-zero one. A headers message
            # never carries transactions, so a non-zero count (or a longer CompactSize, which
            # would misalign every header after it) is malformed.
            if tx_count:
                raise DecodeError(f"header {len(headers)} has a transaction count of {tx_count}")
            headers.append(BlockHeader(*fields))
        return cls(tuple(headers))


@message("block")
@dataclass(frozen=True, slots=True)
class BlockMsg(Message):
    """A block with the exact bytes it came in (or goes out) as, so the chain can store them
    without serializing again. Leave ``raw`` empty to serialize ``block`` with witnesses; for a
    peer without NODE_WITNESS pass ``block.serialize(witness=False)``."""

    block: Block
    raw: bytes = field(default=b"", compare=False, repr=False)

    def serialize(self) -> bytes:
        return self.raw or self.block.serialize()

    @classmethod
    def parse(cls, r: ByteReader) -> BlockMsg:
        start = r.pos
        block = Block.parse(r)
        data = r.data
        # The usual case, one block filling the payload, keeps the payload itself: no copy.
        raw = data if start == 0 and r.pos == len(data) else data[start:r.pos]
        return cls(block, raw)


@message("tx")
@dataclass(frozen=True, slots=True)
class TxMsg(Message):
    tx: Tx

    def serialize(self) -> bytes:
        return self.tx.serialize()

    @classmethod
    def parse(cls, r: ByteReader) -> TxMsg:
        return cls(Tx.parse(r))


def inv_items(kind: int, hashes: Iterable[bytes]) -> list[InvItem]:
    """Inventory entries of one type, e.g. ``inv_items(MSG_WTX, wtxids)``."""
    return [InvItem(kind, h) for h in hashes]
