"""Which host strings are IP addresses: one answer for every part of the P2P layer, scoped IPv6
literals (``fe80::1%eth0``, as the kernel reports a link-local peer) included."""

from __future__ import annotations

import ipaddress
from types import SimpleNamespace

import pytest

from node.consensus.params import REGTEST
from node.p2p.banman import parse_host
from node.p2p.connman import ConnectionManager
from node.p2p.netaddr import NetAddr, canonical_host
from node.p2p.service import P2PService

SCOPED = "fe80::1%eth0"


@pytest.mark.parametrize("host", [SCOPED, "FE80::0001%2", "fe80::1", "::1", "127.0.0.1",
                                  "::ffff:10.0.0.1", "localhost", "fe80::1%", "1.2.3.4%eth0",
                                  "999.1.1.1"])
def test_every_host_check_agrees_with_ipaddress(host):
    def accepts(f) -> bool:
        try:
            f(host)
        except ValueError:
            return False
        return True

    expected = accepts(ipaddress.ip_address)
    assert accepts(canonical_host) is expected
    assert accepts(lambda h: NetAddr(0, h, 1)) is expected
    assert accepts(parse_host) is expected


def test_a_scoped_address_keeps_its_scope_in_text_and_drops_it_on_the_wire():
    assert canonical_host("FE80::0001%eth0") == SCOPED  # still dialable
    assert canonical_host("::ffff:10.0.0.1%eth0") == "10.0.0.1"  # IPv4 has no scope
    assert NetAddr(0, SCOPED, 1).ip16 == ipaddress.ip_address("fe80::1").packed


def test_a_link_local_peer_gets_a_version_and_is_reported_when_it_connects(tmp_path):
    """A scoped peer used to be an IP for the service (so its version message was built with
    it, and raised) but a name for the connection manager (so it never reached addrman).
    The address manager then declines it (see test_addrman: link-local is never stored)."""
    node = SimpleNamespace(chain=SimpleNamespace(height=7), mempool=None)
    service = P2PService(REGTEST, node, tmp_path)  # type: ignore[arg-type]
    peer = SimpleNamespace(host=SCOPED, port=18444, nonce=1, services=9)
    version = service.version_for(peer)  # type: ignore[arg-type]
    assert version.addr_recv.ip16 == ipaddress.ip_address("fe80::1").packed

    good: list = []
    connman = ConnectionManager(
        connect_peer=lambda *a: None, accept_peer=lambda *a: None, peers={},
        addrman=SimpleNamespace(good=lambda *a: good.append(a)), banman=None, bind=None,
        listen=False, connect=[], addnode=[])
    connman.connected(peer)  # type: ignore[arg-type]
    assert good == [(SCOPED, 18444, 9)]
