"""The frames of Bitcoin Core's functional test p2p_invalid_messages.py, checked against our wire
layer: what Core drops the peer for raises WireError; what Core only skips is skipped with the
stream intact; what Core throws on while parsing raises DecodeError; what Core accepts decodes.

Core's test builds its frames with ``msg_unrecognized(str_data=...)``: command "badmsg", payload
the string serialized with a CompactSize length, on regtest.
"""

from __future__ import annotations

import pytest

from node.consensus.errors import DecodeError
from node.consensus.params import REGTEST
from node.consensus.serialize import compact_size
from node.p2p.messages import MAX_HEADERS_RESULTS, MAX_INV_SZ, Ping, decode_message, encode_message
from node.p2p.wire import MAX_PROTOCOL_MESSAGE_LENGTH, FrameDecoder, WireError, frame

MAGIC = REGTEST.magic
# Core: VALID_DATA_LIMIT = MAX_PROTOCOL_MESSAGE_LENGTH - 5 (the 5-byte CompactSize of the string)
VALID_DATA_LIMIT = MAX_PROTOCOL_MESSAGE_LENGTH - 5


def msg_unrecognized(data: bytes) -> bytes:
    return frame(MAGIC, "badmsg", compact_size(len(data)) + data)


def ping_after(dec: FrameDecoder) -> None:
    """Core's sync_with_ping: a later message on the same connection still gets through."""
    assert dec.feed(encode_message(MAGIC, Ping(7))) == [("ping", (7).to_bytes(8, "little"))]


def test_magic_bytes_disconnect():
    # "Header error: Wrong MessageStart ffffffff received" -> wait_for_disconnect
    msg = msg_unrecognized(b"d")
    with pytest.raises(WireError, match="ffffffff"):
        FrameDecoder(MAGIC).feed(b"\xff" * 4 + msg[4:])


def test_checksum_is_logged_and_the_peer_kept():
    # "Header error: Wrong checksum (badmsg, 2 bytes), expected 78df0a04 was ffffffff"
    msg = msg_unrecognized(b"d")
    assert msg[20:24].hex() == "78df0a04"
    dec = FrameDecoder(MAGIC)
    assert dec.feed(msg[:20] + b"\xff" * 4 + msg[24:]) == []
    assert dec.rejected == 1 and "badmsg (2 bytes)" in dec.last_reject
    ping_after(dec)


def test_size_too_large_disconnects_from_the_header():
    # "Header error: Size too large (badmsg, 4000001 bytes)"
    header = msg_unrecognized(b"d" * (VALID_DATA_LIMIT + 1))[:24]
    with pytest.raises(WireError, match="badmsg message of 4000001 bytes"):
        FrameDecoder(MAGIC).feed(header)


def test_a_message_of_exactly_the_maximum_size_is_accepted():
    # test_resource_exhaustion: msg_at_size is MAX_PROTOCOL_MESSAGE_LENGTH; the peer stays.
    msg = msg_unrecognized(b"b" * VALID_DATA_LIMIT)
    assert len(msg) - 24 == MAX_PROTOCOL_MESSAGE_LENGTH
    dec = FrameDecoder(MAGIC)
    [(command, payload)] = dec.feed(msg)
    assert command == "badmsg" and decode_message(command, payload) is None  # unknown: ignored
    ping_after(dec)


def test_invalid_message_type_is_logged_and_the_peer_kept():
    # msg[:7] + b'\x00' + msg[8:]: "bad\x00msg" -> "Header error: Invalid message type"
    msg = msg_unrecognized(b"d")
    dec = FrameDecoder(MAGIC)
    assert dec.feed(msg[:7] + b"\x00" + msg[8:]) == []
    assert dec.rejected == 1 and "invalid command" in dec.last_reject
    ping_after(dec)


# -- addrv2 ----------------------------------------------------------------------------------------
def test_addrv2_empty_payload_is_malformed():
    # "ProcessMessages(addrv2, 0 bytes): Exception ... end of data"
    with pytest.raises(DecodeError):
        decode_message("addrv2", b"")


def test_addrv2_with_no_addresses_is_fine():
    assert decode_message("addrv2", bytes.fromhex("00")).addrs == ()


def test_addrv2_too_long_address():
    # "Address too long: 513 > 512"
    raw = bytes.fromhex("01" + "61bc6649" + "00" + "01" + "fd0102" + "ab" * 513 + "208d")
    with pytest.raises(DecodeError, match="513 bytes exceeds 512"):
        decode_message("addrv2", raw)


def test_addrv2_unrecognized_network_is_skipped_and_the_rest_added():
    # "9.9.9.9:8333", "Added 1 addresses"
    now_hex = (1_700_000_000).to_bytes(4, "little").hex()
    raw = bytes.fromhex("02" + now_hex + "01" + "99" + "02" + "ab" * 2 + "208d"
                        + now_hex + "01" + "01" + "04" + "09" * 4 + "208d")
    (addr,) = decode_message("addrv2", raw).addrs
    assert (addr.host, addr.port, addr.services, addr.time) == ("9.9.9.9", 8333, 1, 1_700_000_000)


# -- oversized messages: "Misbehaving", "<type> message size = <n>" --------------------------------
@pytest.mark.parametrize("command, size, entry", [
    ("inv", MAX_INV_SZ + 1, (1).to_bytes(4, "little") + (1).to_bytes(32, "little")),
    ("getdata", MAX_INV_SZ + 1, (1).to_bytes(4, "little") + (1).to_bytes(32, "little")),
    # CBlockHeader() of Core's test framework: all zeros, then the zero transaction count
    ("headers", MAX_HEADERS_RESULTS + 1, bytes(81)),
], ids=["inv", "getdata", "headers"])
def test_oversized_messages_are_refused(command, size, entry):
    payload = compact_size(size) + entry * size
    # They still fit in one frame: the refusal comes from the message's own limit.
    [(got, body)] = FrameDecoder(MAGIC).feed(frame(MAGIC, command, payload))
    with pytest.raises(DecodeError, match=f"count {size} exceeds the limit"):
        decode_message(got, body)
