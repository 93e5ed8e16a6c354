"""Bans (hosts and CIDR subnets, persisted, expiring) and 24-hour discouragement."""

from __future__ import annotations

import pytest

from node.p2p import banman as bm
from node.p2p.addrman import AddrMan
from node.p2p.banman import BanMan
from node.p2p.netaddr import NetAddr, parse_subnet
from node.storage.db import Database
from node.storage.errors import StorageError
from tests.p2p.test_addrman import NOW, Clock


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def bans(tmp_path, clock):
    b = BanMan(tmp_path / "bans", clock=clock)
    yield b
    b.close()


def test_a_banned_host_is_banned_and_listed(bans):
    bans.ban("1.2.3.4", 3600)
    assert bans.is_banned("1.2.3.4") and not bans.is_banned("1.2.3.5")
    assert bans.list_bans() == [
        {"address": "1.2.3.4/32", "ban_created": NOW, "banned_until": NOW + 3600}]


def test_default_ban_is_24_hours(bans):
    bans.ban("1.2.3.4")
    assert bans.list_bans()[0]["banned_until"] == NOW + 86400


@pytest.mark.parametrize("subnet, inside, outside", [
    ("10.0.0.0/8", ["10.1.2.3", "10.255.255.255", "::ffff:10.9.9.9"], ["11.0.0.1"]),
    ("192.168.1.77/24", ["192.168.1.1"], ["192.168.2.1"]),  # host bits are ignored
    ("2001:db8::/32", ["2001:db8::1", "2001:db8:ffff::9"], ["2001:db9::1", "10.0.0.1"]),
    ("::ffff:172.16.0.0/108", ["172.16.5.5"], ["172.32.0.1"]),  # IPv4-mapped subnet
])
def test_cidr_subnets(bans, subnet, inside, outside):
    bans.ban(subnet)
    assert all(bans.is_banned(h) for h in inside)
    assert not any(bans.is_banned(h) for h in outside)


def test_subnets_are_listed_canonically():
    assert str(parse_subnet("192.168.1.77/24")) == "192.168.1.0/24"
    assert str(parse_subnet("::ffff:1.2.3.4")) == "1.2.3.4/32"
    assert str(parse_subnet("2001:0db8::1")) == "2001:db8::1/128"


@pytest.mark.parametrize("bad", ["example.com", "1.2.3.4/33", "", "1.2.3"])
def test_bad_subnets_are_refused_with_a_reason(bans, bad):
    with pytest.raises(ValueError, match="not an IP"):
        bans.ban(bad)
    with pytest.raises(ValueError):
        bans.is_banned(bad)


def test_unban(bans):
    bans.ban("10.0.0.0/8")
    assert not bans.unban("10.0.0.1")  # not the banned subnet itself
    assert bans.unban("10.0.0.0/8")
    assert not bans.is_banned("10.0.0.1") and bans.list_bans() == []
    assert not bans.unban("10.0.0.0/8")


def test_bans_expire(bans, clock):
    bans.ban("1.2.3.4", 60)
    clock.t += 59
    assert bans.is_banned("1.2.3.4")
    clock.t += 1
    assert not bans.is_banned("1.2.3.4")
    assert bans.list_bans() == []


def test_a_ban_is_only_extended(bans, clock):
    bans.ban("1.2.3.4", 3600)
    bans.ban("1.2.3.4", 60)  # shorter: ignored, as Core
    assert bans.list_bans()[0]["banned_until"] == NOW + 3600
    bans.ban("1.2.3.4", NOW + 7200, absolute=True)
    assert bans.list_bans()[0]["banned_until"] == NOW + 7200
    with pytest.raises(ValueError, match="future"):
        bans.ban("5.5.5.5", NOW - 1, absolute=True)


def test_clear_lifts_every_ban_but_not_discouragement(bans):
    bans.ban("1.2.3.4")
    bans.ban("::1")
    bans.discourage("9.9.9.9")
    bans.clear()
    assert bans.list_bans() == [] and bans.is_discouraged("9.9.9.9")


def test_discouragement_lasts_24_hours(bans, clock):
    bans.discourage("::ffff:9.9.9.9")
    assert bans.is_discouraged("9.9.9.9") and not bans.is_banned("9.9.9.9")
    assert bans.list_bans() == []  # discouraged peers are not listed as bans (Core)
    clock.t += 86399
    assert bans.is_discouraged("9.9.9.9")
    clock.t += 1
    assert not bans.is_discouraged("9.9.9.9")


def test_discouragement_is_bounded_and_forgets_the_oldest(bans, monkeypatch, clock):
    monkeypatch.setattr(bm, "MAX_DISCOURAGED", 3)
    for i in range(5):
        clock.t += 1
        bans.discourage(f"9.9.9.{i}")
    assert [bans.is_discouraged(f"9.9.9.{i}") for i in range(5)] == [False, False, True, True,
                                                                    True]
    bans.discourage("9.9.9.2")  # again: now the newest
    bans.discourage("9.9.9.5")
    assert bans.is_discouraged("9.9.9.2") and not bans.is_discouraged("9.9.9.3")


def test_bans_and_discouragement_survive_a_reopen(tmp_path, clock):
    b = BanMan(tmp_path / "bans", clock=clock)
    b.ban("10.0.0.0/8", 3600)
    b.ban("2001:db8::1")
    b.ban("5.5.5.5", 10)
    b.discourage("9.9.9.9")
    listed = b.list_bans()
    b.close()
    clock.t += 20  # the 10 s ban has expired meanwhile
    b = BanMan(tmp_path / "bans", clock=clock)
    try:
        assert b.list_bans() == [x for x in listed if x["address"] != "5.5.5.5/32"]
        assert b.is_banned("10.3.3.3") and b.is_discouraged("9.9.9.9")
    finally:
        b.close()
    # The expired ban was swept from disk, not just hidden.
    db = Database(tmp_path / "bans")
    assert [k for k, _ in db.iterate(b"b")] == [b"b10.0.0.0/8", b"b2001:db8::1/128"]
    db.close()


def test_banman_and_addrman_share_one_database(tmp_path, clock):
    db = Database(tmp_path / "peers")
    addrs, bans = AddrMan(db, clock=clock), BanMan(db, clock=clock)
    addrs.add([NetAddr(1, "11.0.0.1", 8333, NOW)], "50.0.0.1")
    bans.ban("11.0.0.1")
    addrs.close()
    bans.close()
    addrs, bans = AddrMan(db, clock=clock), BanMan(db, clock=clock)
    assert len(addrs) == 1 and bans.is_banned("11.0.0.1")
    db.close()


@pytest.mark.parametrize("key", [b"bnot-a-subnet", b"dnot-a-host", b"d\xff"])
def test_a_corrupted_ban_record_names_the_database(tmp_path, key):
    db = Database(tmp_path / "bans")
    db.put(key, bytes(16))
    db.close()
    with pytest.raises(StorageError, match="corrupted"):
        BanMan(tmp_path / "bans")


@pytest.mark.parametrize("key, what", [(b"b1.2.3.4/32", "ban record"),
                                       (b"d1.2.3.4", "discouragement record")])
def test_a_record_whose_times_do_not_decode_is_named_for_its_kind(tmp_path, key, what):
    db = Database(tmp_path / "bans")
    db.put(key, bytes(15))
    db.close()
    with pytest.raises(StorageError, match=f"corrupted: {what} "):
        BanMan(tmp_path / "bans")


# -- IPv6 scope ids (Core: CNetAddr and CSubNet compare without m_scope_id) -----------------------
@pytest.mark.parametrize("banned, peer, again, listed", [
    ("fe80::1", "fe80::1%eth0", "fe80::1%eth1", "fe80::1/128"),
    ("fe80::1%eth0", "fe80::1", "fe80::1%2", "fe80::1/128"),
    ("fe80::1%eth0", "fe80::1%eth1", "fe80::1", "fe80::1/128"),
    ("fe80::%eth0/64", "fe80::7%eth1", "fe80::/64", "fe80::/64"),
])
def test_a_ban_ignores_ipv6_scope_ids(bans, banned, peer, again, listed):
    bans.ban(banned)
    assert bans.is_banned(peer)
    bans.ban(again, 2 * 86400)  # the same ban, extended, not a second one
    assert [(x["address"], x["banned_until"]) for x in bans.list_bans()] == [
        (listed, NOW + 2 * 86400)]
    assert bans.unban(again)
    assert not bans.is_banned(peer) and bans.list_bans() == []


@pytest.mark.parametrize("bad, peer", [("fe80::1%eth0", "fe80::1"), ("fe80::1", "fe80::1%eth0"),
                                       ("fe80::1%eth0", "fe80::1%eth1")])
def test_discouragement_ignores_ipv6_scope_ids(tmp_path, clock, bad, peer):
    b = BanMan(tmp_path / "bans", clock=clock)
    b.discourage(bad)
    assert b.is_discouraged(peer)
    b.close()
    b = BanMan(tmp_path / "bans", clock=clock)
    try:
        assert b.is_discouraged(peer)
    finally:
        b.close()
    db = Database(tmp_path / "bans")
    assert [k for k, _ in db.iterate(b"d")] == [b"dfe80::1"]
    db.close()


def test_scoped_records_of_an_older_version_are_rewritten_unscoped(tmp_path, clock):
    db = Database(tmp_path / "bans")
    db.put(b"bfe80::1%eth0/128", bm._TIMES.pack(NOW, NOW + 100))
    db.put(b"bfe80::1/128", bm._TIMES.pack(NOW, NOW + 50))
    db.put(b"dfe80::2%eth0", bm._TIMES.pack(NOW, NOW + 100))
    db.put(b"dfe80::2", bm._TIMES.pack(NOW, NOW + 50))  # read first: the later end wins
    db.close()
    b = BanMan(tmp_path / "bans", clock=clock)
    try:
        assert b.list_bans() == [
            {"address": "fe80::1/128", "ban_created": NOW, "banned_until": NOW + 100}]
        assert b.is_discouraged("fe80::2")
        assert b.unban("fe80::1")
    finally:
        b.close()
    b = BanMan(tmp_path / "bans", clock=clock)  # the unban stuck: no scoped record came back
    try:
        assert b.list_bans() == [] and b.is_discouraged("fe80::2%eth3")
    finally:
        b.close()
    db = Database(tmp_path / "bans")
    assert list(db.iterate(b"")) == [(b"dfe80::2", bm._TIMES.pack(NOW, NOW + 100))]
    db.close()
