"""Message framing: headers, checksums, and the stream parser's handling of a peer's garbage."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.consensus.errors import DecodeError
from node.consensus.hashes import sha256d
from node.p2p.wire import (
    HEADER_SIZE,
    MAX_PROTOCOL_MESSAGE_LENGTH,
    FrameDecoder,
    WireError,
    checksum_ok,
    frame,
    parse_header,
)

MAINNET = bytes.fromhex("f9beb4d9")
REGTEST = bytes.fromhex("fabfb5da")

# The developer reference's verack (mainnet) and version (mainnet, protocol 70002) messages.
VERACK_FRAME = bytes.fromhex("f9beb4d976657261636b000000000000000000005df6e0e2")
VERSION_FRAME = bytes.fromhex(
    "f9beb4d976657273696f6e0000000000650000005f1a69d2721101000100000000000000bc8f5e5400000000"
    "010000000000000000000000000000000000ffffc61b6409208d010000000000000000000000000000000000"
    "ffffcb0071c0208d128035cbc97953f80f2f5361746f7368693a302e392e332fcf05050001")


def raw_header(magic: bytes, command: bytes, length: int, check: bytes = bytes(4)) -> bytes:
    return magic + command.ljust(12, b"\x00") + struct.pack("<I", length) + check


def test_frames_match_the_developer_reference():
    assert frame(MAINNET, "verack", b"") == VERACK_FRAME
    assert frame(MAINNET, "version", VERSION_FRAME[24:]) == VERSION_FRAME


def test_parse_header_reads_command_length_and_checksum():
    command, length, check = parse_header(VERSION_FRAME[:24], MAINNET)
    assert (command, length, check) == ("version", 101, bytes.fromhex("5f1a69d2"))
    assert checksum_ok(VERSION_FRAME[24:], check)
    assert not checksum_ok(VERSION_FRAME[24:-1] + b"\x00", check)


def test_parse_header_rejects_wrong_magic_and_short_headers():
    with pytest.raises(WireError, match="magic"):
        parse_header(VERSION_FRAME[:24], REGTEST)
    with pytest.raises(WireError, match="24 bytes"):
        parse_header(VERSION_FRAME[:23], MAINNET)


def test_parse_header_rejects_a_length_above_the_limit():
    hdr = raw_header(MAINNET, b"block", MAX_PROTOCOL_MESSAGE_LENGTH + 1)
    with pytest.raises(WireError, match="exceeds the limit"):
        parse_header(hdr, MAINNET)
    assert parse_header(raw_header(MAINNET, b"block", MAX_PROTOCOL_MESSAGE_LENGTH),
                        MAINNET)[1] == MAX_PROTOCOL_MESSAGE_LENGTH


def test_wire_error_is_a_decode_error():
    assert issubclass(WireError, DecodeError)


def test_frame_refuses_command_names_that_do_not_fit():
    for bad in ("", "a" * 13, "bad\x00name", "héllo"):
        with pytest.raises(ValueError):
            frame(MAINNET, bad, b"")
    assert frame(MAINNET, "a" * 12, b"")[4:16] == b"a" * 12


# -- the stream parser ----------------------------------------------------------------------------
def sample_stream() -> tuple[bytes, list[tuple[str, bytes]]]:
    frames = [("version", VERSION_FRAME[24:]), ("verack", b""), ("ping", bytes(range(8))),
              ("tx", bytes(300)), ("sendheaders", b""), ("inv", b"\x01" + bytes(36))]
    return b"".join(frame(MAINNET, c, p) for c, p in frames), frames


def test_decoder_returns_every_frame_fed_at_once():
    stream, frames = sample_stream()
    dec = FrameDecoder(MAINNET)
    assert dec.feed(stream) == frames
    assert dec.buffered == 0


def test_decoder_fed_byte_by_byte():
    stream, frames = sample_stream()
    dec = FrameDecoder(MAINNET)
    out = []
    for i in range(len(stream)):
        out += dec.feed(stream[i:i + 1])
        assert dec.buffered == (i + 1) - sum(HEADER_SIZE + len(p) for _, p in out)
    assert out == frames


@pytest.mark.parametrize("seed", range(20))
def test_decoder_fed_in_random_chunks(seed):
    stream, frames = sample_stream()
    rng = random.Random(seed)
    dec = FrameDecoder(MAINNET)
    out, pos = [], 0
    while pos < len(stream):
        n = rng.randint(0, 64)
        out += dec.feed(stream[pos:pos + n])
        pos += n
    assert out == frames


def test_decoder_drops_a_stream_with_wrong_magic_at_the_header():
    dec = FrameDecoder(REGTEST)
    assert dec.feed(VERACK_FRAME[:23]) == []
    with pytest.raises(WireError, match="magic"):
        dec.feed(VERACK_FRAME[23:24])
    with pytest.raises(WireError, match="already failed"):
        dec.feed(frame(REGTEST, "verack", b""))


def test_decoder_rejects_an_oversized_length_from_the_header_alone():
    # Only the 24 header bytes are fed: no payload is awaited or buffered.
    dec = FrameDecoder(MAINNET)
    with pytest.raises(WireError, match="exceeds the limit"):
        dec.feed(raw_header(MAINNET, b"block", MAX_PROTOCOL_MESSAGE_LENGTH + 1))
    small = FrameDecoder(MAINNET, max_payload=100)
    assert small.feed(frame(MAINNET, "tx", bytes(100))) == [("tx", bytes(100))]
    with pytest.raises(WireError):
        small.feed(raw_header(MAINNET, b"tx", 101))


def test_decoder_announces_the_pending_length():
    dec = FrameDecoder(MAINNET)
    f = frame(MAINNET, "tx", bytes(1000))
    dec.feed(f[:30])
    assert dec.pending_length == 1000 and dec.buffered == 30
    assert dec.feed(f[30:]) == [("tx", bytes(1000))]
    assert dec.pending_length is None


def test_a_bad_checksum_skips_the_message_and_keeps_the_stream():
    # Bitcoin Core (V1Transport::GetReceivedMessage): "Header error: Wrong checksum" rejects
    # that one message; the connection stays up.
    bad = bytearray(frame(MAINNET, "ping", bytes(8)))
    bad[20] ^= 0xFF
    dec = FrameDecoder(MAINNET)
    out = dec.feed(bytes(bad) + VERACK_FRAME)
    assert out == [("verack", b"")]
    assert dec.rejected == 1 and "checksum" in dec.last_reject


@pytest.mark.parametrize("field", [
    b"ver\x00ack",  # bytes after the first NUL
    b"\x01bad",  # not printable
    b"\x00",  # empty name
    b"caf\xc3\xa9",  # not ASCII
])
def test_an_invalid_command_field_skips_the_message(field):
    # Core: !hdr.IsCommandValid() -> reject_message, connection kept.
    payload = b"xyz"
    check = sha256d(payload)[:4]
    bad = raw_header(MAINNET, field, len(payload), check) + payload
    dec = FrameDecoder(MAINNET)
    assert dec.feed(bad + VERACK_FRAME) == [("verack", b"")]
    assert dec.rejected == 1 and "invalid command" in dec.last_reject
    # parse_header hands such a name back escaped, so it can never match a real command.
    command, _, _ = parse_header(bad[:24], MAINNET)
    assert command not in ("verack", "version", "ver", "caf")


def test_decoder_needs_a_four_byte_magic():
    with pytest.raises(ValueError):
        FrameDecoder(b"\xfa\xbf")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_arbitrary_bytes_raise_nothing_but_wire_error(chunks):
    dec = FrameDecoder(MAINNET, max_payload=1000)
    try:
        for chunk in chunks:
            for command, payload in dec.feed(MAINNET + chunk if chunk[:1] == b"m" else chunk):
                assert isinstance(command, str) and isinstance(payload, bytes)
    except WireError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["tx", "inv", "verack", "block", "a" * 12]),
                          st.binary(max_size=300)), max_size=8),
       st.lists(st.integers(1, 50), min_size=1, max_size=30))
def test_any_valid_stream_decodes_the_same_whatever_the_chunking(frames, cuts):
    stream = b"".join(frame(REGTEST, c, p) for c, p in frames)
    dec = FrameDecoder(REGTEST)
    out, pos, i = [], 0, 0
    while pos < len(stream):
        n = cuts[i % len(cuts)]
        out += dec.feed(stream[pos:pos + n])
        pos, i = pos + n, i + 1
    assert out == frames and dec.buffered == 0
