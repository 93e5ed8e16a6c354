"""P2P messages: byte-exact vectors, round trips, and malformed payloads raising DecodeError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.consensus.errors import DecodeError
from node.consensus.hashes import hash_to_hex
from node.consensus.params import REGTEST
from node.consensus.primitives import BlockHeader, OutPoint, TxOut
from node.consensus.serialize import compact_size
from node.p2p import messages as m
from node.p2p.messages import (
    MESSAGES,
    MSG_BLOCK,
    MSG_TX,
    MSG_WITNESS_BLOCK,
    MSG_WITNESS_TX,
    MSG_WTX,
    NODE_NETWORK,
    NODE_WITNESS,
    InvItem,
    NetAddr,
    decode_message,
    encode_message,
)
from node.p2p.wire import FrameDecoder
from tests.chain.builder import Wallet

MAINNET = bytes.fromhex("f9beb4d9")


def h(display_hex: str) -> bytes:
    """A hash written as the developer reference's hexdumps show it (internal byte order)."""
    return bytes.fromhex(display_hex)


# -- vectors: (command, payload hex, the message it decodes to) ------------------------------------
# Annotated hexdumps of Bitcoin's developer reference (P2P networking), BIP155's test data as
# used by Bitcoin Core's net_tests, and Core's empty-payload messages.
VECTORS = [
    ("version",
     "721101000100000000000000bc8f5e5400000000010000000000000000000000000000000000ffffc61b6409"
     "208d010000000000000000000000000000000000ffffcb0071c0208d128035cbc97953f80f2f5361746f7368"
     "693a302e392e332fcf05050001",
     m.Version(70002, NODE_NETWORK, 1415483324, NetAddr(1, "198.27.100.9", 8333),
               NetAddr(1, "203.0.113.192", 8333), 0xF85379C9CB358012, "/Satoshi:0.9.3/",
               329167, True)),
    ("getblocks",
     "7111010002d39f608a7775b537729884d4e6633bb2105e55a16a14d31b00000000000000005c3e6403d40837"
     "110a2e8afb602b1c01714bda7ce23bea0a0000000000000000" + "00" * 32,
     m.GetBlocks(70001, [h("d39f608a7775b537729884d4e6633bb2105e55a16a14d31b0000000000000000"),
                         h("5c3e6403d40837110a2e8afb602b1c01714bda7ce23bea0a0000000000000000")],
                 bytes(32))),
    ("headers",
     "0102000000b6ff0b1b1680a2862a30ca44d346d9e8910d334beb48ca0c00000000000000009d10aa52ee9493"
     "86ca9385695f04ede270dda20810decd12bc9b048aaab3147124d95a5430c31b18fe9f086400",
     m.Headers([BlockHeader(
         2, h("b6ff0b1b1680a2862a30ca44d346d9e8910d334beb48ca0c0000000000000000"),
         h("9d10aa52ee949386ca9385695f04ede270dda20810decd12bc9b048aaab31471"),
         1415239972, 0x181BC330, 0x64089FFE)])),
    ("inv",
     "0201000000de55ffd709ac1f5dc509a0925d0b1fc442ca034f224732e429081da1b621f55a0100000091d36d"
     "997037e08018262978766f24b8a055aaf1d872e94ae85e9817b2c68dc7",
     m.Inv([InvItem(MSG_TX, h("de55ffd709ac1f5dc509a0925d0b1fc442ca034f224732e429081da1b621f55a")),
            InvItem(MSG_TX, h("91d36d997037e08018262978766f24b8a055aaf1d872e94ae85e9817b2c68dc7"))])),
    ("addr",
     "01d91f4854010000000000000000000000000000000000ffffc0000233208d",
     m.Addr([NetAddr(NODE_NETWORK, "192.0.2.51", 8333, 1414012889)])),
    ("ping", "0094102111e2af4d", m.Ping(0x4DAFE21121109400)),
    ("pong", "0094102111e2af4d", m.Pong(0x4DAFE21121109400)),
    # The IPv4 entry of rust-bitcoin's addrv2 vector: services 0x448 as a CompactSize.
    ("addrv2", "0179627683fd4804010409090909208d",
     m.AddrV2([NetAddr(0x448, "9.9.9.9", 8333, 0x83766279)])),
    ("addrv2", "0100000000010210" + "1a1b2a2b3a3b4a4b5a5b6a6b7a7b8a8b" + "479d",
     m.AddrV2([NetAddr(1, "1a1b:2a2b:3a3b:4a4b:5a5b:6a6b:7a7b:8a8b", 18333, 0)])),
    ("feefilter", "e803000000000000", m.FeeFilter(1000)),
    ("sendcmpct", "000200000000000000", m.SendCmpct(False, 2)),
    ("sendcmpct", "010100000000000000", m.SendCmpct(True, 1)),
    ("getdata", "0102000040" + "00" * 31 + "11",
     m.GetData([InvItem(MSG_WITNESS_BLOCK, bytes(31) + b"\x11")])),
    ("notfound", "0105000000" + "ab" * 32, m.NotFound([InvItem(MSG_WTX, b"\xab" * 32)])),
    ("verack", "", m.Verack()),
    ("wtxidrelay", "", m.WtxidRelay()),
    ("sendaddrv2", "", m.SendAddrV2()),
    ("sendheaders", "", m.SendHeaders()),
    ("getaddr", "", m.GetAddr()),
    ("mempool", "", m.Mempool()),
]
VECTOR_IDS = [f"{c}-{i}" for i, (c, _, _) in enumerate(VECTORS)]


@pytest.mark.parametrize("command, payload_hex, expected", VECTORS, ids=VECTOR_IDS)
def test_vector_decodes_and_encodes_exactly(command, payload_hex, expected):
    payload = bytes.fromhex(payload_hex)
    assert expected.command == command
    assert decode_message(command, payload) == expected
    assert expected.serialize() == payload


def test_reference_headers_vector_is_a_real_mainnet_header():
    (header,) = decode_message("headers", bytes.fromhex(VECTORS[2][1])).headers
    assert hash_to_hex(header.hash).startswith("0000000000000000")


def test_the_reference_version_frame_decodes_through_the_stream_parser():
    frame_hex = ("f9beb4d976657273696f6e0000000000650000005f1a69d2" + VECTORS[0][1])
    [(command, payload)] = FrameDecoder(MAINNET).feed(bytes.fromhex(frame_hex))
    assert decode_message(command, payload) == VECTORS[0][2]
    assert encode_message(MAINNET, VECTORS[0][2]).hex() == frame_hex


def test_every_command_has_a_vector():
    assert {c for c, _, _ in VECTORS} | {"block", "tx", "getheaders"} == set(MESSAGES)


def test_command_names_are_bitcoins():
    assert set(MESSAGES) == {
        "version", "verack", "wtxidrelay", "sendaddrv2", "sendheaders", "ping", "pong",
        "getaddr", "addr", "addrv2", "inv", "getdata", "notfound", "getheaders", "getblocks",
        "headers", "block", "tx", "feefilter", "mempool", "sendcmpct"}


def test_unknown_commands_decode_to_none():
    assert decode_message("filterload", b"\x00") is None
    assert decode_message("ver\\x00ack", b"") is None


# -- blocks and transactions ----------------------------------------------------------------------
def test_block_message_keeps_the_payload_without_copying():
    raw = REGTEST.genesis.serialize()
    msg = decode_message("block", raw)
    assert msg.raw is raw
    assert hash_to_hex(msg.block.hash) == REGTEST.genesis_hash_hex
    assert msg.serialize() is raw
    assert m.BlockMsg(REGTEST.genesis).serialize() == raw
    assert msg == m.BlockMsg(REGTEST.genesis)


def test_tx_message_round_trips_a_witness_transaction():
    w = Wallet()
    tx = w.spend([(OutPoint(b"\x01" * 32, 0), 50_000)], [TxOut(40_000, w.script_pubkey)])
    msg = decode_message("tx", tx.serialize())
    assert msg == m.TxMsg(tx) and msg.tx.wtxid == tx.wtxid != tx.txid


def test_getheaders_round_trip_and_default_stop():
    msg = m.GetHeaders(70016, [REGTEST.genesis.hash])
    assert msg.hash_stop == bytes(32)
    assert decode_message("getheaders", msg.serialize()) == msg


def test_inventory_constants_are_cores():
    assert (MSG_WITNESS_TX, MSG_WITNESS_BLOCK) == (0x40000001, 0x40000002)
    assert MSG_WITNESS_BLOCK & ~m.MSG_WITNESS_FLAG == MSG_BLOCK
    assert NODE_NETWORK | NODE_WITNESS == 9 and m.NODE_NETWORK_LIMITED == 1024
    assert m.PROTOCOL_VERSION == 70016
    assert [i.type for i in m.inv_items(MSG_WTX, [bytes(32)] * 2)] == [MSG_WTX, MSG_WTX]


# -- version --------------------------------------------------------------------------------------
def test_version_without_relay_byte_means_relay():
    payload = bytes.fromhex(VECTORS[0][1])[:-1]
    assert decode_message("version", payload).relay is True
    assert decode_message("version", payload + b"\x00").relay is False


def test_version_tolerates_fields_from_later_protocol_versions():
    payload = bytes.fromhex(VECTORS[0][1]) + b"\x01\x02"
    assert decode_message("version", payload) == VECTORS[0][2]


def test_version_user_agent_is_limited_to_256_bytes():
    v = VECTORS[0][2]
    ok = m.Version(v.version, v.services, v.timestamp, v.addr_recv, v.addr_from, v.nonce,
                   "u" * 256, v.start_height)
    assert decode_message("version", ok.serialize()).user_agent == "u" * 256
    long = m.Version(v.version, v.services, v.timestamp, v.addr_recv, v.addr_from, v.nonce,
                     "u" * 257, v.start_height)
    with pytest.raises(DecodeError, match="user agent"):
        decode_message("version", long.serialize())


# -- malformed payloads ---------------------------------------------------------------------------
def _truncatable():
    for command, payload_hex, _ in VECTORS:
        payload = bytes.fromhex(payload_hex)
        cut = len(payload) - 1 if command == "version" else len(payload)  # relay is optional
        for n in range(cut):
            yield command, payload[:n]


@pytest.mark.parametrize("command, payload", list(_truncatable()))
def test_truncated_payloads_raise_decode_error(command, payload):
    with pytest.raises(DecodeError):
        decode_message(command, payload)


@pytest.mark.parametrize("command, payload_hex, _",
                         [v for v in VECTORS if v[0] != "version"],
                         ids=[i for i, v in zip(VECTOR_IDS, VECTORS, strict=True) if v[0] != "version"])
def test_trailing_bytes_raise_decode_error(command, payload_hex, _):
    with pytest.raises(DecodeError, match="trailing"):
        decode_message(command, bytes.fromhex(payload_hex) + b"\x00")


@pytest.mark.parametrize("command, limit, item", [
    ("inv", 50_000, bytes(36)), ("getdata", 50_000, bytes(36)), ("notfound", 50_000, bytes(36)),
    ("addr", 1000, bytes(30)), ("headers", 2000, bytes(81)),
], ids=["inv", "getdata", "notfound", "addr", "headers"])
def test_element_counts_above_cores_limits_are_refused(command, limit, item):
    at_limit = compact_size(limit) + item * limit
    assert decode_message(command, at_limit) is not None
    over = compact_size(limit + 1) + item * (limit + 1)
    with pytest.raises(DecodeError, match="limit"):
        decode_message(command, over)


def test_locator_above_101_hashes_is_refused():
    ok = m.GetHeaders(70016, [bytes(32)] * 101)
    assert decode_message("getheaders", ok.serialize()) == ok
    over = b"\x80\x11\x01\x00" + compact_size(102) + bytes(32 * 103)
    with pytest.raises(DecodeError, match="limit"):
        decode_message("getblocks", over)


def test_addrv2_over_1000_entries_is_refused():
    entry = bytes.fromhex("79627683fd4804010409090909208d")
    assert len(decode_message("addrv2", compact_size(1000) + entry * 1000).addrs) == 1000
    with pytest.raises(DecodeError, match="limit"):
        decode_message("addrv2", compact_size(1001) + entry * 1001)


@pytest.mark.parametrize("command", ["inv", "addr", "headers", "getdata", "addrv2"])
def test_a_count_larger_than_the_payload_is_refused_before_allocating(command):
    with pytest.raises(DecodeError, match="bytes left"):
        decode_message(command, compact_size(1000) + bytes(10))


def test_headers_with_a_transaction_count_are_refused():
    payload = bytearray.fromhex(VECTORS[2][1])
    payload[-1] = 1
    with pytest.raises(DecodeError, match="transaction count"):
        decode_message("headers", bytes(payload))


def test_zero_headers_is_a_valid_empty_reply():
    assert decode_message("headers", b"\x00") == m.Headers([])


# -- BIP155 addrv2 --------------------------------------------------------------------------------
def _addrv2(entry_hex: str) -> bytes:
    """One addrv2 entry (time 0, services 1, port 8333) around a BIP155 network+address."""
    return bytes.fromhex("01" + "00000000" + "01" + entry_hex + "208d")


@pytest.mark.parametrize("entry_hex, host", [
    ("010401020304", "1.2.3.4"),
    ("02100102030405060708090a0b0c0d0e0f10", "102:304:506:708:90a:b0c:d0e:f10"),
])
def test_addrv2_ip_entries_from_cores_net_tests(entry_hex, host):
    (a,) = decode_message("addrv2", _addrv2(entry_hex)).addrs
    assert (a.host, a.port, a.services) == (host, 8333, 1)


@pytest.mark.parametrize("entry_hex", [
    "042079bcc625184b05194975c28b66b66b0469f7f6556fb1ac3189a79b40dda32f1f",  # TORv3
    "0520a2894dabaec08c0051a481a6dac88b64f98232ae42d4b6fd2fa81952dfe36a87",  # I2P
    "0610fc000001000200030004000500060007",  # CJDNS
    "030af1f2f3f4f5f6f7f8f9fa",  # TORv2 (no longer supported by Core)
    "aa0401020304",  # unknown network
    "aa00",  # unknown network, empty address
    "021000000000000000000000ffff01020304",  # IPv4 disguised as IPv6: unusable in Core
])
def test_addrv2_entries_we_cannot_use_are_skipped(entry_hex):
    assert decode_message("addrv2", _addrv2(entry_hex)).addrs == ()


@pytest.mark.parametrize("entry_hex", [
    "010501020304",  # IPv4 with a bogus length
    "020400000000",  # IPv6 with a bogus length
    "040000",  # TORv3 with a bogus length
    "050300000000",  # I2P with a bogus length
    "060100",  # CJDNS with a bogus length
    "aafe00000002",  # unknown network, address longer than 512 bytes
])
def test_addrv2_malformed_entries_raise(entry_hex):
    with pytest.raises(DecodeError):
        decode_message("addrv2", _addrv2(entry_hex))


def test_rust_bitcoin_addrv2_message_keeps_only_the_ip_entry():
    raw = bytes.fromhex("0261bc6649019902abab208d79627683fd4804010409090909208d")
    msg = decode_message("addrv2", raw)
    assert msg.addrs == (NetAddr(0x448, "9.9.9.9", 8333, 0x83766279),)


# -- NetAddr --------------------------------------------------------------------------------------
def test_netaddr_hosts_are_canonical():
    assert NetAddr(0, "::ffff:1.2.3.4", 1).host == "1.2.3.4"
    assert NetAddr(0, "2001:0db8:0000::0001", 1).host == "2001:db8::1"
    assert NetAddr(0, "::ffff:1.2.3.4", 1) == NetAddr(0, "1.2.3.4", 1)
    assert str(NetAddr(0, "::1", 8333)) == "[::1]:8333"
    assert str(NetAddr(0, "127.0.0.1", 18444)) == "127.0.0.1:18444"


@pytest.mark.parametrize("host, port", [("example.com", 1), ("1.2.3", 1), ("1.2.3.4", 70000)])
def test_netaddr_refuses_non_ip_hosts_and_bad_ports(host, port):
    with pytest.raises(ValueError):
        NetAddr(0, host, port)


# -- properties -----------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(MESSAGES)), st.binary(max_size=400))
def test_arbitrary_payloads_raise_only_decode_error(command, payload):
    try:
        msg = decode_message(command, payload)
    except DecodeError:
        return
    assert msg.command == command


addrs = st.builds(NetAddr, st.integers(0, 2**64 - 1),
                  st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str)),
                  st.integers(0, 65535), st.integers(0, 2**32 - 1))
hashes = st.binary(min_size=32, max_size=32)


@settings(max_examples=100, deadline=None)
@given(st.one_of(
    st.builds(m.Addr, st.lists(addrs, max_size=5)),
    st.builds(m.Inv, st.lists(st.builds(InvItem, st.integers(0, 2**32 - 1), hashes),
                              max_size=5)),
    st.builds(m.GetHeaders, st.integers(-2**31, 2**31 - 1), st.lists(hashes, max_size=5),
              hashes),
    st.builds(m.Ping, st.integers(0, 2**64 - 1)),
    st.builds(m.FeeFilter, st.integers(-2**63, 2**63 - 1)),
    st.builds(m.Version, st.integers(-2**31, 2**31 - 1), st.integers(0, 2**64 - 1),
              st.integers(-2**63, 2**63 - 1), addrs.map(lambda a: NetAddr(a.services, a.host,
                                                                          a.port)),
              addrs.map(lambda a: NetAddr(a.services, a.host, a.port)),
              st.integers(0, 2**64 - 1), st.text(max_size=40),
              st.integers(-2**31, 2**31 - 1), st.booleans()),
))
def test_constructed_messages_round_trip(msg):
    assert decode_message(msg.command, msg.serialize()) == msg


@settings(max_examples=100, deadline=None)
@given(st.lists(addrs, max_size=5))
def test_ipv4_and_ipv6_addresses_round_trip_through_addrv2(entries):
    msg = m.AddrV2(entries)
    assert decode_message("addrv2", msg.serialize()) == msg
