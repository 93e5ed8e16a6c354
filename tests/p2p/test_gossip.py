"""Address gossip into the address manager: Core's two-hour time penalty on relayed addresses."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from node.p2p import netaddr
from node.p2p.gossip import AddrGossip
from node.p2p.messages import Addr, AddrV2, decode_message
from node.p2p.netaddr import NetAddr
from node.p2p.peer import KnownSet

PEER = "11.0.0.1"
RELAYED = "11.1.0.1"


def _sender(send=lambda m: None) -> SimpleNamespace:
    """The outbound peer at PEER that the tests' addr messages come from."""
    return SimpleNamespace(id=1, host=PEER, port=8333, inbound=False, send=send,
                           known_addrs=KnownSet(), send_addrv2=True)


def test_relayed_addresses_are_aged_two_hours_but_the_senders_own_is_not(addrman):
    gossip = AddrGossip(addrman, {}, lambda: None)
    sent: list = []
    peer = _sender(sent.append)
    gossip.peer_established(peer)  # type: ignore[arg-type]  # getaddr: tokens for a reply
    seen = int(time.time()) - 60
    for i, msg in enumerate((Addr, AddrV2)):  # both commands go the same way
        asyncio.run(gossip.on_addr(peer, msg((  # type: ignore[arg-type]
            NetAddr(9, RELAYED, 8333 + i, seen), NetAddr(9, PEER, 8333 + i, seen)))))
        relayed, own = addrman.info(RELAYED, 8333 + i), addrman.info(PEER, 8333 + i)
        assert relayed is not None and own is not None
        assert relayed.time == seen - 2 * 3600  # Core: nTimePenalty = 2h
        assert own.time == seen  # a self-announcement is not penalised


def test_implausible_times_become_five_days_ago_before_relay_and_storage(addrman):
    """Core's ProcessMessage: a time before 1973 or over 10 minutes ahead is replaced by five
    days ago, which is what decides relay (not fresh) and what AddrMan::Add then ages by 2 h."""
    peers: dict = {}
    gossip = AddrGossip(addrman, peers, lambda: None)
    sent: list = []
    relayed: list = []
    peer = _sender(sent.append)
    other = SimpleNamespace(id=2, host="11.9.0.1", port=8333, inbound=True,
                            send=relayed.append, known_addrs=KnownSet(), send_addrv2=True,
                            established=True, closed=False)
    peers.update({1: peer, 2: other})
    gossip.peer_established(peer)  # type: ignore[arg-type]
    before = int(time.time())
    asyncio.run(gossip.on_addr(peer, AddrV2((  # type: ignore[arg-type]
        NetAddr(9, "11.1.0.1", 8333, before + 3600),  # an hour ahead
        NetAddr(9, "11.1.0.2", 8333, 50),  # 1970
        NetAddr(9, "11.1.0.3", 8333, before - 60)))))  # fresh
    after = int(time.time())
    for host in ("11.1.0.1", "11.1.0.2"):
        info = addrman.info(host, 8333)
        assert info is not None
        assert before - 5 * 86400 - 7200 <= info.time <= after - 5 * 86400 - 7200
    fresh = addrman.info("11.1.0.3", 8333)
    assert fresh is not None and fresh.time == before - 60 - 7200
    assert [a.host for m in relayed for a in m.addrs] == ["11.1.0.3"]


def test_a_corrected_time_makes_the_same_address_without_parsing_its_host(addrman,
                                                                         monkeypatch):
    """An addr message of 1,000 entries may need every time fixed: the fixed entry is made from
    the bytes already parsed off the wire, and is the address the text would make."""
    gossip = AddrGossip(addrman, {}, lambda: None)
    peer = _sender()
    gossip.peer_established(peer)  # type: ignore[arg-type]
    hosts = [f"11.1.{i}.1" for i in range(100)] + [f"2001:4860:{i:x}::1" for i in range(100)]
    sent = AddrV2(tuple(NetAddr(9, h, 8333, 50) for h in hosts))  # 1970: corrected
    received = decode_message("addrv2", sent.serialize())
    stored: list[NetAddr] = []
    real_add = addrman.add

    def recording_add(addrs, **kw):
        stored.extend(addrs)
        return real_add(addrs, **kw)

    monkeypatch.setattr(addrman, "add", recording_add)
    monkeypatch.setattr(netaddr, "canonical_host_and_ip16",
                        lambda h: pytest.fail(f"{h} parsed"))
    before = int(time.time())
    asyncio.run(gossip.on_addr(peer, received))  # type: ignore[arg-type]
    after = int(time.time())
    monkeypatch.undo()
    assert [a.host for a in stored] == [a.host for a in sent.addrs]
    assert len(addrman) == 200
    for a in stored:
        assert before - 5 * 86400 <= a.time <= after - 5 * 86400
        want = NetAddr(9, a.host, 8333, a.time)
        assert (a, a.host, a.ip16) == (want, want.host, want.ip16)


@pytest.mark.parametrize(("reached", "advertised"), [("127.0.0.1", True), ("11.0.0.1", False),
                                                     (None, False)])
def test_our_unroutable_address_goes_to_a_named_peer_by_the_ip_it_was_reached_at(
        addrman, reached, advertised):
    """A --connect/--addnode peer named by host name: whether our unroutable listening address
    is worth telling it is judged by the IP the connection reached (Core: CNode::addr), not by
    parsing the name (which raised, and closed the connection after every handshake)."""
    gossip = AddrGossip(addrman, {}, lambda: ("127.0.0.1", 18444))
    peername = (reached, 18444) if reached else None
    writer = SimpleNamespace(get_extra_info=lambda key: peername if key == "peername" else None)
    peer = SimpleNamespace(host="node.example.org", port=18444, writer=writer,
                           version=SimpleNamespace(addr_recv=NetAddr(0, "127.0.0.1", 0)))
    own = gossip.own_address_for(peer)  # type: ignore[arg-type]
    assert (own is not None) == advertised
    if advertised:
        assert (own.host, own.port) == ("127.0.0.1", 18444)
