"""Bans and discouragement of misbehaving peers, persisted in LevelDB.

Two lists, as in Bitcoin Core's BanMan:

- *bans*: hosts or CIDR subnets an operator banned (``ban``/``unban``), each until a time;
  listed for the API (Core: listbanned, setban, banlist.json). Expired bans are swept.
- *discouraged* hosts: a peer that misbehaved (invalid block, malformed message, ...) is
  disconnected and its address discouraged for 24 hours (Core: Misbehaving -> Discourage). Core
  keeps these in a rolling bloom filter of 50,000 entries that forgets with age; here they are a
  bounded map with an expiry, written to disk too so a restart does not forgive an attacker.

Hosts are compared in canonical form: an IPv4-mapped IPv6 peer matches an IPv4 ban, and an
IPv6 scope id is dropped, so a ban or discouragement of ``fe80::1`` is one of ``fe80::1%eth0``
and the other way round (Core: CNetAddr's operator==/< and CSubNet::Match compare the network
and the address bytes, never m_scope_id; BanMan keys its map by CSubNet and discourages by
GetAddrBytes). Pure code: no asyncio; the clock is injectable.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from node.storage.db import Database

from .netaddr import Address, Network, parse_host, parse_subnet

DEFAULT_BAN_TIME = 86400  # Core: DEFAULT_MISBEHAVING_BANTIME
DISCOURAGE_TIME = 86400
MAX_DISCOURAGED = 50_000  # Core: the size of m_discouraged, its rolling bloom filter

_BAN_PREFIX = b"b"
_DISCOURAGED_PREFIX = b"d"
_TIMES = struct.Struct("<qq")  # created, until
_K = TypeVar("_K")  # what a record's key reads as: a subnet, or a host


def _ban_key(net: Network) -> bytes:
    return _BAN_PREFIX + str(net).encode()


def _discouraged_key(ip: Address) -> bytes:
    return _DISCOURAGED_PREFIX + str(ip).encode()


class BanMan:
    def __init__(self, path_or_db: Path | Database, *,
                 clock: Callable[[], float] = time.time) -> None:
        """Open (or create) the database at a path, or share an open ``Database`` (the address
        manager's: the keys do not collide)."""
        self._owns_db = not isinstance(path_or_db, Database)
        self.db = Database(Path(path_or_db)) if self._owns_db else path_or_db
        self._clock = clock
        # Records written before scope ids were dropped ("bfe80::1%eth0/128") are read in
        # canonical form, merged with any twin (the later end wins) and rewritten under it.
        stale: list[bytes] = []
        # subnet -> (created, until)
        self._bans: dict[Network, tuple[int, int]] = self._read(
            _BAN_PREFIX, parse_subnet, _ban_key, "ban record", stale)
        discouraged_times = self._read(_DISCOURAGED_PREFIX, parse_host, _discouraged_key,
                                       "discouragement record", stale)
        # host -> until, oldest first
        self._discouraged: dict[Address, int] = {
            ip: t[1] for ip, t in sorted(discouraged_times.items(), key=lambda kv: kv[1][1])}
        if stale:
            with self.db.batch(sync=True) as b:
                for key in stale:
                    b.delete(key)
                for net, times in self._bans.items():
                    b.put(_ban_key(net), _TIMES.pack(*times))
                for ip, times in discouraged_times.items():
                    b.put(_discouraged_key(ip), _TIMES.pack(*times))
        self.sweep()

    def _read(self, prefix: bytes, parse: Callable[[str], _K], key_of: Callable[[_K], bytes],
              what: str, stale: list[bytes]) -> dict[_K, tuple[int, int]]:
        """The records under ``prefix``: (created, until) by what ``parse`` reads of each
        key, the later end kept of twins; keys not as ``key_of`` writes them go to
        ``stale``. A record that does not decode is a corrupted database, named ``what``."""
        records: dict[_K, tuple[int, int]] = {}
        for key, value in self.db.iterate(prefix):
            try:
                item = parse(key[1:].decode())
            except (ValueError, UnicodeDecodeError):
                raise self.db.corrupted(f"{what} {key!r}") from None
            if len(value) != _TIMES.size:
                raise self.db.corrupted(f"{what} {key!r}")
            times = _TIMES.unpack(value)
            if item not in records or times[1] > records[item][1]:
                records[item] = times
            if key != key_of(item):
                stale.append(key)
        return records

    # -- bans ------------------------------------------------------------------------------------
    def ban(self, subnet: str, seconds: int = DEFAULT_BAN_TIME, *, absolute: bool = False) -> None:
        """Ban a host or subnet for ``seconds`` (or until the unix time ``seconds`` with
        ``absolute``). A ban already in place is only ever extended (Core: BanMan::Ban)."""
        net = parse_subnet(subnet)
        now = int(self._clock())
        until = int(seconds) if absolute else now + int(seconds)
        if until <= now:
            raise ValueError("a ban must end in the future")
        old = self._bans.get(net)
        if old is not None and old[1] >= until:
            return
        self._bans[net] = (now, until)
        self.db.put(_ban_key(net), _TIMES.pack(now, until), sync=True)

    def unban(self, subnet: str) -> bool:
        net = parse_subnet(subnet)
        if self._bans.pop(net, None) is None:
            return False
        self.db.delete(_ban_key(net), sync=True)
        return True

    def clear(self) -> None:
        """Lift every ban (Core: clearbanned); discouragement stays."""
        with self.db.batch(sync=True) as b:
            for net in self._bans:
                b.delete(_ban_key(net))
        self._bans.clear()

    def is_banned(self, host: str) -> bool:
        ip = parse_host(host)
        now = self._clock()
        return any(ip in net and until > now for net, (_, until) in self._bans.items())

    def list_bans(self) -> list[dict]:
        """Current bans, as Core's listbanned: address (CIDR), ban_created, banned_until."""
        self.sweep()
        return [{"address": str(net), "ban_created": created, "banned_until": until}
                for net, (created, until) in sorted(
                    self._bans.items(), key=lambda kv: (kv[0].version, kv[0]))]

    # -- discouragement --------------------------------------------------------------------------
    def discourage(self, host: str) -> None:
        """A peer at ``host`` misbehaved: refuse it for 24 hours."""
        ip = parse_host(host)
        until = int(self._clock()) + DISCOURAGE_TIME
        self._discouraged.pop(ip, None)  # re-inserted last: the map stays oldest first
        self._discouraged[ip] = until
        with self.db.batch() as b:
            b.put(_discouraged_key(ip), _TIMES.pack(until - DISCOURAGE_TIME, until))
            while len(self._discouraged) > MAX_DISCOURAGED:
                oldest = next(iter(self._discouraged))
                del self._discouraged[oldest]
                b.delete(_discouraged_key(oldest))

    def is_discouraged(self, host: str) -> bool:
        until = self._discouraged.get(parse_host(host))
        return until is not None and until > self._clock()

    # -- upkeep ----------------------------------------------------------------------------------
    def sweep(self) -> None:
        """Forget expired bans and discouragements (Core: SweepBanned)."""
        now = self._clock()
        expired = [net for net, (_, until) in self._bans.items() if until <= now]
        gone = [ip for ip, until in self._discouraged.items() if until <= now]
        if not expired and not gone:
            return
        with self.db.batch() as b:
            for net in expired:
                del self._bans[net]
                b.delete(_ban_key(net))
            for ip in gone:
                del self._discouraged[ip]
                b.delete(_discouraged_key(ip))

    def close(self) -> None:
        if self._owns_db:
            self.db.close()
