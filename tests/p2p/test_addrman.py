"""The address manager: tables, source limits, Core's IsTerrible/GetChance, getaddr, persistence."""

from __future__ import annotations

import ipaddress
import random
import struct
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.p2p import addrman as am
from node.p2p import netaddr
from node.p2p.addrman import AddrMan
from node.p2p.netaddr import NetAddr, group, is_local_ip, is_routable
from node.storage.db import Database
from node.storage.errors import StorageError

NOW = 1_700_000_000
DAY = 86400


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make(tmp_path, clock):
    opened = []

    def factory(**kw):
        a = AddrMan(tmp_path / "peers", clock=clock, rng=random.Random(7), **kw)
        opened.append(a)
        return a

    yield factory
    for a in opened:
        a.close()


def addr(i: int, port: int = 8333, t: int = NOW - 3600, services: int = 9) -> NetAddr:
    return NetAddr(services, f"11.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", port, t)


# -- adding ---------------------------------------------------------------------------------------
def test_add_counts_only_new_addresses(make):
    a = make()
    assert a.add([addr(1), addr(2)], "50.0.0.1") == 2
    assert a.add([addr(2), addr(3)], "50.0.0.1") == 1
    assert len(a) == 3 and a.new_count == 3 and a.tried_count == 0
    assert a.info("11.0.0.1", 8333).source == "50.0.0.1"


def test_add_takes_times_as_given_and_only_applies_the_penalty(make):
    # Core: AddrMan::Add applies nTimePenalty and nothing else; implausible times are fixed
    # before it is called (ProcessMessage; here gossip: see test_gossip), never twice.
    a = make()
    a.add([addr(1, t=NOW + 3600), addr(2, t=5000), addr(3, t=NOW - 100)], "50.0.0.1",
          penalty=7200)
    assert a.info("11.0.0.1", 8333).time == NOW + 3600 - 7200
    assert a.info("11.0.0.2", 8333).time == 0  # never below zero (Core: std::max(0, ...))
    assert a.info("11.0.0.3", 8333).time == NOW - 100 - 7200


def test_a_self_announcement_is_not_penalised(make):
    a = make()
    a.add([NetAddr(9, "50.0.0.1", 8333, NOW - 10)], "50.0.0.1", penalty=7200)
    assert a.info("50.0.0.1", 8333).time == NOW - 10


def test_known_addresses_get_newer_times_and_more_services(make):
    a = make()
    a.add([addr(1, t=NOW - 3 * 3600, services=1)], "50.0.0.1")
    a.add([addr(1, t=NOW - 3 * 3600 + 60, services=8)], "60.0.0.1")  # within the interval
    info = a.info("11.0.0.1", 8333)
    assert (info.time, info.services, info.source) == (NOW - 3 * 3600, 9, "50.0.0.1")
    a.add([addr(1, t=NOW - 60)], "60.0.0.1")
    assert a.info("11.0.0.1", 8333).time == NOW - 60


def test_unusable_addresses_are_refused(make):
    a = make(routable_only=True)
    assert a.add([NetAddr(1, "10.0.0.1", 8333, NOW), NetAddr(1, "127.0.0.1", 8333, NOW),
                  NetAddr(1, "8.8.8.8", 0, NOW), addr(1)], "50.0.0.1") == 1


def test_local_addresses_are_kept_when_allowed(make):
    # The default: nodes of a test network all run on one host.
    assert make().add([NetAddr(1, "127.0.0.1", 18444, NOW)], "127.0.0.1") == 1


def test_link_local_ipv6_addresses_are_never_stored(tmp_path, clock):
    # Core: AddSingle refuses !IsRoutable (fe80::/64 is RFC 4862), Good_ ignores unknown
    # addresses, and peers.dat has no scope id. Kept here, fe80::1%eth0 came back from disk
    # as fe80::1, which cannot be dialled.
    a = AddrMan(tmp_path / "peers", clock=clock)
    assert a.add([NetAddr(9, "fe80::1%eth0", 18444, NOW), NetAddr(9, "fe80::2", 18444, NOW),
                  NetAddr(9, "169.254.0.1", 18444, NOW), NetAddr(9, "fd00::1", 18444, NOW)],
                 "10.0.0.9") == 2  # IPv4 link-local and ULA need no scope: kept
    a.good("fe80::3%eth0", 18444, 9)  # a --connect peer: not added as its own source
    a.attempt("fe80::3%eth0", 18444)
    a.connected("fe80::3%eth0", 18444)
    assert all(a.info(h, 18444) is None for h in ("fe80::1%eth0", "fe80::1", "fe80::2",
                                                  "fe80::3%eth0", "fe80::3"))
    a.close()
    b = AddrMan(tmp_path / "peers", clock=clock)
    try:
        assert sorted(h for h, _ in b._entries) == ["169.254.0.1", "fd00::1"]
    finally:
        b.close()


def test_link_local_records_of_an_older_version_are_dropped_on_open(tmp_path, clock):
    db = Database(tmp_path / "peers")
    info = am.AddrInfo("fe80::1", 18444, 9, NOW, "fe80::1", in_tried=True)
    db.put(am._record_key(info.ip16, 18444), info.encode())
    kept = am.AddrInfo("11.0.0.1", 8333, 9, NOW, "1.2.3.4")
    db.put(am._record_key(kept.ip16, 8333), kept.encode())
    a = AddrMan(db, clock=clock)
    assert (len(a), a.tried_count) == (1, 0) and a.info("11.0.0.1", 8333) is not None
    a.close()
    assert [k for k, _ in db.iterate(b"a")] == [am._record_key(kept.ip16, 8333)]
    db.close()


# -- one source cannot fill the table -------------------------------------------------------------
def test_one_source_group_owns_at_most_a_sixteenth_of_new(make):
    a = make()
    flood = [addr(i) for i in range(am.NEW_PER_SOURCE_GROUP + 500)]
    assert a.add(flood, "66.6.0.1") == am.NEW_PER_SOURCE_GROUP
    # Another host of the same /16 is the same source group: still full.
    assert a.add([addr(100_000)], "66.6.200.9") == 0
    # An honest source elsewhere still gets its addresses in.
    assert a.add([addr(100_001), addr(100_002)], "70.1.0.1") == 2


def test_a_full_source_share_evicts_its_terrible_entries(make, monkeypatch):
    monkeypatch.setattr(am, "NEW_PER_SOURCE_GROUP", 10)
    a = make()
    # 10 addresses not seen for over 30 days: all terrible (Core: ADDRMAN_HORIZON).
    assert a.add([addr(i, t=NOW - 31 * DAY) for i in range(10)], "66.6.0.1") == 10
    assert a.add([addr(50)], "66.6.0.1") == 1
    assert len(a) == 10 and a.info("11.0.0.50", 8333) is not None


def test_a_full_new_table_evicts_terrible_entries_first(make, monkeypatch):
    monkeypatch.setattr(am, "NEW_CAPACITY", 40)
    a = make()
    for s in range(4):  # 4 source groups x 10: 20 fresh and 20 terrible
        t = NOW - 31 * DAY if s % 2 else NOW - 60
        a.add([addr(s * 100 + i, t=t) for i in range(10)], f"{60 + s}.0.0.1")
    assert len(a) == 40
    assert a.add([addr(900 + i) for i in range(20)], "99.0.0.1") == 20
    assert len(a) == 40
    terrible_left = [k for k in a._entries if a.info(*k).is_terrible(NOW)]
    assert terrible_left == []
    # Now every entry is good: a newcomer is dropped rather than evicting one (Core keeps
    # the existing entry of a colliding slot unless it is terrible).
    assert a.add([addr(999)], "98.0.0.1") == 0
    assert a.info("11.0.3.231", 8333) is None


# -- attempts, successes, the tried table ----------------------------------------------------------
def test_good_moves_an_address_to_tried_and_clears_failures(make, clock):
    a = make()
    a.add([addr(1)], "50.0.0.1")
    a.attempt("11.0.0.1", 8333)
    a.attempt("11.0.0.1", 8333)
    assert a.info("11.0.0.1", 8333).attempts == 2
    clock.t += 5
    a.good("11.0.0.1", 8333)
    info = a.info("11.0.0.1", 8333)
    assert info.in_tried and info.attempts == 0 and info.last_success == NOW + 5
    assert (a.new_count, a.tried_count) == (0, 1)


def test_good_adds_an_unknown_peer_as_its_own_source(make):
    a = make()
    a.good("::ffff:127.0.0.1", 18444, services=9)
    info = a.info("127.0.0.1", 18444)
    assert info.in_tried and info.source == "127.0.0.1" and info.services == 9


def test_good_parses_its_host_once(make, monkeypatch):
    a = make()
    parsed: list[str] = []
    real = netaddr.host_to_ip16

    def recording(host: str) -> bytes:
        parsed.append(host)
        return real(host)

    monkeypatch.setattr(netaddr, "host_to_ip16", recording)
    monkeypatch.setattr(am, "host_to_ip16", recording)
    a.good("::ffff:11.0.0.1", 8333, services=9)
    assert parsed == ["::ffff:11.0.0.1"]
    assert a.info("11.0.0.1", 8333).ip16 == real("11.0.0.1")


def test_attempts_on_unknown_addresses_are_ignored(make):
    a = make()
    a.attempt("11.0.0.1", 8333)
    assert len(a) == 0


def test_a_full_tried_table_sends_the_stalest_entry_back_to_new(make, clock, monkeypatch):
    monkeypatch.setattr(am, "TRIED_CAPACITY", 5)
    a = make()
    a.add([addr(i) for i in range(6)], "50.0.0.1")
    for i in range(5):
        clock.t += 10
        a.good(f"11.0.0.{i}", 8333)
    clock.t += 10
    a.good("11.0.0.5", 8333)
    assert a.tried_count == 5 and a.new_count == 1
    demoted = a.info("11.0.0.0", 8333)  # the one that worked longest ago
    assert not demoted.in_tried and demoted.last_success == NOW + 10


# -- Core's IsTerrible ------------------------------------------------------------------------------
def info_with(**kw) -> am.AddrInfo:
    base = dict(host="11.0.0.1", port=8333, services=1, time=NOW - 3600, source="s")
    base.update(kw)
    return am.AddrInfo(**base)


@pytest.mark.parametrize("kw, terrible", [
    ({}, False),
    ({"time": NOW + 601}, True),  # from the future
    ({"time": NOW - 31 * DAY}, True),  # not seen for 30 days
    ({"time": NOW - 31 * DAY, "last_try": NOW - 30}, False),  # tried in the last minute
    ({"attempts": 3}, True),  # 3 failures, never a success
    ({"attempts": 3, "last_success": NOW - DAY}, False),
    ({"attempts": 10, "last_success": NOW - 8 * DAY}, True),  # 10 failures in a week
    ({"attempts": 9, "last_success": NOW - 8 * DAY}, False),
])
def test_is_terrible_follows_core(kw, terrible):
    assert info_with(**kw).is_terrible(NOW) is terrible


def test_chance_falls_with_failures_and_recent_tries():
    assert info_with().chance(NOW) == 1.0
    assert info_with(last_try=NOW - 60).chance(NOW) == pytest.approx(0.01)
    assert info_with(attempts=2).chance(NOW) == pytest.approx(0.66 ** 2)
    assert info_with(attempts=20).chance(NOW) == pytest.approx(0.66 ** 8)


# -- selection -------------------------------------------------------------------------------------
def test_select_on_an_empty_table_is_none(make):
    assert make().select() is None


def test_select_honours_exclusions_and_new_only(make):
    a = make()
    a.add([addr(1), addr(2)], "50.0.0.1")
    a.good("11.0.0.2", 8333)
    assert a.select(exclude={("11.0.0.1", 8333), ("11.0.0.2", 8333)}) is None
    for _ in range(20):
        assert a.select(exclude={("11.0.0.1", 8333)}).host == "11.0.0.2"
        assert a.select(new_only=True).host == "11.0.0.1"
    assert a.select(exclude={("11.0.0.1", 8333)}, new_only=True) is None


def test_select_skips_excluded_host_names(make):
    # The connection manager excludes every peer and dial, an --addnode peer named by host
    # name among them; the table holds IPs only, so a name excludes nothing and is no error.
    a = make()
    a.add([addr(1)], "50.0.0.1")
    assert a.select(exclude={("seed.example.org", 8333), ("localhost", 8333)}).host == "11.0.0.1"
    assert a.select(exclude={("seed.example.org", 8333), ("11.0.0.1", 8333)}) is None


def test_select_parses_no_excluded_key(make, monkeypatch):
    # The keys are canonical, as the connection manager builds them once a tick; parsing them
    # again on each of its up to 20 calls cost milliseconds of the event loop.
    a = make()
    a.add([addr(1), addr(2)], "50.0.0.1")
    exclude = {("11.0.0.1", 8333), ("seed.example.org", 8333), ("2001:db8::1", 8333)}

    def no_parsing(*args):
        raise AssertionError("host text parsed")

    monkeypatch.setattr(netaddr, "canonical_host_and_ip16", no_parsing)
    monkeypatch.setattr(netaddr, "host_to_ip16", no_parsing)
    assert a.select(exclude=exclude).host == "11.0.0.2"


def test_select_prefers_addresses_that_have_not_failed(make, clock):
    a = make()
    a.add([addr(1), addr(2)], "50.0.0.1")
    for _ in range(6):
        a.attempt("11.0.0.2", 8333)
    clock.t += 3600  # the tries are no longer recent; only the failure count matters
    picks = Counter(a.select().host for _ in range(2000))
    assert picks["11.0.0.1"] > 5 * picks["11.0.0.2"] > 0


def test_select_picks_from_both_tables(make, clock):
    a = make()
    a.add([addr(i) for i in range(50)], "50.0.0.1")
    a.good("11.0.0.0", 8333)
    clock.t += 3600  # past the "tried in the last 10 minutes" damping
    picks = Counter(a.select().host == "11.0.0.0" for _ in range(400))
    assert 120 < picks[True] < 280  # the one tried entry: about half of all picks


# -- getaddr ---------------------------------------------------------------------------------------
def test_get_addr_returns_at_most_23_percent_and_at_most_max_count(make):
    a = make()
    a.add([addr(i) for i in range(1000)], "50.0.0.1")
    a.add([addr(5000 + i) for i in range(1000)], "51.0.0.1")
    got = a.get_addr()
    assert len(got) == 2000 * 23 // 100 == 460
    assert len(set(got)) == len(got)
    assert len(a.get_addr(max_count=100)) == 100
    assert len(a.get_addr(max_pct=100)) == 1000


def test_get_addr_leaves_terrible_entries_out(make):
    a = make()
    a.add([addr(i) for i in range(10)], "50.0.0.1")
    a.add([addr(100 + i, t=NOW - 40 * DAY) for i in range(90)], "51.0.0.1")
    got = a.get_addr(max_pct=100)
    assert sorted(x.host for x in got) == sorted(f"11.0.0.{i}" for i in range(10))
    assert all(x.time == NOW - 3600 and x.services == 9 for x in got)


# -- persistence -----------------------------------------------------------------------------------
def snapshot(a: AddrMan) -> dict:
    return {k: [getattr(a.info(*k), f) for f in am.AddrInfo.__slots__] for k in a._entries}


def test_everything_survives_a_reopen(tmp_path, clock):
    a = AddrMan(tmp_path / "peers", clock=clock)
    a.add([addr(i) for i in range(100)], "50.0.0.1", penalty=7200)
    a.add([NetAddr(1, "2001:db8::7", 18444, NOW - 10)], "60.0.0.2")
    a.attempt("11.0.0.5", 8333)
    a.good("11.0.0.6", 8333)
    a.remove("11.0.0.7", 8333)
    before = snapshot(a)
    counts = (len(a), a.new_count, a.tried_count)
    a.close()
    b = AddrMan(tmp_path / "peers", clock=clock)
    try:
        assert snapshot(b) == before
        assert (len(b), b.new_count, b.tried_count) == counts == (100, 99, 1)
        assert b.info("11.0.0.5", 8333).attempts == 1
        assert b.info("2001:db8::7", 18444).source == "60.0.0.2"
    finally:
        b.close()


def test_records_keep_their_on_disk_format(tmp_path, clock):
    """The key is "a" + the host's 16 bytes + the port (big-endian); the value holds no host."""
    a = AddrMan(tmp_path / "peers", clock=clock)
    a.add([NetAddr(9, "11.0.0.1", 8333, NOW - 60)], "50.0.0.1")
    a.add([NetAddr(5, "2001:db8::7", 18444, NOW - 10)], "dns")
    a.good("::ffff:12.0.0.2", 8333, 1)
    records = dict(a.db.iterate(b"a"))
    a.close()
    v4 = bytes(10) + b"\xff\xff"
    assert records == {
        b"a" + v4 + bytes([11, 0, 0, 1]) + b"\x20\x8d":
            struct.pack("<BQqqqIB", 1, 9, NOW - 60, 0, 0, 0, 0) + b"50.0.0.1",
        b"a" + bytes.fromhex("20010db8000000000000000000000007") + b"\x48\x0c":
            struct.pack("<BQqqqIB", 1, 5, NOW - 10, 0, 0, 0, 0) + b"dns",
        b"a" + v4 + bytes([12, 0, 0, 2]) + b"\x20\x8d":
            struct.pack("<BQqqqIB", 1, 1, NOW, NOW, NOW, 0, 1) + b"12.0.0.2",
    }


def random_hosts(rng: random.Random, n: int) -> list[str]:
    """IPv4, IPv6 and IPv4-mapped IPv6 text (canonical or not), routable or not."""
    hosts = ["11.0.0.1", "8.8.8.8", "10.1.2.3", "127.0.0.1", "::ffff:11.2.3.4",
             "::FFFF:10.0.0.9", "2001:db8::1", "2001:4860::8888", "fd00::1", "::1", "::",
             "0.0.0.0", "100.64.1.1", "169.254.3.4", "fec0::1", "ff02::1", "::1.2.3.4",
             "64:ff9b::8.8.8.8", "2002:c000:0204::1"]
    while len(hosts) < n:
        kind = rng.randrange(3)
        if kind == 0:
            hosts.append(str(ipaddress.IPv4Address(rng.getrandbits(32))))
        elif kind == 1:
            hosts.append(str(ipaddress.IPv6Address(rng.getrandbits(128))))
        else:
            hosts.append(f"::ffff:{ipaddress.IPv4Address(rng.getrandbits(32))}")
    return hosts


def test_an_entry_becomes_the_netaddr_its_text_makes(tmp_path, clock):
    """to_netaddr builds from the kept 16 bytes; the result is what NetAddr makes of the host
    text, whether the entry came from gossip, from good() or back from the database."""
    rng = random.Random(5)
    a = AddrMan(tmp_path / "peers", clock=clock)
    hosts = random_hosts(rng, 600)
    a.add([NetAddr(rng.getrandbits(64), h, rng.randrange(1, 65536), NOW - rng.randrange(DAY))
           for h in hosts[:500]], "50.0.0.1")
    for h in hosts[500:]:
        a.good(h, 8333, 1)
    assert len(a) == sum(netaddr.storable(h) for h in hosts)  # random fe80::/10 ones are not

    def check(m: AddrMan) -> None:
        for info in m._entries.values():
            made = info.to_netaddr()
            want = NetAddr(info.services, info.host, info.port, info.time)
            assert (made, made.host, made.ip16) == (want, want.host, want.ip16)
            assert info.ip16 == want.ip16

    check(a)
    a.close()
    b = AddrMan(tmp_path / "peers", clock=clock)
    try:
        check(b)
    finally:
        b.close()


def test_getaddr_and_select_parse_no_host_text(make, monkeypatch):
    a = make()
    a.add([addr(i) for i in range(200)] + [NetAddr(1, "2001:db8::7", 18444, NOW)], "50.0.0.1")
    a.good("11.0.0.3", 8333)

    def no_parsing(*args):
        raise AssertionError("host text parsed")

    monkeypatch.setattr(netaddr, "canonical_host_and_ip16", no_parsing)
    monkeypatch.setattr(am, "host_to_ip16", no_parsing)
    assert len(a.get_addr(max_pct=100)) == 201
    assert a.select() is not None


def test_an_addr_message_groups_its_source_once_and_parses_no_host(tmp_path, clock,
                                                                  monkeypatch):
    """An addr message's entries share one source: its group is worked out once, not once per
    entry, also when the table is read back; routability is read from the entries' bytes, and
    refuses what the text function refuses."""
    hosts = [f"11.{i >> 8}.{i & 255}.1" for i in range(300)] + \
        [f"10.0.{i}.1" for i in range(50)] + [f"2001:4860:{i:x}::1" for i in range(50)] + \
        [f"2001:db8:{i:x}::1" for i in range(50)]
    addrs = [NetAddr(1, h, 8333, NOW - 60) for h in hosts]
    sources = {"50.0.0.1": 0, "2600::9": 0}
    parsed: list[str] = []
    real_group, real_host_to_ip16 = am.group, netaddr.host_to_ip16

    def counting_group(host: str) -> str:
        sources[host] = sources.get(host, 0) + 1
        return real_group(host)

    def recording_host_to_ip16(host: str) -> bytes:
        parsed.append(host)
        return real_host_to_ip16(host)

    monkeypatch.setattr(am, "group", counting_group)
    monkeypatch.setattr(netaddr, "host_to_ip16", recording_host_to_ip16)
    am._source_group.cache_clear()  # grouped by an earlier test, a source would not count here
    a = AddrMan(tmp_path / "peers", clock=clock, routable_only=True)
    added = sum(a.add(addrs[i::2], source) for i, source in enumerate(sources))
    monkeypatch.undo()
    assert added == len(a) == sum(netaddr.is_routable(h) for h in hosts) == 350
    assert sources == {"50.0.0.1": 1, "2600::9": 1}
    assert set(parsed) == set(sources)  # the sources' groups, and no entry's host
    a.close()
    monkeypatch.setattr(am, "group", counting_group)
    am._source_group.cache_clear()  # as after a restart: the records' sources grouped afresh
    b = AddrMan(tmp_path / "peers", clock=clock, routable_only=True)
    b.close()
    assert sources == {"50.0.0.1": 2, "2600::9": 2}


def test_addrman_can_share_an_open_database(tmp_path, clock):
    db = Database(tmp_path / "peers")
    a = AddrMan(db, clock=clock)
    a.add([addr(1)], "50.0.0.1")
    a.close()  # does not close a database it was given
    assert AddrMan(db, clock=clock).info("11.0.0.1", 8333) is not None
    db.close()


def test_a_corrupted_record_names_the_database(tmp_path):
    db = Database(tmp_path / "peers")
    db.put(b"a" + bytes(18), b"\x07garbage")
    db.close()
    with pytest.raises(StorageError, match="corrupted"):
        AddrMan(tmp_path / "peers")


# -- address facts ---------------------------------------------------------------------------------
def test_groups_routability_and_locality():
    assert group("11.22.33.44") == group("11.22.99.1") == "11.22.0.0/16"
    assert group("11.23.33.44") != group("11.22.33.44")
    assert group("2001:4860:1234::1") == "2001:4860::/32"
    assert group("10.0.0.1") == group("192.168.1.1") == "local4"
    assert is_routable("8.8.8.8") and not is_routable("10.1.2.3")
    assert not is_routable("127.0.0.1") and not is_routable("::1")
    local = [ipaddress.ip_address(h) for h in ("127.0.0.1", "127.255.0.1", "0.0.0.0", "::1", "::")]
    assert all(is_local_ip(ip) for ip in local)
    assert not any(is_local_ip(ipaddress.ip_address(h)) for h in ("8.8.8.8", "10.0.0.1", "::2"))


# -- invariants under any sequence of operations ---------------------------------------------------
ops = st.lists(st.tuples(st.sampled_from(["add", "attempt", "good", "remove", "tick", "select"]),
                         st.integers(0, 40), st.integers(0, 5)), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_tables_stay_consistent_bounded_and_persisted(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("addrman") / "peers"
    clock = Clock()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(am, "NEW_CAPACITY", 12)
        mp.setattr(am, "NEW_PER_SOURCE_GROUP", 5)
        mp.setattr(am, "TRIED_CAPACITY", 4)
        a = AddrMan(path, clock=clock, rng=random.Random(1))
        try:
            for op, i, s in steps:
                host = f"11.0.0.{i}"
                if op == "add":
                    a.add([addr(i, t=NOW - 40 * DAY if s == 0 else NOW - 60)], f"{50 + s}.0.0.1")
                elif op == "attempt":
                    a.attempt(host, 8333)
                elif op == "good":
                    a.good(host, 8333)
                elif op == "remove":
                    a.remove(host, 8333)
                elif op == "tick":
                    clock.t += s * 3 * DAY
                else:
                    picked = a.select()
                    assert (picked is None) == (len(a) == 0)
                assert a.new_count + a.tried_count == len(a)
                assert a.new_count <= 12 and a.tried_count <= 4
                per_source = Counter(a.info(*k).source_group for k in a._entries
                                     if not a.info(*k).in_tried)
                assert all(n <= 5 for n in per_source.values())
            state = snapshot(a)
        finally:
            a.close()
        b = AddrMan(path, clock=clock)
        try:
            assert snapshot(b) == state
        finally:
            b.close()
