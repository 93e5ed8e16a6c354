"""Address gossip into the address manager: Core's two-hour time penalty on relayed addresses."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from node.p2p.addrman import AddrMan
from node.p2p.gossip import AddrGossip
from node.p2p.messages import Addr, AddrV2
from node.p2p.netaddr import NetAddr
from node.p2p.peer import KnownSet

PEER = "11.0.0.1"
RELAYED = "11.1.0.1"


def test_relayed_addresses_are_aged_two_hours_but_the_senders_own_is_not(tmp_path):
    addrman = AddrMan(tmp_path / "peers")
    try:
        gossip = AddrGossip(addrman, {}, lambda: None)
        sent: list = []
        peer = SimpleNamespace(id=1, host=PEER, port=8333, inbound=False, send=sent.append,
                               known_addrs=KnownSet(), send_addrv2=True)
        gossip.peer_established(peer)  # type: ignore[arg-type]  # getaddr: tokens for a reply
        seen = int(time.time()) - 60
        for i, msg in enumerate((Addr, AddrV2)):  # both commands go the same way
            asyncio.run(gossip.on_addr(peer, msg((  # type: ignore[arg-type]
                NetAddr(9, RELAYED, 8333 + i, seen), NetAddr(9, PEER, 8333 + i, seen)))))
            relayed, own = addrman.info(RELAYED, 8333 + i), addrman.info(PEER, 8333 + i)
            assert relayed is not None and own is not None
            assert relayed.time == seen - 2 * 3600  # Core: nTimePenalty = 2h
            assert own.time == seen  # a self-announcement is not penalised
    finally:
        addrman.close()
