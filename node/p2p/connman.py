"""The connection manager: the listening socket and which peers to connect to.

Bitcoin Core's rules (net.cpp), reduced to what minicash needs:
- ``--connect``: only these peers, each kept connected, reconnecting with back-off; nothing is
  taken from the address manager and nothing else is dialled;
- ``--addnode``: these peers too, kept connected the same way, besides the automatic ones;
- automatic outbound connections fill up to ``max_outbound`` (8, Core's full-relay outbound
  count) from the address manager, one address per network group at a time, never a banned or
  discouraged address nor one we are connected to already; an address found to be ourselves
  (nonce check) is not dialled again;
- inbound connections up to ``max_inbound`` (125, Core's default -maxconnections less the
  outbound ones); banned addresses are refused at once, discouraged ones only when the inbound
  slots are full (Core keeps discouraged peers as the first to go);
- ``--no-listen``: no listening socket at all.
Connecting peers (manual ones included) are dialled with a 5-second timeout (Core:
DEFAULT_CONNECT_TIMEOUT). A ``--connect``/``--addnode`` peer is redialled after a back-off that
doubles from 1 s up to 60 s with each failure; an automatic address's failures are counted by
the address manager instead (Core: nAttempts), and it is not redialled within a minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from node.netutil import HostPort, bind_failed

from .netaddr import canonical_or_name, group, group_ip16, is_ip
from .peer import cancel_and_wait

if TYPE_CHECKING:
    from .peer import Peer

log = logging.getLogger("minicash.p2p")

MAX_OUTBOUND = 8  # Core: MAX_OUTBOUND_FULL_RELAY_CONNECTIONS
MAX_INBOUND = 125  # Core: DEFAULT_MAX_PEER_CONNECTIONS (its outbound ones not counted here)
CONNECT_TIMEOUT = 5.0  # Core: DEFAULT_CONNECT_TIMEOUT
BACKOFF_MAX = 60.0
TICK = 0.5
ADDRMAN_RETRY = 60.0  # an automatic address is not dialled again within a minute


class ConnectionManager:
    def __init__(self, *, connect_peer: Callable[..., asyncio.Future | asyncio.Task],
                 accept_peer: Callable[[asyncio.StreamReader, asyncio.StreamWriter, str, int],
                                       object],
                 peers: dict[int, Peer], addrman, banman,
                 bind: tuple[str, int] | None, listen: bool,
                 connect: list[tuple[str, int]], addnode: list[tuple[str, int]],
                 max_outbound: int = MAX_OUTBOUND, max_inbound: int = MAX_INBOUND) -> None:
        self.connect_peer = connect_peer  # (host, port, manual) -> task running the peer
        self.accept_peer = accept_peer  # (reader, writer, host, port) of an inbound peer let in
        self.peers = peers
        self.addrman = addrman
        self.banman = banman
        self.bind = bind
        self.listen = listen
        self.connect_only = [(canonical_or_name(h), p) for h, p in connect]
        self.addnode = [(canonical_or_name(h), p) for h, p in addnode]
        self.max_outbound = max_outbound
        self.max_inbound = max_inbound
        self.listen_address: tuple[str, int] | None = None
        self.own_addresses: set[tuple[str, int]] = set()
        self._backoff: dict[tuple[str, int], tuple[int, float]] = {}  # failures, next try
        self._dialling: dict[tuple[str, int], asyncio.Task] = {}
        self._last_auto_try: dict[tuple[str, int], float] = {}
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        if self.listen and self.bind is not None:
            host, port = self.bind
            try:
                self._server = await asyncio.start_server(self._on_inbound, host, port)
            except OSError as e:
                raise bind_failed("listen for peers", host, port, e) from None
            sock = self._server.sockets[0].getsockname()
            self.listen_address = HostPort(sock[0], sock[1])
            log.info("P2P listening on %s", self.listen_address)  # [::1]:18444
        else:
            log.info("P2P not listening (--no-listen)")
        self._task = asyncio.get_running_loop().create_task(self._outbound_loop())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        for task in list(self._dialling.values()):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- inbound -----------------------------------------------------------------------------------
    async def _on_inbound(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        if not peername:  # a socket already gone: nobody to ban, count or serve
            writer.close()
            return
        host, port = canonical_or_name(peername[0]), peername[1]
        inbound = sum(1 for p in self.peers.values() if p.inbound)
        if self.banman.is_banned(host):
            log.info("refused inbound %s: banned", host)
            writer.close()
            return
        if inbound >= self.max_inbound:
            log.info("refused inbound %s: %d inbound slots full%s", host, self.max_inbound,
                     " (discouraged)" if self.banman.is_discouraged(host) else "")
            writer.close()
            return
        await self.accept_peer(reader, writer, host, port)

    # -- outbound ----------------------------------------------------------------------------------
    def connected_to(self, host: str, port: int) -> bool:
        key = (host, port)
        return key in self._dialling or any(
            (p.host, p.port) == key and not p.inbound for p in self.peers.values())

    def dial(self, host: str, port: int, manual: bool) -> asyncio.Task:
        key = (host, port)
        task = self.connect_peer(host, port, manual)
        self._dialling[key] = task  # type: ignore[assignment]
        task.add_done_callback(lambda _t, key=key: self._dialling.pop(key, None))
        return task  # type: ignore[return-value]

    def connected(self, peer: Peer) -> None:
        """A dialled peer finished its handshake: reset its back-off, tell the address
        manager (Core: addrman Good), which keeps it across restarts."""
        key = (peer.host, peer.port)
        self._backoff.pop(key, None)
        if is_ip(peer.host):
            self.addrman.good(peer.host, peer.port, peer.services)

    def failed(self, host: str, port: int) -> None:
        """A connection to a peer we keep connected (``--connect``, ``--addnode``) failed or
        ended: wait before dialling it again, 1 s doubling up to 60 s; call once per failure.
        Automatic peers are left to the address manager, as in Core (AddrMan::Attempt counts
        nAttempts, which GetChance and IsTerrible weigh; see ``tick``), so nothing is kept
        for them here, nor for the admin API's one-shot connections, never redialled."""
        key = (host, port)
        if key not in self.connect_only and key not in self.addnode:
            return
        failures, _ = self._backoff.get(key, (0, 0.0))
        delay = min(2.0 ** failures, BACKOFF_MAX)
        self._backoff[key] = (failures + 1, time.monotonic() + delay)

    def _due(self, key: tuple[str, int], now: float) -> bool:
        return self._backoff.get(key, (0, 0.0))[1] <= now

    async def _outbound_loop(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # a bug in one tick must not end outbound dialling for good
                log.exception("outbound connection tick failed")
            await asyncio.sleep(TICK)

    def _exclude_from_selection(self) -> set[tuple[str, int]]:
        """The keys the address manager must not pick this tick, all canonical as its own keys
        are (``select`` compares them as they are, parsing none): peer, dial and try keys
        already are (``canonical_or_name``, or picks of ``select``) or are host names, which
        match no entry; only the listening socket's address is the kernel's text. Built once
        per tick: within a tick only the addresses picked join it (each also goes to
        _last_auto_try, and a dialled one to _dialling), so ``tick`` adds them as they come."""
        exclude = {(p.host, p.port) for p in self.peers.values()} | set(self._dialling) \
            | self.own_addresses | set(self._last_auto_try)
        if self.listen_address is not None:
            host, port = self.listen_address
            exclude.add((canonical_or_name(host), port))
        return exclude

    def tick(self) -> None:
        now = time.monotonic()
        manual = self.connect_only or self.addnode
        for host, port in manual:
            if not self.connected_to(host, port) and self._due((host, port), now):
                self.dial(host, port, manual=True)
        if self.connect_only:
            return  # Core: -connect disables automatic connections
        automatic = [p for p in self.peers.values() if not p.inbound and not p.manual]
        automatic_dialling = sum(1 for key in self._dialling if key not in manual)
        missing = self.max_outbound - len(automatic) - automatic_dialling
        # Only the last minute's tries hold an address back: older ones are dropped, so the
        # map stays as small as what was dialled in that minute on a node that runs for months.
        self._last_auto_try = {k: t for k, t in self._last_auto_try.items()
                               if now - t < ADDRMAN_RETRY}
        if missing <= 0:
            return  # the groups and exclusions below serve only a dial
        groups = {group(p.host) for p in automatic if is_ip(p.host)}
        exclude = self._exclude_from_selection()
        tried = 0
        while missing > 0 and tried < 20:
            tried += 1
            addr = self.addrman.select(exclude=exclude)
            if addr is None:
                return
            key = (addr.host, addr.port)
            exclude.add(key)
            self._last_auto_try[key] = now
            if self.banman.is_banned(addr.host) or self.banman.is_discouraged(addr.host):
                continue
            g = group_ip16(addr.ip16)  # addr is select()'s NetAddr: its bytes are at hand
            # Core: one outbound connection per network group; unroutable addresses (a test
            # network on one machine) share a group, so they are exempt.
            if g in groups and not g.startswith("local"):
                continue
            groups.add(g)
            self.addrman.attempt(addr.host, addr.port)
            self.dial(addr.host, addr.port, manual=False)
            missing -= 1
