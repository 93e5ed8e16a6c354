"""One peer connection: framing over asyncio streams, the version handshake, keep-alive pings,
timeouts and bounded buffers. What the messages *mean* is the owner's business (the service): a
peer hands every post-handshake message to ``owner.on_message`` and reports its end to
``owner.on_disconnect``.

Rules taken from Bitcoin Core (net.cpp, net_processing.cpp):
- the handshake must finish within ``handshake_timeout`` (Core: ``-peertimeout``, 60 s);
- a message other than ``version`` first is a broken peer: dropped; other messages before
  ``verack`` are ignored, except ``wtxidrelay`` / ``sendaddrv2``, which are only allowed there
  (BIP339, BIP155: after verack they get the peer disconnected);
- a ping every 2 minutes; a peer that leaves a ping unanswered, or sends nothing, for 20 minutes
  is dropped (Core: PING_INTERVAL, TIMEOUT_INTERVAL);
- the send buffer is bounded (Core: ``-maxsendbuffer``): replies wait for the socket to drain,
  and a peer that lets unsolicited announcements pile up past the hard bound is dropped; the
  receive side holds at most one frame (the frame decoder refuses lengths over the limit before
  reading the payload).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from node.consensus.errors import DecodeError
from node.netutil import HostPort

from .messages import (
    MIN_PEER_PROTO_VERSION,
    NODE_NETWORK,
    NODE_WITNESS,
    OUR_SERVICES,
    PROTOCOL_VERSION,
    WTXID_RELAY_VERSION,
    Message,
    Ping,
    Pong,
    SendAddrV2,
    Verack,
    Version,
    WtxidRelay,
    decode_message,
)
from .netaddr import NetAddr
from .wire import FrameDecoder, WireError, frame

if TYPE_CHECKING:
    from node.chain.index import BlockIndex

log = logging.getLogger("minicash.p2p")

READ_CHUNK = 1 << 16
MAX_SEND_BUFFER = 5_000_000  # Core: DEFAULT_MAXSENDBUFFER, 5000 KB
# Announcements are written without waiting for the socket; past this the peer is not reading.
HARD_SEND_LIMIT = 2 * MAX_SEND_BUFFER + 4_000_000
KNOWN_INVENTORY = 50_000  # Core keeps a rolling filter of 50,000 entries per peer


@dataclass
class PeerTimeouts:
    handshake: float = 60.0  # Core: DEFAULT_PEER_CONNECT_TIMEOUT
    ping_interval: float = 120.0  # Core: PING_INTERVAL
    inactivity: float = 20 * 60.0  # Core: TIMEOUT_INTERVAL (pings and silence)


# The close reason of a stream that cannot be read as messages (a WireError), logged at info
# where it is found (Peer.close_logged): the owner's disconnect line for such a peer goes to debug.
UNREADABLE = "unreadable stream"


class Misbehaving(Exception):
    """Raised by message handlers: the peer broke a rule. The owner judges it
    (``on_misbehaving``): disconnected and discouraged, or, if exempt, let go on."""


class Disconnect(Exception):
    """Raised by message handlers: drop the peer without discouraging it."""


class PeerOwner(Protocol):
    """What a peer calls back: the P2P service."""

    def version_for(self, peer: Peer) -> Version: ...

    def is_own_nonce(self, nonce: int) -> bool: ...

    def on_established(self, peer: Peer) -> None: ...

    async def on_message(self, peer: Peer, msg: Message) -> None: ...

    def on_misbehaving(self, peer: Peer, reason: str) -> None:
        """Punish the peer as the one rule says: close it (and discourage it), or not."""

    def on_disconnect(self, peer: Peer) -> None: ...


class KnownSet:
    """A bounded set that forgets its oldest entries (Core: CRollingBloomFilter, exact here)."""

    __slots__ = ("_items", "limit")

    def __init__(self, limit: int = KNOWN_INVENTORY) -> None:
        self._items: OrderedDict[bytes, None] = OrderedDict()
        self.limit = limit

    def add(self, item: bytes) -> None:
        self._items[item] = None
        if len(self._items) > self.limit:
            self._items.popitem(last=False)

    def update(self, items: Iterable[bytes]) -> None:
        for item in items:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)


class Peer:
    """A connection and what we know about the node at the other end."""

    def __init__(self, owner: PeerOwner, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, *, peer_id: int, inbound: bool,
                 host: str, port: int, magic: bytes, manual: bool = False,
                 whitelisted: bool = False, timeouts: PeerTimeouts | None = None) -> None:
        self.owner = owner
        self.reader = reader
        self.writer = writer
        self.id = peer_id
        self.inbound = inbound
        self.manual = manual  # --connect, --addnode or the admin API asked for it
        # Its address is on the -whitelist (noban and mempool permissions), decided once when
        # the connection is made, as Core sets CNode's m_permission_flags.
        self.whitelisted = whitelisted
        self.host = host
        self.port = port
        self.magic = magic
        self.timeouts = timeouts or PeerTimeouts()
        transport = writer.transport
        transport.set_write_buffer_limits(high=MAX_SEND_BUFFER)  # drain() waits above this
        self._transport = transport
        self._decoder = FrameDecoder(magic)
        self.connected_at = time.time()
        self.last_recv = self.last_send = time.monotonic()
        self.bytes_sent = self.bytes_recv = 0
        # -- from the handshake --
        self.version: Version | None = None
        self.verack_received = False
        self.established = False
        self.nonce = secrets.randbits(64)  # ours, sent in our version
        self.wtxid_relay = False  # BIP339: announce and request transactions by wtxid
        self.send_addrv2 = False  # BIP155
        self.prefer_headers = False  # BIP130 sendheaders
        self.fee_filter = 0  # BIP133, sat/kvB: no tx below this is announced to the peer
        # -- keep-alive --
        self.ping_nonce: int | None = None
        self.ping_sent = 0.0
        self.latency: float | None = None  # seconds, the last ping's round trip
        self.min_latency: float | None = None
        # -- sync and relay state, kept here so it goes away with the peer --
        self.best_known: BlockIndex | None = None  # the best block we know the peer has
        self.known_blocks = KnownSet()
        self.known_txs = KnownSet()  # txids and wtxids the peer has or was told of
        self.known_addrs = KnownSet(5_000)
        self.blocks_in_flight: dict[bytes, float] = {}  # hash -> when asked
        self.sync_started = False  # we asked it for headers
        self.unconnecting_headers = 0
        # Blocks and transactions sent to us without being asked for, each kind counted
        # against its own limit (sync.MAX_UNREQUESTED_BLOCKS, relay.MAX_UNREQUESTED_TXS).
        self.unrequested_blocks = 0
        self.unrequested_txs = 0
        self.getaddr_answered = False
        self.closed = False
        self.close_reason = ""
        # run() logged why the peer closes at info (an unreadable stream): the owner's own
        # disconnect line would say it twice, so it keeps that line to debug.
        self.close_logged = False
        self._tasks: list[asyncio.Task] = []
        self._leftover: list[Message] = []

    # -- facts ---------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return str(HostPort(self.host, self.port))

    @property
    def services(self) -> int:
        return self.version.services if self.version else 0

    @property
    def relay_txs(self) -> bool:
        return self.version.relay if self.version else False

    @property
    def start_height(self) -> int:
        return self.version.start_height if self.version else 0

    def __repr__(self) -> str:
        return f"peer={self.id} {self.address}{' inbound' if self.inbound else ''}"

    def info(self) -> dict:
        v = self.version
        best = self.best_known
        return {
            "id": self.id, "address": self.address, "inbound": self.inbound,
            "manual": self.manual, "established": self.established,
            "version": v.version if v else None, "user_agent": v.user_agent if v else None,
            "services": self.services, "start_height": self.start_height,
            "relay": self.relay_txs, "wtxid_relay": self.wtxid_relay,
            "prefer_headers": self.prefer_headers, "fee_filter": self.fee_filter,
            "synced_height": best.height if best else None,
            "blocks_in_flight": len(self.blocks_in_flight),
            "ping_ms": None if self.latency is None else round(self.latency * 1e3, 3),
            "min_ping_ms": None if self.min_latency is None else round(self.min_latency * 1e3, 3),
            "bytes_sent": self.bytes_sent, "bytes_received": self.bytes_recv,
            "connected_at": int(self.connected_at),
        }

    # -- sending -------------------------------------------------------------------------------
    def send(self, msg: Message) -> None:
        self.send_raw(msg.command, msg.serialize())

    def send_raw(self, command: str, payload: bytes) -> None:
        """Queue a message without waiting. Used for announcements: a peer that lets them pile
        up past the hard bound is not reading, and is dropped."""
        if self.closed:
            return
        data = frame(self.magic, command, payload)
        self.writer.write(data)
        self.bytes_sent += len(data)
        self.last_send = time.monotonic()
        if self._transport.get_write_buffer_size() > HARD_SEND_LIMIT:
            self.close("send buffer overflow: the peer does not read")

    async def drain(self) -> None:
        """Wait until the send buffer is under :data:`MAX_SEND_BUFFER` (replies to requests
        call this, so a peer that asks without reading stops being read from)."""
        if self.closed:
            return
        try:
            await asyncio.wait_for(self.writer.drain(), self.timeouts.inactivity)
        except (TimeoutError, ConnectionError) as e:
            self.close(f"send failed: {e!r}")

    # -- life cycle ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Handshake, then read and dispatch messages until the connection ends."""
        try:
            if not self.inbound:
                self.send(self.owner.version_for(self))
            deadline = asyncio.timeout(self.timeouts.handshake)
            try:
                async with deadline:
                    await self._handshake()
            except TimeoutError:
                if not deadline.expired():
                    raise  # not the deadline: a socket's ETIMEDOUT, say (an OSError)
                self.close("handshake timeout")
                return
            self.established = True
            self.owner.on_established(self)
            self._tasks.append(asyncio.get_running_loop().create_task(self._keepalive()))
            while not self.closed:
                for msg in self._leftover or await self._read_messages():
                    if self.closed:
                        break
                    try:
                        await self._dispatch(msg)
                    except Misbehaving as e:
                        # The owner closes the peer, or spares it (Core: a noban or manual
                        # peer is not punished) and its next message is read as usual.
                        self.owner.on_misbehaving(self, str(e))
                self._leftover = []
        except Disconnect as e:
            self.close(str(e))
        except WireError as e:
            # Dropped, not discouraged: Core's readHeader returns -1 and the connection is
            # closed, without Misbehaving (the peer may just be on another network). Logged
            # here, as Core's "Header error", since it may come before the handshake is done.
            log.info("%r: %s (%s): disconnected", self, UNREADABLE, e)
            # Already closed, the peer keeps its earlier reason, which nobody logged.
            self.close_logged = not self.closed
            self.close(f"{UNREADABLE}: {e}")
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            self.close(f"connection lost ({type(e).__name__})")
        except EOFError:
            self.close("closed by peer")
        except asyncio.CancelledError:
            self.close("cancelled")
            raise
        except Exception as e:  # a bug of ours: drop this peer, keep the node
            log.exception("%r: error handling its messages", self)
            self.close(f"internal error: {e!r}")
        finally:
            self.close(self.close_reason or "done")
            await self._finish()

    async def _handshake(self) -> None:
        while True:
            msgs = await self._read_messages()
            for i, msg in enumerate(msgs):
                await self._handshake_message(msg)
                if self.version is not None and self.verack_received:
                    # What came in the same read after verack is for the main loop.
                    self._leftover = msgs[i + 1:]
                    return

    async def _handshake_message(self, msg: Message) -> None:
        if self.version is None:
            if not isinstance(msg, Version):
                raise Disconnect(f"{msg.command} before version")
            self._on_version(msg)
            return
        if isinstance(msg, Verack):
            self.verack_received = True
        elif isinstance(msg, WtxidRelay):
            self.wtxid_relay = self.version.version >= WTXID_RELAY_VERSION
        elif isinstance(msg, SendAddrV2):
            self.send_addrv2 = True
        elif isinstance(msg, Version):
            log.debug("%r: redundant version ignored", self)
        # Anything else before verack is ignored, as in Core.

    def _on_version(self, v: Version) -> None:
        if self.inbound and self.owner.is_own_nonce(v.nonce):
            raise Disconnect("connected to self")
        if v.version < MIN_PEER_PROTO_VERSION:
            raise Disconnect(f"obsolete protocol version {v.version}")
        if not v.services & NODE_NETWORK or not v.services & NODE_WITNESS:
            # We sync blocks from every peer: one that cannot serve witness blocks is useless.
            if not self.inbound:
                raise Disconnect(f"peer lacks NODE_NETWORK|NODE_WITNESS "
                                 f"(services {v.services:#x})")
        self.version = v
        if self.inbound:
            self.send(self.owner.version_for(self))
        if v.version >= WTXID_RELAY_VERSION:
            self.send(WtxidRelay())  # BIP339: between version and verack
            self.send(SendAddrV2())  # BIP155: likewise
        self.send(Verack())

    async def _read_messages(self) -> list[Message]:
        """Read from the socket until at least one whole message is in."""
        while True:
            data = await self.reader.read(READ_CHUNK)
            if not data:
                raise EOFError
            self.bytes_recv += len(data)
            self.last_recv = time.monotonic()
            msgs = []
            for command, payload in self._decoder.feed(data):
                try:
                    msg = decode_message(command, payload)
                except DecodeError as e:
                    reason = f"malformed {command}: {e}"
                    self.owner.on_misbehaving(self, reason)
                    if self.closed:
                        raise Disconnect(reason) from None
                    continue  # spared: the frame is skipped, the next one is read
                if msg is None:
                    log.debug("%r: unknown command %r ignored", self, command)
                    continue
                msgs.append(msg)
            if msgs:
                return msgs

    async def _dispatch(self, msg: Message) -> None:
        if isinstance(msg, Ping):
            self.send(Pong(msg.nonce))
        elif isinstance(msg, Pong):
            self._on_pong(msg)
        elif isinstance(msg, (WtxidRelay, SendAddrV2)):
            raise Disconnect(f"{msg.command} received after verack")  # BIP339 / BIP155
        elif isinstance(msg, (Version, Verack)):
            log.debug("%r: redundant %s ignored", self, msg.command)
        else:
            await self.owner.on_message(self, msg)

    def _on_pong(self, msg: Pong) -> None:
        if self.ping_nonce is None or msg.nonce != self.ping_nonce:
            return  # Core: unsolicited or mismatched pongs are ignored (logged only)
        self.latency = time.monotonic() - self.ping_sent
        self.min_latency = self.latency if self.min_latency is None else \
            min(self.min_latency, self.latency)
        self.ping_nonce = None

    def send_ping(self) -> None:
        self.ping_nonce = secrets.randbits(64) or 1
        self.ping_sent = time.monotonic()
        self.send(Ping(self.ping_nonce))

    async def _keepalive(self) -> None:
        t = self.timeouts
        step = min(t.ping_interval, t.inactivity) / 4
        last_ping = 0.0
        while not self.closed:
            now = time.monotonic()
            if self.ping_nonce is not None and now - self.ping_sent > t.inactivity:
                self.close(f"ping timeout: {now - self.ping_sent:.0f} s")
                return
            if now - self.last_recv > t.inactivity:
                self.close(f"inactivity: nothing received for {now - self.last_recv:.0f} s")
                return
            if self.ping_nonce is None and now - last_ping >= t.ping_interval:
                self.send_ping()
                last_ping = now
            await asyncio.sleep(step)

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        for task in self._tasks:
            task.cancel()
        self.writer.close()

    async def _finish(self) -> None:
        for task in self._tasks:
            if task is not asyncio.current_task():
                try:
                    await task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001 - already ending
                    pass
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (TimeoutError, OSError, ConnectionError):
            pass
        self.owner.on_disconnect(self)


async def cancel_and_wait(task: asyncio.Task | None) -> None:
    """Cancel a service's background task and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def version_message(peer_host: str, peer_port: int, nonce: int, start_height: int,
                    user_agent: str, relay: bool = True) -> Version:
    """Our version message (Core: PushNodeVersion). Our own address is sent as unknown, as
    Core does: the peer learns where we listen from our ``addr`` self-announcement."""
    return Version(PROTOCOL_VERSION, OUR_SERVICES, int(time.time()),
                   NetAddr(0, peer_host, peer_port), NetAddr(OUR_SERVICES, "0.0.0.0", 0),
                   nonce, user_agent, start_height, relay)
