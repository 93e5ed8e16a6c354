"""The address manager: peers we could connect to, learnt from gossip, persisted in LevelDB.

Bitcoin Core's AddrMan, simplified but keeping its defences and its selection bias:

- Two tables. *new* holds addresses we heard of; *tried* those we once connected to
  (:meth:`AddrMan.good`). Selection picks either table with even odds, so gossip alone cannot
  push out the peers known to work.
- Source tracking. Every new address remembers who told us (its source); one source network
  group may own at most 1/16 of the new table, as Core's 64 of 1024 new buckets per source group,
  so a single liar cannot fill the table.
- Bounded size (new 16,384 + tried 4,096). When a table is full, a random "bucket" of 64 entries
  is looked at and a terrible entry in it evicted (Core: IsTerrible on the colliding slot);
  without one, the incoming address is dropped, as Core keeps a good entry over a newcomer.
  A full tried table sends its stalest entry back to new.
- Time stamps and failures, with Core's IsTerrible and GetChance rules; ``get_addr`` answers
  getaddr with Core's limits (at most 23% of the table, at most 1000), terrible ones left out.

Every change is written through to the database in one batch, so a restart keeps it all.
Link-local IPv6 addresses (fe80::/10, scoped or not) are never stored: Core's AddrMan keeps no
unroutable address (AddSingle: IsRoutable, which excludes RFC 4862's fe80::/64; Good_ ignores
an address it does not hold), and its on-disk form (CNetAddr's BIP155 network id and bytes)
has no room for the scope id that dialling one needs. We keep other unroutable addresses when
``routable_only`` is off (a test network on one host), but a link-local one would come back
from disk without its scope, undialable; gossip never carries a scope either.
Pure code: no asyncio, no sockets; the clock and the random source are injectable.
"""

from __future__ import annotations

import functools
import math
import random
import struct
import time
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from pathlib import Path

from node.netutil import HostPort
from node.storage.db import Database

from .netaddr import (
    NetAddr,
    canonical_host,
    canonical_host_and_ip16,
    group,
    host_to_ip16,
    ip16_to_host,
    is_routable_ip16,
    storable_ip16,
)

NEW_CAPACITY = 16_384
TRIED_CAPACITY = 4_096
# Core: ADDRMAN_NEW_BUCKETS_PER_SOURCE_GROUP / ADDRMAN_NEW_BUCKET_COUNT = 64 / 1024.
NEW_PER_SOURCE_GROUP = NEW_CAPACITY // 16
BUCKET_SIZE = 64  # Core: ADDRMAN_BUCKET_SIZE; how many entries one eviction looks at

# Core's addrman.cpp constants.
HORIZON = 30 * 86400  # ADDRMAN_HORIZON: not seen for this long -> terrible
RETRIES = 3  # ADDRMAN_RETRIES: failures without any success -> terrible
MAX_FAILURES = 10  # ADDRMAN_MAX_FAILURES ...
MIN_FAIL = 7 * 86400  # ... within ADDRMAN_MIN_FAIL since the last success -> terrible
REPLACEMENT = 4 * 3600  # ADDRMAN_REPLACEMENT: how old a tried entry must be to lose its slot

_KEY_PREFIX = b"a"  # + the 16-byte wire form of the host + the port, big-endian
_PORT = struct.Struct(">H")
_VALUE = struct.Struct("<BQqqqIB")  # format, services, time, last_try, last_success, attempts, tried
_FORMAT = 1


class AddrInfo:
    """One address and what we know of it (Core: AddrInfo)."""

    __slots__ = ("host", "port", "services", "time", "source", "last_try", "last_success",
                 "attempts", "in_tried", "ip16")

    def __init__(self, host: str, port: int, services: int, time: int, source: str,
                 last_try: int = 0, last_success: int = 0, attempts: int = 0,
                 in_tried: bool = False, *, ip16: bytes | None = None) -> None:
        self.host = host  # canonical (netaddr.canonical_host), never scoped: storable
        # The 16-byte wire form of ``host``, given by whoever has it at hand (the database key,
        # the gossiped NetAddr) and else parsed once here: a getaddr answer turns up to 1,000
        # entries into NetAddrs, and writing a record needs it too. Never written to the record's
        # value; the key already holds it.
        self.ip16 = host_to_ip16(host) if ip16 is None else ip16
        self.port = port
        self.services = services
        self.time = time  # Core: nTime, when the address was last heard of (or connected to)
        self.source = source  # the host that told us; Core: source
        self.last_try = last_try
        self.last_success = last_success  # Core: m_last_success
        self.attempts = attempts  # failed attempts since the last success; Core: nAttempts
        self.in_tried = in_tried

    @property
    def key(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def storable(self) -> bool:
        """netaddr's :func:`~node.p2p.netaddr.storable` of the host, from the bytes at hand."""
        return storable_ip16(self.host, self.ip16)

    @property
    def source_group(self) -> str:
        return _source_group(self.source)

    def to_netaddr(self) -> NetAddr:
        # From the bytes: no host text is parsed (ip16_to_host gives back the canonical host).
        return NetAddr.from_ip16(self.services, self.ip16, self.port, self.time)

    def is_terrible(self, now: float) -> bool:
        """Core: AddrInfo::IsTerrible: not worth keeping or relaying."""
        if now - self.last_try <= 60:  # never remove things tried in the last minute
            return False
        if self.time > now + 600:  # came in a flying DeLorean
            return True
        if now - self.time > HORIZON:  # not seen in recent history
            return True
        if self.last_success == 0 and self.attempts >= RETRIES:  # tried, never worked
            return True
        # N successive failures in the last week
        return now - self.last_success > MIN_FAIL and self.attempts >= MAX_FAILURES

    def chance(self, now: float) -> float:
        """Core: AddrInfo::GetChance: relative odds of being selected."""
        c = 1.0
        if now - self.last_try < 600:  # deprioritise very recent attempts
            c *= 0.01
        # 66% less after each failed attempt, capped so an outage does not bury an address.
        return c * math.pow(0.66, min(self.attempts, 8))

    def encode(self) -> bytes:
        src = self.source.encode()
        return _VALUE.pack(_FORMAT, self.services, self.time, self.last_try, self.last_success,
                           self.attempts, self.in_tried) + src

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> AddrInfo:
        fmt, services, t, last_try, last_success, attempts, tried = _VALUE.unpack_from(value)
        if fmt != _FORMAT or len(key) != 1 + 18:
            raise ValueError("unknown address record")
        (port,) = _PORT.unpack_from(key, 17)
        ip16 = key[1:17]
        return cls(ip16_to_host(ip16), port, services, t, value[_VALUE.size:].decode(),
                   last_try, last_success, attempts, bool(tried), ip16=ip16)

    def __repr__(self) -> str:
        table = "tried" if self.in_tried else "new"
        return (f"AddrInfo({HostPort(self.host, self.port)} {table} src={self.source} time={self.time} "
                f"attempts={self.attempts})")


def _record_key(ip16: bytes, port: int) -> bytes:
    return _KEY_PREFIX + ip16 + _PORT.pack(port)


# An addr message's up to 1,000 entries share one source, and so do many of the records read
# back on opening: each source is grouped once, not once per entry. More sources than peers
# connect at once (8 outbound + 125 inbound); a miss only groups its source again.
@functools.lru_cache(maxsize=1024)
def _source_group(source: str) -> str:
    try:
        return group(source)
    except ValueError:  # not an IP: a name like "dns" or "manual" is its own group
        return source


class _RandomSet:
    """Keys with O(1) add, remove and uniform random choice."""

    __slots__ = ("_items", "_index")

    def __init__(self) -> None:
        self._items: list[tuple[str, int]] = []
        self._index: dict[tuple[str, int], int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self):
        return iter(self._items)

    def add(self, key: tuple[str, int]) -> None:
        if key not in self._index:
            self._index[key] = len(self._items)
            self._items.append(key)

    def remove(self, key: tuple[str, int]) -> None:
        i = self._index.pop(key)
        last = self._items.pop()
        if i < len(self._items):
            self._items[i] = last
            self._index[last] = i

    def choice(self, rng: random.Random) -> tuple[str, int]:
        return self._items[rng.randrange(len(self._items))]

    def sample(self, rng: random.Random, k: int) -> list[tuple[str, int]]:
        return rng.sample(self._items, min(k, len(self._items)))


class AddrMan:
    def __init__(self, path: Path | Database, *, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, routable_only: bool = False) -> None:
        """Open (or create) the address database at ``path``, or use an open ``Database``.

        ``routable_only`` refuses private and local addresses, as Core does on mainnet; test
        networks on one machine need them."""
        self._owns_db = not isinstance(path, Database)
        self.db = Database(Path(path)) if self._owns_db else path
        self._clock = clock
        self._rng = rng or random.Random()
        self.routable_only = routable_only
        self._entries: dict[tuple[str, int], AddrInfo] = {}
        self._new = _RandomSet()
        self._tried = _RandomSet()
        self._by_source: dict[str, _RandomSet] = {}  # source group -> its new entries
        # Changes not yet written: key -> entry, or the record key to delete (known when the
        # entry goes, so a deletion never parses its host text again).
        self._dirty: dict[tuple[str, int], AddrInfo | bytes] = {}
        self._load()

    # -- persistence -----------------------------------------------------------------------------
    def _load(self) -> None:
        dropped: dict[tuple[str, int], AddrInfo | bytes] = {}
        for key, value in self.db.iterate(_KEY_PREFIX):
            try:
                info = AddrInfo.decode(key, value)
            except (ValueError, struct.error, UnicodeDecodeError):
                raise self.db.corrupted(f"address record {key.hex()}") from None
            if info.storable:
                self._insert(info)
            else:  # a link-local address an older version stored, scope already lost
                dropped[info.key] = key
        self._dirty = dropped
        self._flush()

    def _touch(self, info: AddrInfo) -> None:
        self._dirty[info.key] = info

    def _flush(self) -> None:
        """Write every change since the last flush in one batch."""
        if not self._dirty:
            return
        with self.db.batch() as b:
            for change in self._dirty.values():
                if isinstance(change, bytes):
                    b.delete(change)
                else:
                    b.put(_record_key(change.ip16, change.port), change.encode())
        self._dirty.clear()

    # -- table bookkeeping -----------------------------------------------------------------------
    def _insert(self, info: AddrInfo) -> None:
        """Put ``info`` in its table."""
        key = info.key
        self._entries[key] = info
        if info.in_tried:
            self._tried.add(key)
        else:
            self._new.add(key)
            self._by_source.setdefault(info.source_group, _RandomSet()).add(key)
        self._dirty[key] = info

    def _unlink_new(self, info: AddrInfo) -> None:
        key = info.key
        self._new.remove(key)
        g = info.source_group
        members = self._by_source[g]
        members.remove(key)
        if not members:
            del self._by_source[g]

    def _delete(self, key: tuple[str, int]) -> AddrInfo:
        info = self._entries.pop(key)
        if info.in_tried:
            self._tried.remove(key)
        else:
            self._unlink_new(info)
        self._dirty[key] = _record_key(info.ip16, info.port)
        return info

    def _evict_terrible(self, pool: _RandomSet, now: float) -> bool:
        """Delete one terrible entry from a random bucket of ``pool``; False if none is."""
        for key in pool.sample(self._rng, BUCKET_SIZE):
            if self._entries[key].is_terrible(now):
                self._delete(key)
                return True
        return False

    def _make_room_in_new(self, source_group: str, now: float) -> bool:
        """Room for one more new entry from ``source_group``, evicting a terrible entry if the
        table or the group's share is full. False: no room; the newcomer is dropped."""
        members = self._by_source.get(source_group)
        if members is not None and len(members) >= NEW_PER_SOURCE_GROUP:
            if not self._evict_terrible(members, now):
                return False
        if len(self._new) >= NEW_CAPACITY:
            return self._evict_terrible(self._new, now)
        return True

    # -- the interface ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def new_count(self) -> int:
        return len(self._new)

    @property
    def tried_count(self) -> int:
        return len(self._tried)

    def info(self, host: str, port: int) -> AddrInfo | None:
        return self._entries.get((canonical_host(host), port))

    def add(self, addrs: Iterable[NetAddr], source: str, penalty: int = 0) -> int:
        """Learn addresses that ``source`` (a host) told us; returns how many were new.

        Times are taken as given, aged by ``penalty`` seconds (Core passes 2 hours for gossip)
        unless the address is the source's own (Core: AddrMan::Add's nTimePenalty). Implausible
        times are the caller's to fix, as Core's ProcessMessage does before calling Add: gossip
        does (``gossip.sanitised_addr_time``); here one over 10 minutes ahead is terrible.
        Known addresses get the newer time and more services; their source and failure counts
        stay (Core: AddrManImpl::AddSingle)."""
        now = int(self._clock())
        added = 0
        for addr in addrs:
            if addr.port == 0 or not addr.storable \
                    or (self.routable_only and not is_routable_ip16(addr.ip16)):
                continue
            own = addr.host == source
            t = max(0, addr.time - (0 if own else penalty))
            info = self._entries.get(addr.key)
            if info is not None:
                # Core: refresh the time only when it moved on by more than the update interval.
                interval = 3600 if now - t < 86400 else 86400
                if info.time < t - interval:
                    info.time = t
                    self._touch(info)
                if info.services | addr.services != info.services:
                    info.services |= addr.services
                    self._touch(info)
                continue
            if self._make_room_in_new(_source_group(source), now):
                self._insert(AddrInfo(addr.host, addr.port, addr.services, t, source,
                                      ip16=addr.ip16))
                added += 1
        self._flush()
        return added

    def attempt(self, host: str, port: int) -> None:
        """A connection to the address is being tried (Core: Attempt with fCountFailure): the
        attempt counts as a failure until :meth:`good` says it worked."""
        info = self._entries.get((canonical_host(host), port))
        if info is None:
            return
        info.last_try = int(self._clock())
        info.attempts += 1
        self._touch(info)
        self._flush()

    def good(self, host: str, port: int, services: int | None = None) -> None:
        """An outbound connection succeeded: the address moves to tried (Core: Good). An address
        we did not know (a --connect peer) is added first, as its own source, unless it is one
        we never store (link-local: its --connect/--addnode entry is what redials it)."""
        canon, ip16 = canonical_host_and_ip16(host)  # one parse: the key, storable and a new entry's bytes
        if not storable_ip16(host, ip16):  # host as given: a scope on "::ffff:a.b.c.d%x" counts
            return
        now = int(self._clock())
        key = (canon, port)
        info = self._entries.get(key)
        if info is None:
            info = AddrInfo(canon, port, services or 0, now, canon, ip16=ip16)
        elif not info.in_tried:
            self._delete(key)
        if services is not None:
            info.services = services
        info.last_success = info.last_try = now
        info.attempts = 0
        if not info.in_tried:
            if len(self._tried) >= TRIED_CAPACITY:
                self._demote_stalest_tried(now)
            info.in_tried = True
            self._insert(info)
        self._touch(info)
        self._flush()

    def _demote_stalest_tried(self, now: float) -> None:
        """Make room in tried: the entry of a random bucket that worked longest ago goes back to
        new (Core moves the colliding tried entry to new rather than forgetting it)."""
        bucket = [self._entries[k] for k in self._tried.sample(self._rng, BUCKET_SIZE)]
        stalest = self._delete(min(bucket, key=lambda i: i.last_success).key)
        stalest.in_tried = False
        if self._make_room_in_new(stalest.source_group, now):
            self._insert(stalest)

    def connected(self, host: str, port: int) -> None:
        """A connection to the address has been up: refresh its time, at most every 20 minutes
        so the time does not reveal when we were online (Core: Connected)."""
        info = self._entries.get((canonical_host(host), port))
        now = int(self._clock())
        if info is not None and now - info.time > 20 * 60:
            info.time = now
            self._touch(info)
            self._flush()

    def remove(self, host: str, port: int) -> bool:
        key = (canonical_host(host), port)
        if key not in self._entries:
            return False
        self._delete(key)
        self._flush()
        return True

    def select(self, exclude: AbstractSet[tuple[str, int]] = frozenset(),
               new_only: bool = False) -> NetAddr | None:
        """An address to connect to, or None. Picks the tried or new table with even odds, then
        entries at random, accepting each with its chance and raising the bar on every miss
        (Core: Select_). ``exclude`` holds keys as the table keys them (canonical host, port:
        :attr:`NetAddr.key`), compared as they are: the connection manager calls this up to 20
        times a tick with its ~140 keys, and parsing each again would cost milliseconds of the
        event loop. Any other key (a host name) excludes nothing."""
        tables = []
        for table in ([self._new] if new_only else [self._new, self._tried]):
            if len(table) > 2 * len(exclude):
                tables.append(table)  # mostly selectable: draw and skip the excluded
            else:  # small or mostly excluded: draw from the explicit rest
                rest = _RandomSet()
                for k in table:
                    if k not in exclude:
                        rest.add(k)
                if rest:
                    tables.append(rest)
        if not tables:
            return None
        now = self._clock()
        factor = 1.0
        while True:
            table = self._rng.choice(tables)
            key = table.choice(self._rng)
            if key in exclude:
                continue
            info = self._entries[key]
            if self._rng.random() < factor * info.chance(now):
                return info.to_netaddr()
            factor *= 1.2

    def get_addr(self, max_count: int = 1000, max_pct: int = 23) -> list[NetAddr]:
        """Addresses to answer getaddr with: a random ``max_pct`` percent of the table, at most
        ``max_count``, without terrible ones (Core: GetAddr_, MAX_ADDR_TO_SEND and
        MAX_PCT_ADDR_TO_SEND)."""
        n = len(self._entries)
        wanted = min(max_count, n * max_pct // 100)
        now = self._clock()
        out: list[NetAddr] = []
        keys = list(self._entries)
        self._rng.shuffle(keys)
        for key in keys:
            if len(out) >= wanted:
                break
            info = self._entries[key]
            if not info.is_terrible(now):
                out.append(info.to_netaddr())
        return out

    def close(self) -> None:
        if self._owns_db:
            self.db.close()


