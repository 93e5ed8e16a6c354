"""Network addresses as the wire carries them, and the address facts the address manager needs.

:class:`NetAddr` is one (services, host, port, time) entry of ``version``, ``addr`` and
``addrv2``. Hosts are IPv4 or IPv6 text, canonical (an IPv4-mapped IPv6 address is kept as
dotted IPv4), so that equal addresses compare equal whatever form they arrived in. On the wire
every address is 16 bytes, IPv4 mapped into ``::ffff:0:0/96`` (Core: CService, ``V1`` format).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass, field

from node.consensus.errors import DecodeError
from node.consensus.serialize import ByteReader, compact_size
from node.netutil import HostPort

IPV4_IN_IPV6_PREFIX = bytes(10) + b"\xff\xff"

# BIP155 network ids and the address length each requires.
BIP155_IPV4 = 1
BIP155_IPV6 = 2
BIP155_TORV2 = 3
BIP155_TORV3 = 4
BIP155_I2P = 5
BIP155_CJDNS = 6
BIP155_ADDR_SIZES = {BIP155_IPV4: 4, BIP155_IPV6: 16, BIP155_TORV3: 32, BIP155_I2P: 32,
                     BIP155_CJDNS: 16}
MAX_ADDRV2_SIZE = 512  # Core: MAX_ADDRV2_SIZE (netaddress.h)

_V1_ADDR = struct.Struct("<Q16s")  # services, ip; the port follows big-endian
_PORT = struct.Struct(">H")
_TIME = struct.Struct("<I")


def is_ip(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 literal, a scoped IPv6 one (``fe80::1%eth0``)
    included, rather than a host name. The one test of it: every function here taking a host
    accepts exactly what this accepts."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_to_ip16(host: str) -> bytes:
    """IPv4 or IPv6 text -> the 16-byte wire form. ValueError if it is neither. An IPv6 scope
    id is dropped: the wire has no room for it (Core serialises CNetAddr without m_scope_id)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"not an IP address: {host!r}") from None
    return IPV4_IN_IPV6_PREFIX + ip.packed if ip.version == 4 else ip.packed


def ip16_to_host(ip: bytes) -> str:
    """The 16-byte wire form -> canonical text (dotted IPv4 for mapped addresses)."""
    if ip[:12] == IPV4_IN_IPV6_PREFIX:
        return f"{ip[12]}.{ip[13]}.{ip[14]}.{ip[15]}"
    return socket.inet_ntop(socket.AF_INET6, ip)


def canonical_host(host: str) -> str:
    """``host`` in the one text form :class:`NetAddr` keeps (ValueError if not an IP). A scoped
    IPv6 address keeps its scope id, without which a link-local peer cannot be dialled (Core's
    CNetAddr keeps m_scope_id too)."""
    return canonical_host_and_ip16(host)[0]


def canonical_or_name(host: str) -> str:
    """:func:`canonical_host`, or a host name as given (``--connect`` and ``--addnode`` may name
    a host): the form peers and dials are keyed by, so that a key compares equal to an address
    manager key (:attr:`NetAddr.key`) whenever it is the same IP."""
    try:
        return canonical_host(host)
    except ValueError:
        return host


def canonical_host_and_ip16(host: str) -> tuple[str, bytes]:
    """:func:`canonical_host` and :func:`host_to_ip16` of ``host`` from one parse, for callers
    that need both (a new address's key and its bytes)."""
    ip16 = host_to_ip16(host)
    canon = ip16_to_host(ip16)
    _, sep, scope = host.partition("%")
    return (f"{canon}%{scope}" if sep and ":" in canon else canon), ip16


def storable(host: str) -> bool:
    """Whether the address manager keeps ``host`` (ValueError if not an IP): anything but a
    link-local IPv6 address (fe80::/10) or one with a scope id. Core's AddrMan keeps no
    unroutable address (AddSingle: IsRoutable excludes RFC 4862), and its peers.dat, like our
    records, has no room for the scope id that dialling a link-local address needs; other
    unroutable addresses are the address manager's ``routable_only`` to refuse."""
    return storable_ip16(host, host_to_ip16(host))


def storable_ip16(host: str, ip16: bytes) -> bool:
    """:func:`storable` of ``host`` whose wire form ``ip16`` is already at hand (the host text
    is still read, for a scope id, which the wire form has no room for)."""
    # fe80::/10 by its first ten bits; an IPv4(-mapped) address starts with zero bytes. A scope
    # id is only ever written as "%scope" after an IPv6 address.
    return not (ip16[0] == 0xFE and ip16[1] & 0xC0 == 0x80) and "%" not in host


# Subnets and hosts read as bans and the whitelist read them (Core: CSubNet, CNetAddr).
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_subnet(text: str) -> Network:
    """A host ("1.2.3.4", "::1") or a CIDR subnet ("10.0.0.0/8"), canonical. ValueError if not.

    An IPv4-mapped IPv6 host or subnet is turned into its IPv4 form; an IPv6 scope id
    ("fe80::1%eth0") is dropped."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or subnet: {text!r}") from None
    if isinstance(net, ipaddress.IPv6Network):
        if net.prefixlen >= 96:
            mapped = net.network_address.ipv4_mapped
            if mapped is not None:
                return ipaddress.ip_network(f"{mapped}/{net.prefixlen - 96}", strict=False)
        if net.network_address.scope_id is not None:
            return ipaddress.IPv6Network((int(net.network_address), net.prefixlen))
    return net


def parse_host(host: str) -> Address:
    """An IP address, canonical as :func:`parse_subnet` makes it: IPv4-mapped IPv6 as IPv4, no
    IPv6 scope id. ValueError if not an IP."""
    try:
        ip = ipaddress.ip_address(host.strip())
    except ValueError:
        raise ValueError(f"not an IP address: {host!r}") from None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.scope_id is not None:
            return ipaddress.IPv6Address(int(ip))
    return ip


@dataclass(frozen=True, slots=True)
class NetAddr:
    services: int
    host: str  # canonical IPv4 dotted or IPv6 text
    port: int
    time: int = 0  # unix seconds the address was last seen (Core: nTime); not in ``version``
    # The 16-byte wire form of ``host``, set once when the address is made (from the wire by
    # the parsers, which have it, else from ``host``): serialising an ``addr`` message of 1,000
    # entries must not parse 1,000 host strings again. Derived from ``host`` (less any scope
    # id, which the wire drops), so it takes no part in equality, hashing or repr, and
    # ``dataclasses.replace`` recomputes it rather than copying it.
    ip16: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        canon, ip16 = canonical_host_and_ip16(self.host)
        if canon != self.host:
            object.__setattr__(self, "host", canon)
        object.__setattr__(self, "ip16", ip16)
        if not 0 <= self.port <= 0xFFFF:
            raise ValueError(f"port {self.port} out of range")

    @classmethod
    def from_ip16(cls, services: int, ip16: bytes, port: int, time: int = 0) -> NetAddr:
        """The address with the 16-byte wire form ``ip16``, built without parsing any text:
        :func:`ip16_to_host` already gives the canonical form ``__init__`` would make."""
        if len(ip16) != 16:
            raise ValueError(f"an IP address is 16 bytes on the wire, not {len(ip16)}")
        if not 0 <= port <= 0xFFFF:
            raise ValueError(f"port {port} out of range")
        self = object.__new__(cls)
        setattr_ = object.__setattr__  # frozen: the dataclass's own __setattr__ refuses
        setattr_(self, "services", services)
        setattr_(self, "host", ip16_to_host(ip16))
        setattr_(self, "port", port)
        setattr_(self, "time", time)
        setattr_(self, "ip16", bytes(ip16))
        return self

    @property
    def key(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def storable(self) -> bool:
        """:func:`storable` of the host, from the wire form already at hand."""
        return storable_ip16(self.host, self.ip16)

    def __str__(self) -> str:
        return str(HostPort(self.host, self.port))

    # -- wire forms --------------------------------------------------------------------------
    def serialize_v1(self, with_time: bool = True) -> bytes:
        """The ``addr`` entry (with time) or the ``version`` entry (without)."""
        body = _V1_ADDR.pack(self.services, self.ip16) + _PORT.pack(self.port)
        return _TIME.pack(self.time) + body if with_time else body

    @classmethod
    def parse_v1(cls, r: ByteReader, with_time: bool = True) -> NetAddr:
        t = r.u32() if with_time else 0
        services, ip = _V1_ADDR.unpack(r.read(_V1_ADDR.size))
        (port,) = _PORT.unpack(r.read(2))
        return cls.from_ip16(services, ip, port, t)

    def serialize_v2(self) -> bytes:
        """The BIP155 ``addrv2`` entry."""
        ip = self.ip16
        if ip[:12] == IPV4_IN_IPV6_PREFIX:
            net, raw = BIP155_IPV4, ip[12:]
        else:
            net, raw = BIP155_IPV6, ip
        return b"".join((_TIME.pack(self.time), compact_size(self.services),
                         bytes((net, len(raw))), raw, _PORT.pack(self.port)))

    @classmethod
    def parse_v2(cls, r: ByteReader) -> NetAddr | None:
        """One BIP155 entry; None for a network we cannot connect to (Tor, I2P, CJDNS, unknown
        ids), which is read and skipped as BIP155 asks. A known network with the wrong address
        length is malformed (Core throws)."""
        t = r.u32()
        services = r.compact_size(range_check=False)
        net = r.u8()
        size = r.compact_size()
        if size > MAX_ADDRV2_SIZE:
            raise DecodeError(f"addrv2 address of {size} bytes exceeds {MAX_ADDRV2_SIZE}")
        want = BIP155_ADDR_SIZES.get(net)
        if want is not None and size != want:
            raise DecodeError(f"BIP155 network {net} address with length {size} "
                              f"(should be {want})")
        raw = r.read(size)
        (port,) = _PORT.unpack(r.read(2))
        if net == BIP155_IPV4:
            return cls.from_ip16(services, IPV4_IN_IPV6_PREFIX + raw, port, t)
        if net == BIP155_IPV6 and raw[:12] != IPV4_IN_IPV6_PREFIX:
            # Core turns an IPv4-mapped address sent as IPv6 into an unusable one: skip it.
            return cls.from_ip16(services, raw, port, t)
        return None


# -- facts about addresses (Core: CNetAddr::IsRoutable, IsLocal, GetGroup) -------------------------
# Read from the 16-byte wire form, as Core's CNetAddr holds an address: the hot paths hold a
# NetAddr's or an AddrInfo's bytes and parse no text, and the text functions parse to the bytes
# first, so that every spelling of an address (an IPv4-mapped one, a scoped one) gets the one
# answer. The address object is made from the bytes and asked ipaddress's question, so the
# answers follow whatever Python's ipaddress counts as global.
def is_local_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback or unspecified (Core: CNetAddr::IsLocal, which also counts all of 0.0.0.0/8)."""
    return ip.is_loopback or ip.is_unspecified


def is_routable(host: str) -> bool:
    """Whether peers elsewhere could reach ``host``: not private, loopback, link-local,
    reserved, documentation or unspecified (Core: IsRoutable, simplified to ipaddress's view)."""
    return is_routable_ip16(host_to_ip16(host))


def group(host: str) -> str:
    """The network group addresses are bucketed by, so that one operator's many addresses fill
    few buckets (Core: GetGroup without an ASN map): /16 for IPv4, /32 for IPv6, and one group
    for all unroutable addresses of a family. A scope id is no part of it (Core's GetGroup
    reads the address bytes only)."""
    return group_ip16(host_to_ip16(host))


def _ip_of_ip16(ip16: bytes) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if ip16[:12] == IPV4_IN_IPV6_PREFIX:
        return ipaddress.IPv4Address(ip16[12:])
    return ipaddress.IPv6Address(ip16)


def is_routable_ip16(ip16: bytes) -> bool:
    """:func:`is_routable` of the address whose wire form is ``ip16``."""
    return _ip_of_ip16(ip16).is_global


def group_ip16(ip16: bytes) -> str:
    """:func:`group` of the address whose wire form is ``ip16``."""
    ip = _ip_of_ip16(ip16)
    if ip.version == 4:
        if not ip.is_global:
            return "local4"
        return f"{ip16[12]}.{ip16[13]}.0.0/16"
    if not ip.is_global:
        return "local6"
    # The /32 network written as ipaddress writes it: inet_ntop compresses the zero run the
    # same way (RFC 5952: the longest run, which the twelve zero bytes always are).
    return socket.inet_ntop(socket.AF_INET6, ip16[:4] + bytes(12)) + "/32"
