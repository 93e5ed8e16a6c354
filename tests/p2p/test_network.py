"""Functional tests: real node processes on 127.0.0.1 talking Bitcoin's wire protocol."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest

from node.consensus.address import script_to_address
from node.consensus.params import REGTEST
from node.p2p.messages import TxMsg

from ..chain.builder import Wallet
from .framework import (
    WALLET,
    Network,
    NodeProcess,
    build_chain,
    same_tip,
    spend_coinbase,
    spend_output,
    wait_until,
)
from .wire_client import WireClient


@pytest.fixture
def net(tmp_path):
    network = Network(tmp_path, ["--whitelist", "127.0.0.1"])
    try:
        yield network
    finally:
        network.stop_all()


def test_two_nodes_handshake_and_measure_ping(net):
    a = net.node("a").start()
    b = net.node("b").start("--connect", net.nodes[0].p2p_address)
    a.wait_for_log("peer connected")
    b.wait_for_log("peer connected")
    (pa,) = wait_until(lambda: [p for p in b.peers() if p["ping_ms"] is not None
                                and not p["inbound"]], what="a ping round trip")
    assert pa["address"] == a.p2p_address
    assert pa["user_agent"].startswith("/minicash:") and pa["version"] == 70016
    assert pa["wtxid_relay"] and pa["prefer_headers"]
    assert 0 < pa["ping_ms"] < 5_000
    # b announced where it listens, so a (free to pick peers) also connects out to b; b, held
    # to --connect, dials nobody else.
    wait_until(lambda: any(not p["inbound"] and p["address"] == b.p2p_address
                           for p in a.peers()), what="a dialling b's announced address")
    assert [p["inbound"] for p in b.peers()].count(False) == 1


def test_a_node_bound_to_one_loopback_address_connects_out_from_it(net, tmp_path):
    # Nodes sharing a machine on 127.0.0.0/8 (as regtest/ runs them) must look distinct to
    # each other, or a ban of one would cut them all.
    a = NodeProcess(tmp_path / "a2", "a2", host="127.0.4.2")
    b = NodeProcess(tmp_path / "b2", "b2", host="127.0.4.3")
    net.nodes += [a, b]
    a.start()
    b.start("--connect", a.p2p_address)
    (inbound,) = wait_until(lambda: [p for p in a.peers() if p["inbound"]],
                            what="b's inbound connection")
    assert inbound["address"].startswith("127.0.4.3:")


def test_initial_sync_of_a_500_block_chain_then_relay_along_a_line(net, tmp_path):
    a, b, c = net.node("a"), net.node("b"), net.node("c")
    hashes = build_chain(a.datadir, 500)
    # --connect everywhere keeps it a line: nobody dials the addresses it hears of.
    a.start("--connect", b.p2p_address)
    b.start("--connect", a.p2p_address)
    c.start("--connect", b.p2p_address)
    wait_until(lambda: same_tip([a, b, c]) == hashes[-1].hash[::-1].hex(), 60,
               "all three nodes at the 500-block tip")
    assert c.height() == 500
    # A new block on one end crosses the line to the other.
    (new,) = a.generate(1)
    wait_until(lambda: c.tip() == new, 30, "the new block at the far end")
    (back,) = c.generate(1)
    wait_until(lambda: a.tip() == back, 30, "a block from the far end back to the start")


def test_transactions_cross_a_line_and_orphans_fetch_their_parents(net):
    a, b, c = net.node("a"), net.node("b"), net.node("c")
    blocks = build_chain(a.datadir, 110)
    a.start("--connect", b.p2p_address)
    b.start("--connect", a.p2p_address)
    c.start("--connect", b.p2p_address)
    wait_until(lambda: same_tip([a, b, c]) == blocks[-1].hash[::-1].hex(), 60, "synced line")

    tx = spend_coinbase(blocks[0])
    txid = a.post_tx(tx)
    wait_until(lambda: txid in c.mempool(), 30, "the transaction at the far end")

    # A child whose parent c has never seen: c keeps it as an orphan and asks the sender for
    # the parent; once given, both enter the pool and travel back along the line.
    parent = spend_coinbase(blocks[1])
    child = spend_output(parent)

    async def orphan_story() -> None:
        client = await WireClient().connect("127.0.0.1", c.p2p_port)
        try:
            await client.handshake(start_height=0)
            client.send(TxMsg(child))
            deadline = time.monotonic() + 20
            while True:
                msg = await client.expect("getdata", deadline - time.monotonic())
                if any(i.hash == parent.txid for i in msg.items):
                    break
            client.send(TxMsg(parent))
        finally:
            await asyncio.sleep(0.2)
            await client.close()

    asyncio.run(orphan_story())
    wait_until(lambda: {parent.txid[::-1].hex(), child.txid[::-1].hex()} <= set(a.mempool()),
               30, "parent and child back at the start of the line")
    # A block mined at the end confirms them everywhere.
    (tip,) = c.generate(1)
    wait_until(lambda: same_tip([a, b, c]) == tip and not a.mempool(), 30, "confirmed")


def test_address_gossip_lets_a_node_that_knew_one_peer_find_the_others(net):
    hub = net.node("hub").start()
    c = net.node("c").start("--addnode", hub.p2p_address)
    d = net.node("d").start("--addnode", hub.p2p_address)
    # c and d announced where they listen when they connected to the hub.
    wait_until(lambda: len(hub.peers()) >= 2, 30, "c and d at the hub")
    a = net.node("a").start("--addnode", hub.p2p_address)

    def dialled() -> set[str]:
        return {p["address"] for p in a.peers() if not p["inbound"]}

    wait_until(lambda: {c.p2p_address, d.p2p_address} <= dialled(), 30,
               "a connecting out to the peers it heard of")
    assert hub.p2p_address in dialled()


def test_restart_keeps_peers_and_bans(net):
    b = net.node("b").start()
    a = net.node("a").start("--addnode", b.p2p_address)
    wait_until(lambda: any(p["address"] == b.p2p_address for p in a.peers()), 30, "a -> b")
    bans = a.admin("POST", "/node/bans", {"address": "10.1.2.0/24", "seconds": 3600})
    assert [x["address"] for x in bans] == ["10.1.2.0/24"]
    a.admin("POST", "/node/bans", {"address": "192.0.2.7"})
    assert a.stop() == 0

    # No --addnode this time: b comes back from the address manager, the bans from disk.
    a.start()
    wait_until(lambda: any(p["address"] == b.p2p_address and not p["inbound"]
                           for p in a.peers()), 30, "a reconnecting to b after a restart")
    listed = {x["address"]: x for x in a.get("/node/bans")}
    assert set(listed) == {"10.1.2.0/24", "192.0.2.7/32"}
    assert listed["10.1.2.0/24"]["banned_until"] - listed["10.1.2.0/24"]["ban_created"] == 3600
    assert a.admin("DELETE", "/node/bans/10.1.2.0/24") == {"unbanned": "10.1.2.0/24"}
    assert [x["address"] for x in a.get("/node/bans")] == ["192.0.2.7/32"]


def test_partition_and_heal_reorgs_every_node_to_the_longest_chain(net):
    a = net.node("a")
    base = build_chain(a.datadir, 10)
    c = net.node("c")
    shutil.copytree(a.datadir, c.datadir)
    a.start()
    b = net.node("b").start("--connect", a.p2p_address)
    c.start()
    d = net.node("d").start("--connect", c.p2p_address)
    wait_until(lambda: b.height() == 10 and d.height() == 10, 30, "both halves at the base")
    assert base[-1].hash[::-1].hex() == same_tip([a, b, c, d])

    # Each half mines its own branch; the halves know nothing of each other.
    # (A payee per miner: two nodes mining on the same parent in the same second to the same
    # address would make the very same block.)
    a.generate(2)
    wait_until(lambda: b.height() == 12, 30, "b has a's blocks")
    short = b.generate(1, script_to_address(Wallet(b"b").script_pubkey, REGTEST))[-1]
    long = c.generate(4, script_to_address(WALLET.script_pubkey, REGTEST))[-1]
    wait_until(lambda: same_tip([a, b]) == short and same_tip([c, d]) == long, 30,
               "each half agreeing on its own branch")

    # Heal: one link between the halves, and everyone ends on the longer branch.
    b.connect(c)
    wait_until(lambda: same_tip([a, b, c, d]) == long, 60, "all four on the longest chain")
    assert all(n.height() == 14 for n in (a, b, c, d))
    a.wait_for_log("disconnected block 13")
