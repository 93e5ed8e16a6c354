"""Which host strings are IP addresses: one answer for every part of the P2P layer, scoped IPv6
literals (``fe80::1%eth0``, as the kernel reports a link-local peer) included; and NetAddr's
two ways in (text, or the wire's 16 bytes) giving one address."""

from __future__ import annotations

import dataclasses
import ipaddress
import random
from types import SimpleNamespace

import pytest

from node.consensus.params import REGTEST
from node.consensus.serialize import ByteReader
from node.p2p import netaddr
from node.p2p.connman import ConnectionManager
from node.p2p.messages import Addr, AddrV2, decode_message
from node.p2p.netaddr import NetAddr, canonical_host, ip16_to_host, parse_host, storable
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
    assert accepts(storable) is expected


def test_a_scoped_address_keeps_its_scope_in_text_and_drops_it_on_the_wire():
    assert canonical_host("FE80::0001%eth0") == SCOPED  # still dialable
    assert canonical_host("::ffff:10.0.0.1%eth0") == "10.0.0.1"  # IPv4 has no scope
    assert NetAddr(0, SCOPED, 1).ip16 == ipaddress.ip_address("fe80::1").packed


# Wire forms whose text has more than one spelling: IPv4-mapped, IPv4-compatible (glibc's
# inet_ntop writes "::1.2.3.4"), IPv4-translated, the unspecified and all-ones addresses,
# link-local, a documentation address with zero runs; then random ones.
_SPECIAL_IP16 = [
    bytes(10) + b"\xff\xff" + bytes((1, 2, 3, 4)),
    bytes(10) + b"\xff\xff" + bytes(4),
    bytes(12) + bytes((1, 2, 3, 4)),
    bytes(8) + b"\xff\xff" + bytes(2) + bytes((1, 2, 3, 4)),
    bytes(15) + b"\x01",
    bytes(16),
    b"\xff" * 16,
    ipaddress.ip_address("fe80::1").packed,
    ipaddress.ip_address("2001:db8:0:0:1:0:0:1").packed,
]
_rng = random.Random(155)
_RANDOM_IP16 = [_rng.randbytes(16) for _ in range(200)] + \
    [bytes(10) + b"\xff\xff" + _rng.randbytes(4) for _ in range(50)]


def _storable_by_ipaddress(host: str) -> bool:
    """The address manager's rule as it was first written, with ipaddress: the reference."""
    ip = ipaddress.ip_address(host)
    return ip.version == 4 or not (ip.is_link_local or ip.scope_id is not None)


@pytest.mark.parametrize("host", [
    "fe80::1", SCOPED, "FE80::1%2", "febf:ffff::1", "fe7f::1", "fec0::1", "fd00::1", "::1",
    "::", "::ffff:169.254.0.1", "::ffff:10.0.0.1%eth0", "169.254.1.1", "127.0.0.1",
    "2001:db8::1%eth0", "::1.2.3.4", "fe80::1.2.3.4",
] + [str(ipaddress.IPv6Address(b)) for b in _RANDOM_IP16[:50]]
  + [str(ipaddress.IPv6Address(b"\xfe" + bytes([x]) + bytes(14))) for x in range(0, 256, 16)])
def test_what_the_address_manager_stores_is_decided_from_the_wire_form_as_before(host):
    """Link-local IPv6 (fe80::/10) and anything scoped is never stored (see addrman);
    the rule moved next to NetAddr and reads the bytes NetAddr already holds."""
    assert storable(host) is _storable_by_ipaddress(host)
    addr = NetAddr(1, host, 8333)
    assert addr.storable is storable(addr.host) is _storable_by_ipaddress(addr.host)


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


@pytest.mark.parametrize("ip16", _SPECIAL_IP16 + _RANDOM_IP16, ids=lambda b: b.hex())
def test_an_address_built_from_wire_bytes_equals_the_one_built_from_text(ip16):
    """The parsers build a NetAddr from its 16 bytes without parsing text; it must be the very
    address __init__ makes from any spelling of the same IP, down to the cached wire form."""
    from_wire = NetAddr.from_ip16(9, ip16, 8333, 1_700_000_000)
    spellings = {ip16_to_host(ip16), str(ipaddress.ip_address(ip16)),
                 ipaddress.ip_address(ip16).exploded}
    for text in spellings:
        from_text = NetAddr(9, text, 8333, 1_700_000_000)
        assert from_wire == from_text and hash(from_wire) == hash(from_text)
        assert (from_wire.host, from_wire.ip16) == (from_text.host, from_text.ip16)
        assert from_text.ip16 == ip16 and repr(from_wire) == repr(from_text)
    v1 = NetAddr.parse_v1(ByteReader(from_wire.serialize_v1()))
    assert (v1, v1.host, v1.ip16) == (from_wire, from_wire.host, ip16)


def test_the_cached_wire_form_is_not_compared_and_follows_replace():
    a = NetAddr(1, "::ffff:10.0.0.1", 8333)
    assert a == NetAddr(1, "10.0.0.1", 8333) and a.host == "10.0.0.1"
    b = dataclasses.replace(a, host="::1")  # recomputed from the new host, not copied
    assert b.ip16 == ipaddress.ip_address("::1").packed
    assert "ip16" not in repr(a)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.ip16 = bytes(16)  # type: ignore[misc]
    with pytest.raises(ValueError):
        NetAddr.from_ip16(1, bytes(4), 8333)
    with pytest.raises(ValueError):
        NetAddr.from_ip16(1, bytes(16), 65536)


class _NoIpaddress:
    def __getattr__(self, name: str):
        raise AssertionError(f"ipaddress.{name} used while (de)serialising addresses")


def test_addr_messages_are_parsed_and_serialised_without_parsing_host_text(monkeypatch):
    """A full addr message is 1,000 entries: parsing each host through ipaddress (~5 us) on
    the way in and again on the way out cost ~10 ms of event loop per message."""
    rng = random.Random(1)
    addrs = [NetAddr(1, f"10.{i >> 8}.{i & 255}.1", 8333, 1_700_000_000) for i in range(500)]
    addrs += [NetAddr(1, str(ipaddress.IPv6Address(rng.randbytes(16))), 8333, 1_700_000_000)
              for _ in range(500)]
    payloads = {"addr": Addr(tuple(addrs)).serialize(),
                "addrv2": AddrV2(tuple(addrs)).serialize()}
    monkeypatch.setattr(netaddr, "ipaddress", _NoIpaddress())
    for command, payload in payloads.items():
        msg = decode_message(command, payload)
        assert msg is not None and msg.serialize() == payload
    version_entry = addrs[-1].serialize_v1(with_time=False)
    assert NetAddr.parse_v1(ByteReader(version_entry), with_time=False) \
        .serialize_v1(with_time=False) == version_entry


def _group_by_ipaddress(host: str) -> str:
    """GetGroup as first written, with ipaddress on an unscoped host's text: the reference
    group_ip16's hand-written /16 and /32 are checked against."""
    ip = ipaddress.ip_address(host)
    if not ip.is_global:
        return "local4" if ip.version == 4 else "local6"
    return str(ipaddress.ip_network(f"{host}/{16 if ip.version == 4 else 32}", strict=False))


_GROUP_EDGES = [
    "8.8.8.8", "0.0.0.0", "10.1.2.3", "100.63.255.255", "100.64.0.1", "127.0.0.1",
    "169.254.1.1", "172.31.255.255", "172.32.0.1", "192.0.2.1", "240.0.0.1", "255.255.255.255",
    "::", "::1", "::1.2.3.4", "64:ff9b::8.8.8.8", "2001:db8::1", "2001:4860::8888",
    "2002:c000:204::1", "fc00::1", "fe80::1", "fec0::1", "ff02::1",
    # /32 prefixes with zero hextets: how inet_ntop and ipaddress compress them must agree.
    "0:1::", "1::", "1:0:1::", "0:0:1::",
]


@pytest.mark.parametrize("ip16", [netaddr.host_to_ip16(h) for h in _GROUP_EDGES]
                         + _SPECIAL_IP16 + _RANDOM_IP16[:20] + _RANDOM_IP16[-10:],
                         ids=lambda b: ip16_to_host(b))
def test_group_and_routability_follow_ipaddress(ip16):
    """group and is_routable read the wire form (group_ip16, is_routable_ip16); their answer
    is ipaddress's for the host text NetAddr keeps for those bytes."""
    host = ip16_to_host(ip16)
    assert netaddr.group_ip16(ip16) == netaddr.group(host) == _group_by_ipaddress(host)
    assert netaddr.is_routable_ip16(ip16) is netaddr.is_routable(host) \
        is ipaddress.ip_address(host).is_global


def test_every_spelling_of_an_address_is_in_one_group():
    """A scope id and the IPv6 spelling of an IPv4 address change nothing: the group is that
    of the address bytes (Core: GetGroup), whatever text the host arrived as."""
    assert netaddr.group("2001:4860::%eth0") == netaddr.group("2001:4860::") == "2001:4860::/32"
    assert netaddr.group("fe80::1%eth0") == "local6"
    assert netaddr.group("::ffff:8.8.8.8") == netaddr.group("8.8.8.8") == "8.8.0.0/16"
    assert netaddr.group("::FFFF:10.0.0.1") == "local4"
    assert not netaddr.is_routable("::ffff:10.0.0.1")
    assert netaddr.is_routable("2001:4860::1%eth0")
