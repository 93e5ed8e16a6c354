"""Address gossip: ``addr``/``addrv2``/``getaddr`` and our own address announcement.

Bitcoin Core's rules (net_processing.cpp):
- received addresses go to the address manager with the sending peer as their source, their
  times aged by two hours unless it is the peer's own address (AddrMan::Add's time penalty); a
  time stamp over 10 minutes ahead or before 1973 becomes "five days ago"; each peer has a token
  bucket of 0.1 address per second (plus 1,000 for the reply to our ``getaddr``), and addresses
  beyond it are dropped unprocessed (MAX_ADDR_RATE_PER_SECOND);
- a small (at most 10 entries) announcement of fresh addresses (seen in the last 10 minutes) is
  relayed to two other peers that do not know them yet: that is how a new node's
  self-announcement spreads (RelayAddress);
- ``getaddr`` is answered once per connection and only to inbound peers (answering outbound
  ones would let an attacker fingerprint us), from the address manager (23% of it, at most
  1,000: Core's MAX_PCT_ADDR_TO_SEND / MAX_ADDR_TO_SEND), or all of a small one (ours);
- after the handshake with an outbound peer we send it ``getaddr`` and, if we listen, our own
  address as the peer sees it (Core: AdvertiseLocal / GetLocalAddrForPeer).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from .messages import MAX_ADDR_TO_SEND, OUR_SERVICES, Addr, AddrV2, GetAddr
from .netaddr import NetAddr, canonical_host, is_ip, is_routable
from .peer import Peer

log = logging.getLogger("minicash.p2p")

MAX_ADDR_RATE_PER_SECOND = 0.1  # Core
MAX_ADDR_PROCESSING_TOKEN_BUCKET = MAX_ADDR_TO_SEND  # Core
MAX_PCT_ADDR_TO_SEND = 23  # Core
RELAY_FANOUT = 2  # Core relays a fresh address to two peers
FRESH_ADDR_AGE = 600  # Core: only addresses seen in the last 10 minutes are relayed
# Core: ProcessMessage passes 2h as AddrMan::Add's time penalty for addresses from addr/addrv2.
ADDR_TIME_PENALTY = 2 * 3600
SMALL_TABLE = 64  # ours: up to this many known addresses, getaddr gets them all
# Core's ProcessMessage (ADDR/ADDRV2): a time before 1973 or over 10 minutes ahead is replaced by
# five days ago, here and only here; the address manager takes times as given (AddrMan::Add only
# applies the penalty). Core has no names for these numbers.
MIN_SANE_ADDR_TIME = 100_000_000
ADDR_FUTURE_SLACK = 600
UNKNOWN_ADDR_TIME_AGE = 5 * 86400


def _connected_ip(peer: Peer) -> str | None:
    """The IP a connection to ``peer`` reached (its socket's peer address), or None."""
    name = peer.writer.get_extra_info("peername")
    return canonical_host(name[0]) if name else None


class AddrGossip:
    def __init__(self, addrman, peers: dict[int, Peer],
                 listen_address: Callable[[], tuple[str, int] | None],
                 rng: random.Random | None = None) -> None:
        self.addrman = addrman
        self.peers = peers
        self.listen_address = listen_address
        self.rng = rng or random.Random()
        self._tokens: dict[int, tuple[float, float]] = {}  # peer -> (tokens, last update)
        self.handlers = {"addr": self.on_addr, "addrv2": self.on_addr,
                         "getaddr": self.on_getaddr}

    def peer_established(self, peer: Peer) -> None:
        self._tokens[peer.id] = (1.0, time.monotonic())  # Core starts the bucket at 1
        if peer.inbound:
            return
        peer.send(GetAddr())
        self._add_tokens(peer, MAX_ADDR_TO_SEND)
        own = self.own_address_for(peer)
        if own is not None:
            peer.known_addrs.add(_key(own))
            self.send_addrs(peer, [own])

    def peer_gone(self, peer: Peer) -> None:
        self._tokens.pop(peer.id, None)

    def own_address_for(self, peer: Peer) -> NetAddr | None:
        """Where this peer can reach us: our bound address if it is a specific one, else the
        address the peer says it sees us at, with our listening port. Unroutable addresses are
        advertised only to peers on unroutable addresses too (a test network on one machine)."""
        listening = self.listen_address()
        if listening is None or peer.version is None:
            return None
        host, port = listening
        if host in ("0.0.0.0", "::"):
            host = peer.version.addr_recv.host
            if host in ("0.0.0.0", "::"):
                return None
        if not is_routable(host):
            # Judged by the address the connection reached, as Core judges CNode::addr: a
            # --connect/--addnode peer named by host name has no IP in ``peer.host``.
            peer_ip = peer.host if is_ip(peer.host) else _connected_ip(peer)
            if peer_ip is None or is_routable(peer_ip):
                return None
        return NetAddr(OUR_SERVICES, host, port, int(time.time()))

    def send_addrs(self, peer: Peer, addrs: list[NetAddr]) -> None:
        peer.send(AddrV2(tuple(addrs)) if peer.send_addrv2 else Addr(tuple(addrs)))

    def _add_tokens(self, peer: Peer, extra: float = 0.0) -> float:
        tokens, last = self._tokens.get(peer.id, (1.0, time.monotonic()))
        now = time.monotonic()
        tokens = min(tokens + (now - last) * MAX_ADDR_RATE_PER_SECOND + extra,
                     MAX_ADDR_PROCESSING_TOKEN_BUCKET + extra)
        self._tokens[peer.id] = (tokens, now)
        return tokens

    async def on_addr(self, peer: Peer, msg: Addr | AddrV2) -> None:
        now = int(time.time())
        tokens = self._add_tokens(peer)
        accepted: list[NetAddr] = []
        relay: list[NetAddr] = []
        for addr in msg.addrs:
            if tokens < 1:
                break  # Core: over the rate limit, the rest is dropped unprocessed
            tokens -= 1
            if addr.port == 0 or addr.host in ("0.0.0.0", "::"):
                continue
            t = sanitised_addr_time(addr.time, now)
            if t != addr.time:  # the fixed time is relayed and stored, as in Core
                # From the bytes the entry holds, not its host text: dataclasses.replace would
                # run __post_init__ and parse the host again (a wire address has no scope id
                # for from_ip16 to drop).
                addr = NetAddr.from_ip16(addr.services, addr.ip16, addr.port, t)
            peer.known_addrs.add(_key(addr))
            accepted.append(addr)
            if addr.time > now - FRESH_ADDR_AGE and len(msg.addrs) <= 10:
                relay.append(addr)
        self._tokens[peer.id] = (tokens, time.monotonic())
        if accepted:
            self.addrman.add(accepted, source=peer.host, penalty=ADDR_TIME_PENALTY)
        for addr in relay:
            self._relay(addr, peer)

    def _relay(self, addr: NetAddr, source: Peer) -> None:
        key = _key(addr)
        candidates = [p for p in self.peers.values()
                      if p is not source and p.established and not p.closed
                      and key not in p.known_addrs]
        for peer in self.rng.sample(candidates, min(RELAY_FANOUT, len(candidates))):
            peer.known_addrs.add(key)
            self.send_addrs(peer, [addr])

    async def on_getaddr(self, peer: Peer, msg: GetAddr) -> None:
        if not peer.inbound:
            return  # Core: ignored from outbound peers (anti-fingerprinting)
        if peer.getaddr_answered:
            return  # Core: once per connection
        peer.getaddr_answered = True
        # Core's 23% keeps a peer from scraping the whole table; a table this small has
        # nothing to hide and a new network could not bootstrap from 23% of it (ours).
        pct = 100 if len(self.addrman) <= SMALL_TABLE else MAX_PCT_ADDR_TO_SEND
        addrs = self.addrman.get_addr(MAX_ADDR_TO_SEND, pct)
        for a in addrs:
            peer.known_addrs.add(_key(a))
        self.send_addrs(peer, addrs)


def sanitised_addr_time(t: int, now: int) -> int:
    """An address's claimed last-seen time, or "five days ago" if it is implausible (Core:
    ``addr.nTime = current_a_time - 5 * 24h`` in ProcessMessage's ADDR handling)."""
    if t <= MIN_SANE_ADDR_TIME or t > now + ADDR_FUTURE_SLACK:
        return now - UNKNOWN_ADDR_TIME_AGE
    return t


def _key(addr: NetAddr) -> bytes:
    return f"{addr.host}|{addr.port}".encode()
