"""Functional tests: real node processes on 127.0.0.1 talking Bitcoin's wire protocol."""

from __future__ import annotations

import pytest

from .framework import Network, build_chain, same_tip, wait_until


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


def test_initial_sync_of_a_500_block_chain_then_relay_along_a_line(net, tmp_path):
    a = net.node("a")
    hashes = build_chain(a.datadir, 500)
    a.start()
    b = net.node("b").start("--connect", a.p2p_address)
    c = net.node("c").start("--connect", b.p2p_address)
    wait_until(lambda: same_tip([a, b, c]) == hashes[-1][::-1].hex(), 20,
               "all three nodes at the 500-block tip")
    assert c.height() == 500
    # A new block on one end crosses the line to the other.
    (new,) = a.generate(1)
    wait_until(lambda: c.tip() == new, 30, "the new block at the far end")
    (back,) = c.generate(1)
    wait_until(lambda: a.tip() == back, 30, "a block from the far end back to the start")
