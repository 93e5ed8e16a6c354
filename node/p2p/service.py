"""The P2P service: owns the peers and wires the connection manager, block sync, transaction
relay and address gossip to them. The node reaches it through ``start``/``stop``, ``peer_list``
and the admin calls; it reaches the node only through :class:`NodeHooks`.

Misbehaviour (an invalid block or header, a message that does not decode or breaks a limit,
such as an ``inv`` of over 50,000 entries, a flood nobody asked for) disconnects the peer and
discourages its address for 24 hours, as Bitcoin Core does since v28 (every misbehaviour
discourages at once). Two exceptions, also Core's (MaybeDiscourageAndDisconnect): whitelisted
(noban) peers and peers we were told to connect to (``--connect``, ``--addnode``, the admin
API) are neither disconnected nor discouraged; ``on_misbehaving`` is the one place this is
decided. Unlike Core, loopback peers are discouraged too, so misbehaviour is visible on a
one-machine test network; a discouraged address can still connect in while inbound slots are
free, as in Core.

Broken framing is not misbehaviour. An unreadable stream (a header with the wrong network
magic or an oversized length: ``wire.WireError``) closes the connection without
discouraging, as Core's failing readHeader does (the peer may be on another network);
``Peer.run`` logs it once. A frame with a wrong checksum or an invalid command is skipped and
the next one read (``wire.FrameDecoder``, as Core does); an unknown command is ignored.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from node import __version__
from node.chain.chainstate import ChainState
from node.chain.index import BlockIndex
from node.consensus.params import Params
from node.consensus.primitives import Block, Tx
from node.mempool.mempool import Mempool, MempoolEntry
from node.netutil import DEFAULT_P2P_HOST, HostPort
from node.storage.db import Database

from .addrman import AddrMan
from .banman import BanMan
from .connman import CONNECT_TIMEOUT, MAX_INBOUND, MAX_OUTBOUND, ConnectionManager
from .gossip import AddrGossip
from .messages import (
    MSG_BLOCK,
    MSG_TX,
    MSG_WITNESS_FLAG,
    MSG_WTX,
    SENDHEADERS_VERSION,
    GetData,
    Inv,
    Message,
    NotFound,
    SendHeaders,
    Version,
)
from .netaddr import (
    Address,
    Network,
    canonical_or_name,
    is_ip,
    is_local_ip,
    parse_host,
    parse_subnet,
)
from .peer import Peer, PeerTimeouts, version_message
from .relay import TxRelay
from .sync import BlockSync, SyncTimeouts

log = logging.getLogger("minicash.p2p")

USER_AGENT = f"/minicash:{__version__}/"
PEERS_DB = "peers"


class NodeHooks(Protocol):
    """The node as the P2P layer sees it: read-only chain and mempool, and two doors."""

    chain: ChainState | None
    mempool: Mempool | None

    async def submit_block(self, block: Block, raw: bytes | None = None) -> BlockIndex | None: ...

    async def submit_tx(self, tx: Tx) -> MempoolEntry: ...


@dataclass
class P2PConfig:
    bind: tuple[str, int] | None = None  # None: DEFAULT_P2P_HOST on the network's port
    listen: bool = True
    connect: list[tuple[str, int]] = field(default_factory=list)
    addnode: list[tuple[str, int]] = field(default_factory=list)
    # IPs or subnets (Core: -whitelist), read as bans are (see ``parse_whitelist``).
    whitelist: list[str] = field(default_factory=list)
    max_outbound: int = MAX_OUTBOUND
    max_inbound: int = MAX_INBOUND
    peer_timeouts: PeerTimeouts = field(default_factory=PeerTimeouts)
    sync_timeouts: SyncTimeouts = field(default_factory=SyncTimeouts)


def parse_whitelist(entries: list[str]) -> list[Network]:
    """The ``-whitelist`` entries as subnets, parsed as bans are (netaddr's ``parse_subnet``,
    peers by ``parse_host``), so the two always agree on who is meant: an IPv4-mapped IPv6
    address is its IPv4 address, and an IPv6 scope id is ignored (Core: NetWhitelistPermissions
    holds a CSubNet and matches it with CSubNet::Match, as BanMan does). ValueError, in one
    line naming the entry, for anything else."""
    nets = []
    for entry in entries:
        try:
            nets.append(parse_subnet(entry))
        except ValueError as e:
            raise ValueError(f"whitelist: {e}") from None
    return nets


def _host_ip(host: str) -> Address | None:
    """A peer's address as bans and the whitelist read it (netaddr's ``parse_host``), or None
    for a host name (a ``--connect`` peer), which neither ever matches."""
    try:
        return parse_host(host)
    except ValueError:
        return None


class P2PService:
    def __init__(self, params: Params, node: NodeHooks, datadir: Path,
                 config: P2PConfig | None = None) -> None:
        self.params = params
        self.node = node
        self.datadir = datadir
        self.config = config or P2PConfig()
        self.peers: dict[int, Peer] = {}
        self._ids = itertools.count(1)
        self._whitelist = parse_whitelist(self.config.whitelist)
        self._tasks: set[asyncio.Task] = set()
        self._db: Database | None = None
        self.addrman: AddrMan | None = None
        self.banman: BanMan | None = None
        self.connman: ConnectionManager | None = None
        self.sync: BlockSync | None = None
        self.relay: TxRelay | None = None
        self.gossip: AddrGossip | None = None
        self.handlers: dict[str, Callable[[Peer, Message], Awaitable[None]]] = {}

    # -- life cycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        node, cfg = self.node, self.config
        chain, mempool = node.chain, node.mempool
        assert chain is not None and mempool is not None
        self._db = Database(self.datadir / PEERS_DB)
        self.addrman = AddrMan(self._db, routable_only=self.params.name == "main")
        self.banman = BanMan(self._db)
        self.sync = BlockSync(chain, self.peers, node.submit_block, self._punish,
                              cfg.sync_timeouts)
        self.relay = TxRelay(mempool, self.peers, node.submit_tx, self._punish,
                             self.may_ask_mempool)
        bind = cfg.bind or (DEFAULT_P2P_HOST, self.params.default_port)
        self.connman = ConnectionManager(
            connect_peer=self._dial, accept_peer=self._accept, peers=self.peers,
            addrman=self.addrman, banman=self.banman, bind=bind, listen=cfg.listen,
            connect=cfg.connect, addnode=cfg.addnode, max_outbound=cfg.max_outbound,
            max_inbound=cfg.max_inbound)
        self.gossip = AddrGossip(self.addrman, self.peers, lambda: self.connman.listen_address
                                 if self.connman else None)
        self.handlers = {**self.sync.handlers, **self.relay.handlers, **self.gossip.handlers,
                         "inv": self._on_inv, "getdata": self._on_getdata,
                         "sendheaders": self._on_sendheaders}
        self.sync.start()
        self.relay.start()
        chain.listeners.append(self.relay)
        await self.connman.start()

    async def stop(self) -> None:
        if self.connman is not None:
            await self.connman.stop()
        for peer in list(self.peers.values()):
            peer.close("shutting down")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self.sync is not None:
            await self.sync.stop()
        if self.relay is not None:
            await self.relay.stop()
            chain = self.node.chain
            if chain is not None and self.relay in chain.listeners:
                chain.listeners.remove(self.relay)
        if self.addrman is not None:
            self.addrman.close()
        if self.banman is not None:
            self.banman.close()
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def listen_address(self) -> tuple[str, int] | None:
        return self.connman.listen_address if self.connman else None

    # -- connections -------------------------------------------------------------------------------
    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _new_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                  inbound: bool, host: str, port: int, manual: bool) -> Peer:
        peer = Peer(self, reader, writer, peer_id=next(self._ids), inbound=inbound,
                    host=host, port=port, magic=self.params.magic, manual=manual,
                    whitelisted=self.is_whitelisted(host),
                    timeouts=self.config.peer_timeouts)
        self.peers[peer.id] = peer
        return peer

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      host: str, port: int) -> None:
        """An inbound connection the connection manager let in, from ``host`` (canonical)."""
        peer = self._new_peer(reader, writer, inbound=True, host=host, port=port, manual=False)
        log.debug("%r: inbound connection", peer)
        await peer.run()

    def _dial(self, host: str, port: int, manual: bool) -> asyncio.Task:
        return self._spawn(self._connect(host, port, manual))

    async def _connect(self, host: str, port: int, manual: bool) -> Peer | None:
        assert self.connman is not None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, local_addr=self._source_address(host)),
                CONNECT_TIMEOUT)
        except (TimeoutError, OSError) as e:
            log.debug("connecting to %s failed: %s", HostPort(host, port), e or type(e).__name__)
            self.connman.failed(host, port)
            return None
        peer = self._new_peer(reader, writer, inbound=False, host=host, port=port,
                              manual=manual)
        self._spawn(peer.run())
        return peer

    def _source_address(self, host: str) -> tuple[str, int] | None:
        """Bound to one loopback address (``--p2p-bind 127.0.0.3:18444``), the node also
        connects out from it, so that nodes sharing a machine on 127.0.0.0/8 see each other
        at distinct addresses (bans and address gossip tell them apart; see regtest/).
        Otherwise the kernel picks the source, as for Bitcoin Core."""
        bind = self.config.bind
        if bind is None:
            return None
        try:
            ours, theirs = ipaddress.ip_address(bind[0]), ipaddress.ip_address(host)
        except ValueError:
            return None
        if ours.is_loopback and theirs.is_loopback and ours.version == theirs.version:
            return (bind[0], 0)
        return None

    async def connect(self, host: str, port: int, timeout: float = 10.0) -> Peer:
        """Connect to a peer now (the admin API's one-shot connection); raises ConnectionError
        if it does not complete its handshake in ``timeout`` seconds."""
        assert self.connman is not None
        host = canonical_or_name(host)
        peer = await self._dial(host, port, manual=True)
        if peer is None:
            raise ConnectionError(f"cannot connect to {HostPort(host, port)}")
        deadline = asyncio.get_running_loop().time() + timeout
        while not peer.established:
            if peer.closed:
                raise ConnectionError(f"{peer.address} closed the connection: "
                                      f"{peer.close_reason}")
            if asyncio.get_running_loop().time() > deadline:
                peer.close("handshake timeout")
                raise ConnectionError(f"{peer.address} did not complete the handshake")
            await asyncio.sleep(0.02)
        return peer

    def disconnect(self, peer_id: int) -> bool:
        peer = self.peers.get(peer_id)
        if peer is None:
            return False
        peer.close("disconnected by request")
        return True

    def is_whitelisted(self, host: str) -> bool:
        """Core's -whitelist with the noban and mempool permissions: never disconnected or
        discouraged for misbehaving, served BIP35 ``mempool`` requests, sent transaction
        announcements without trickle delay. Worked out once per connection, into
        ``Peer.whitelisted``, which is what the service and relay read. A host name (a
        ``--connect`` peer) is never whitelisted."""
        if not self._whitelist:
            return False
        ip = _host_ip(host)
        return ip is not None and any(ip in net for net in self._whitelist)

    def may_ask_mempool(self, peer: Peer) -> bool:
        """Whether a BIP35 ``mempool`` request from ``peer`` is answered: whitelisted (Core:
        NetPermissionFlags::Mempool) or local (our addition; Core grants local peers nothing
        by default). The host is read as bans and the whitelist read it (``parse_host``), so an
        IPv4-mapped loopback peer (``::ffff:127.0.0.1``) is local, as in Core, whose CNetAddr
        holds a mapped address as IPv4 and so finds it IsLocal."""
        if peer.whitelisted:
            return True
        ip = _host_ip(peer.host)
        return ip is not None and is_local_ip(ip)

    # -- PeerOwner ---------------------------------------------------------------------------------
    def version_for(self, peer: Peer) -> Version:
        chain = self.node.chain
        assert chain is not None
        host = peer.host if is_ip(peer.host) else "0.0.0.0"
        return version_message(host, peer.port, peer.nonce, chain.height, USER_AGENT)

    def is_own_nonce(self, nonce: int) -> bool:
        for p in self.peers.values():
            if not p.inbound and p.nonce == nonce:
                # The address we dialled is ourselves: never dial it again.
                assert self.connman is not None
                self.connman.own_addresses.add((p.host, p.port))
                if self.addrman is not None and is_ip(p.host):
                    self.addrman.remove(p.host, p.port)
                return True
        return False

    def on_established(self, peer: Peer) -> None:
        assert self.sync and self.relay and self.gossip and self.connman
        v = peer.version
        assert v is not None
        log.info("peer connected: %r %s version %d, height %d%s", peer, v.user_agent,
                 v.version, v.start_height, " (manual)" if peer.manual else "")
        if not peer.inbound:
            self.connman.connected(peer)
        if v.version >= SENDHEADERS_VERSION:
            peer.send(SendHeaders())  # BIP130: announce blocks to us with headers
        peer.send_ping()
        self.relay.peer_established(peer)
        self.gossip.peer_established(peer)
        self.sync.peer_established(peer)

    async def on_message(self, peer: Peer, msg: Message) -> None:
        handler = self.handlers.get(msg.command)
        if handler is not None:
            await handler(peer, msg)

    def on_misbehaving(self, peer: Peer, reason: str) -> None:
        """The one place a misbehaving peer is punished, whoever found it out (a message
        handler, an undecodable frame, a stored block found invalid later, a failed orphan),
        with Core's rule (MaybeDiscourageAndDisconnect): a whitelisted (noban) peer or one we
        were told to connect to is neither disconnected nor discouraged ("not punishing
        manually connected peer"); any other is disconnected and its address discouraged."""
        if peer.whitelisted:
            log.warning("%r misbehaved (%s): not punished, whitelisted", peer, reason)
            return
        if peer.manual:
            log.warning("%r misbehaved (%s): not punished, manually connected", peer, reason)
            return
        log.warning("%r misbehaved: %s; discouraged for 24 h", peer, reason)
        if self.banman is not None and is_ip(peer.host):
            self.banman.discourage(peer.host)
        peer.close(reason)

    def _punish(self, peer_id: int, reason: str) -> None:
        peer = self.peers.get(peer_id)
        if peer is not None:
            self.on_misbehaving(peer, reason)

    def on_disconnect(self, peer: Peer) -> None:
        if self.peers.pop(peer.id, None) is None:
            return
        if peer.established:
            # One info line per disconnect: a reason Peer.run already logged at info (an
            # unreadable stream) is repeated only at debug.
            log.log(logging.DEBUG if peer.close_logged else logging.INFO,
                    "peer disconnected: %r (%s)", peer, peer.close_reason)
        else:
            log.debug("%r closed before the handshake: %s", peer, peer.close_reason)
        if not peer.inbound and self.connman is not None:
            # One step of back-off per connection lost, handshake done or not (a peer we
            # keep connected is redialled after it; connman ignores the others).
            self.connman.failed(peer.host, peer.port)
        if self.sync is not None:
            self.sync.peer_gone(peer)
        if self.relay is not None:
            self.relay.peer_gone(peer)
        if self.gossip is not None:
            self.gossip.peer_gone(peer)

    # -- messages that concern several parts -------------------------------------------------------
    async def _on_sendheaders(self, peer: Peer, msg: Message) -> None:
        peer.prefer_headers = True

    async def _on_inv(self, peer: Peer, msg: Inv) -> None:
        assert self.sync and self.relay
        blocks = [i.hash for i in msg.items if i.type & ~MSG_WITNESS_FLAG == MSG_BLOCK]
        txs = [i for i in msg.items if i.type & ~MSG_WITNESS_FLAG in (MSG_TX, MSG_WTX)]
        if blocks:
            self.sync.on_block_inv(peer, blocks)
        if txs:
            self.relay.on_tx_inv(peer, txs)

    async def _on_getdata(self, peer: Peer, msg: GetData) -> None:
        assert self.sync and self.relay
        missing = []
        for item in msg.items:
            if peer.closed:
                return
            base = item.type & ~MSG_WITNESS_FLAG
            if base == MSG_BLOCK:
                if self.sync.serve_block(peer, item):
                    await peer.drain()  # Core: stop serving while the send buffer is full
            elif base in (MSG_TX, MSG_WTX):
                if not self.relay.serve_tx(peer, item):
                    missing.append(item)
        if missing:
            peer.send(NotFound(tuple(missing)))
        await peer.drain()

    # -- admin -------------------------------------------------------------------------------------
    def peer_list(self) -> list[dict]:
        return [p.info() for p in sorted(self.peers.values(), key=lambda p: p.id)]

    def ban(self, subnet: str, seconds: int) -> None:
        assert self.banman is not None
        self.banman.ban(subnet, seconds)
        for peer in list(self.peers.values()):
            if is_ip(peer.host) and self.banman.is_banned(peer.host):
                peer.close("banned")

    def unban(self, subnet: str) -> bool:
        assert self.banman is not None
        return self.banman.unban(subnet)

    def list_bans(self) -> list[dict]:
        assert self.banman is not None
        return self.banman.list_bans()
