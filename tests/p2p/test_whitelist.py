"""Who ``--whitelist`` means: the same hosts a ban of the same entry means (IPv4-mapped IPv6
is IPv4, scope ids are ignored), and a bad entry is a one-line error before the node starts.
Who may ask for the mempool (BIP35): whitelisted or local peers, their hosts read alike."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from node.consensus.params import REGTEST
from node.p2p import service as service_mod
from node.p2p.banman import BanMan
from node.p2p.peer import Peer
from node.p2p.service import P2PConfig, P2PService
from tests.run_capture import invoke_run


def whitelisting(tmp_path, entries: list[str]) -> P2PService:
    node_hooks = SimpleNamespace(chain=None, mempool=None)
    return P2PService(REGTEST, node_hooks, tmp_path,  # type: ignore[arg-type]
                      P2PConfig(whitelist=entries))


def connected(service: P2PService, host: str) -> Peer:
    """An inbound peer at ``host`` as the service makes one: its whitelisting decided then."""
    writer = SimpleNamespace(transport=SimpleNamespace(set_write_buffer_limits=lambda high: None))
    return service._new_peer(None, writer, inbound=True, host=host, port=18444,  # type: ignore[arg-type]
                             manual=False)


@pytest.mark.parametrize("entry, host", [
    ("127.0.0.1", "::ffff:127.0.0.1"),
    ("127.0.0.0/8", "::ffff:127.0.0.5"),
    ("::ffff:127.0.0.1", "127.0.0.1"),
    ("::ffff:10.0.0.0/104", "10.1.2.3"),
    ("fe80::1%eth0", "fe80::1%eth1"),
    ("fe80::1%eth0", "fe80::1"),
    ("fe80::1", "fe80::1%eth0"),
])
def test_a_peer_is_whitelisted_whatever_form_its_address_or_the_entry_takes(tmp_path, entry,
                                                                             host):
    assert whitelisting(tmp_path, [entry]).is_whitelisted(host)


@pytest.mark.parametrize("entry", ["127.0.0.1", "10.0.0.0/8", "::ffff:127.0.0.1",
                                   "::ffff:10.0.0.0/104", "fe80::1%eth0", "fe80::/10", "::1",
                                   "0.0.0.0/0", "::/0", " 192.168.1.0/24 "])
def test_whitelisting_and_banning_an_entry_mean_the_same_hosts(tmp_path, entry):
    hosts = ["127.0.0.1", "::ffff:127.0.0.1", "127.0.0.2", "10.9.8.7", "::ffff:10.9.8.7",
             "fe80::1", "fe80::1%eth0", "fe80::2%eth1", "::1", "192.168.1.9", "2001:db8::1",
             "peer.example.org"]
    service = whitelisting(tmp_path, [entry])
    bans = BanMan(tmp_path / "bans")
    try:
        bans.ban(entry)
        for host in hosts:
            banned = host != "peer.example.org" and bans.is_banned(host)
            assert service.is_whitelisted(host) is banned, host
    finally:
        bans.close()


def test_a_bad_whitelist_entry_is_a_one_line_error_naming_it(tmp_path):
    with pytest.raises(ValueError) as e:
        whitelisting(tmp_path, ["127.0.0.1", "localhost"])
    assert str(e.value) == "whitelist: not an IP address or subnet: 'localhost'"


def test_run_refuses_a_bad_whitelist_entry_in_one_line(tmp_path, captured_run):
    result = invoke_run(["--datadir", str(tmp_path), "--whitelist", "127.0.0.1",
                         "--whitelist", "localhost"])
    assert result.exit_code == 1
    assert result.output == "Error: --whitelist: 'localhost' is not an IP address or subnet\n"
    assert captured_run == []


def test_a_mapped_whitelist_entry_given_to_run_matches_the_ipv4_peer(tmp_path, captured_run):
    """The config layer checks and rewrites entries (to ``127.0.0.1/32``, as a ban of the entry
    is listed); the service must read that as 127.0.0.1 too."""
    result = invoke_run(["--datadir", str(tmp_path), "--whitelist", "::ffff:127.0.0.1"])
    assert result.exit_code == 0, result.output
    (config,) = captured_run
    service = whitelisting(tmp_path, list(config.whitelist))
    assert service.is_whitelisted("127.0.0.1")
    assert not service.is_whitelisted("127.0.0.2")


@pytest.mark.parametrize("host, local", [
    ("127.0.0.1", True), ("::ffff:127.0.0.1", True), ("127.0.0.5", True),
    ("::ffff:127.0.0.5", True), ("::1", True), ("0.0.0.0", True), ("::ffff:0.0.0.0", True),
    ("::", True), ("10.0.0.1", False), ("::ffff:10.0.0.1", False), ("fe80::1%eth0", False),
    ("2001:db8::1", False), ("localhost", False),
])
def test_a_local_peer_may_ask_for_the_mempool_whatever_form_its_address_takes(tmp_path, host,
                                                                              local):
    """BIP35 ``mempool`` is answered for local peers; an IPv4-mapped loopback address is the
    loopback address, as bans and the whitelist read it (a host name is never local)."""
    service = whitelisting(tmp_path, [])
    assert service.may_ask_mempool(connected(service, host)) is local


@pytest.mark.parametrize("entries", [[], ["10.0.0.0/8"], ["::ffff:192.168.0.0/112"]])
def test_a_peer_may_ask_for_the_mempool_in_either_form_of_its_address(tmp_path, entries):
    service = whitelisting(tmp_path, entries)

    def may_ask(host: str) -> bool:
        return service.may_ask_mempool(connected(service, host))

    for v4 in ["127.0.0.1", "127.255.0.9", "0.0.0.0", "10.1.2.3", "192.168.7.7", "8.8.8.8"]:
        whitelisted = service.is_whitelisted(v4)
        assert may_ask(v4) is (v4.startswith(("127.", "0.")) or whitelisted), v4
        assert may_ask(f"::ffff:{v4}") is may_ask(v4), v4


def test_whitelisting_is_decided_once_when_the_connection_is_made(tmp_path, monkeypatch):
    """Core keeps a peer's permissions on its CNode: the address is read against the whitelist
    when the peer is made, not on every trickle, misbehaviour or mempool request."""
    service = whitelisting(tmp_path, ["10.0.0.0/8"])
    listed, other, named = (connected(service, h) for h in ("10.1.2.3", "11.1.2.3",
                                                            "peer.example.org"))
    assert listed.whitelisted and not other.whitelisted and not named.whitelisted

    def no_parsing(host: str):
        raise AssertionError(f"{host} parsed again")

    monkeypatch.setattr(service_mod, "parse_host", no_parsing)
    service.on_misbehaving(listed, "a test")  # spared, by the flag
    assert not listed.closed
    assert service.may_ask_mempool(listed)  # BIP35 served, by the flag too
