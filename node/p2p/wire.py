"""Bitcoin's v1 message framing: magic, command, length, checksum, payload.

A frame is a 24-byte header (4-byte network magic, 12-byte NUL-padded command, little-endian
u32 payload length, first 4 bytes of SHA-256d of the payload) followed by the payload
(Core: CMessageHeader, V1Transport). What a peer's garbage does follows Bitcoin Core:

- wrong magic, or a length above the limit: the stream cannot be trusted any more, so
  :class:`WireError` is raised as soon as the 24 header bytes are in, before any payload is
  read or buffered; the caller must drop the peer (Core: readHeader returns -1);
- a wrong checksum, or a command field that is not printable ASCII padded with NULs: the one
  message is skipped and the connection kept (Core: GetReceivedMessage sets reject_message).

Pure code: no sockets, no asyncio. Either feed bytes to :class:`FrameDecoder`, or read 24 bytes,
call :func:`parse_header`, read ``length`` bytes and check them with :func:`checksum_ok`.
"""

from __future__ import annotations

import struct

from node.consensus.errors import DecodeError
from node.consensus.hashes import sha256d

HEADER_SIZE = 24
COMMAND_SIZE = 12
CHECKSUM_SIZE = 4
# Core: MAX_PROTOCOL_MESSAGE_LENGTH (net.h). The largest valid block (MAX_BLOCK_SERIALIZED_SIZE,
# 4,000,000 bytes) fits exactly, so one limit serves every command.
MAX_PROTOCOL_MESSAGE_LENGTH = 4_000_000

_HEADER = struct.Struct("<4s12sI4s")
_PRINTABLE = frozenset(range(0x20, 0x7F))


class WireError(DecodeError):
    """The byte stream of a connection is unusable (bad magic, oversized length): drop the peer."""


def checksum(payload: bytes) -> bytes:
    return sha256d(payload)[:CHECKSUM_SIZE]


def frame(magic: bytes, command: str, payload: bytes) -> bytes:
    """One framed message, ready for the socket."""
    raw = command.encode("ascii")
    if not raw or len(raw) > COMMAND_SIZE or not _PRINTABLE.issuperset(raw):
        raise ValueError(f"invalid command name {command!r}")
    return _HEADER.pack(magic, raw, len(payload), checksum(payload)) + payload


def _command_text(field: bytes) -> tuple[str, bool]:
    """(command, valid) from the 12-byte field (Core: CMessageHeader::IsCommandValid).

    Valid means printable ASCII up to the first NUL and only NULs after it. An invalid field
    still yields a readable name (non-printables escaped, so it can never equal a real command)
    for logging and for callers that treat it as an unknown command."""
    name, nul, padding = field.partition(b"\x00")
    valid = bool(name) and _PRINTABLE.issuperset(name) and not padding.strip(b"\x00")
    if valid:
        return name.decode("ascii"), True
    return field.rstrip(b"\x00").decode("ascii", "backslashreplace") or "\\x00", False


def parse_header(data: bytes, magic: bytes,
                 max_payload: int = MAX_PROTOCOL_MESSAGE_LENGTH) -> tuple[str, int, bytes]:
    """(command, length, checksum) from a 24-byte header.

    Raises :class:`WireError` for wrong magic or a length above ``max_payload``: the payload is
    then never read. An invalid command field is not an error here (Core skips such a message
    but keeps the peer): it comes back escaped, so it matches no known message."""
    if len(data) != HEADER_SIZE:
        raise WireError(f"message header must be {HEADER_SIZE} bytes, got {len(data)}")
    command, length, check, _ = _read_header(data, magic, max_payload)
    return command, length, check


def _read_header(buf: bytes | bytearray, magic: bytes,
                 max_payload: int) -> tuple[str, int, bytes, bool]:
    """(command, length, checksum, command valid) from the first 24 bytes of ``buf``.

    The one place the stream-breaking checks live, so :func:`parse_header` and
    :class:`FrameDecoder` refuse the same headers with the same words."""
    got_magic, field, length, check = _HEADER.unpack_from(buf)
    if got_magic != magic:
        raise WireError(f"wrong network magic {got_magic.hex()} (expected {magic.hex()})")
    command, valid = _command_text(field)
    if length > max_payload:
        raise WireError(f"{command} message of {length} bytes exceeds the limit of "
                        f"{max_payload}")
    return command, length, check, valid


def checksum_ok(payload: bytes, check: bytes) -> bool:
    """Whether ``payload`` matches its header's checksum (if not, skip the message, as Core)."""
    return checksum(payload) == check


class FrameDecoder:
    """Incremental frame parser for one connection's byte stream.

    :meth:`feed` returns the complete, well-formed frames as ``(command, payload)``. Frames with a
    wrong checksum or an invalid command field are skipped and counted in :attr:`rejected`
    (with the reason of the last one in :attr:`last_reject`), as Core does. Bad magic or an
    oversized length raise :class:`WireError` as soon as the header is complete; after that the
    decoder must not be fed again."""

    __slots__ = ("magic", "max_payload", "rejected", "last_reject", "_buf", "_header",
                 "_failed")

    def __init__(self, magic: bytes, max_payload: int = MAX_PROTOCOL_MESSAGE_LENGTH) -> None:
        if len(magic) != 4:
            raise ValueError("network magic must be 4 bytes")
        self.magic = magic
        self.max_payload = max_payload
        self.rejected = 0
        self.last_reject = ""
        self._buf = bytearray()
        # The parsed header of the frame whose payload is still arriving: (command, length,
        # checksum, command valid). Parsed once, not on every feed of a large block.
        self._header: tuple[str, int, bytes, bool] | None = None
        self._failed = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in a frame (bound the receive buffer with it)."""
        return len(self._buf)

    @property
    def pending_length(self) -> int | None:
        """Payload length announced by the header being completed, if one is in."""
        return None if self._header is None else self._header[1]

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        if self._failed:
            raise WireError("the stream already failed; the connection must be closed")
        buf = self._buf
        buf += data
        out: list[tuple[str, bytes]] = []
        while True:
            if self._header is None:
                if len(buf) < HEADER_SIZE:
                    return out
                try:
                    self._header = _read_header(buf, self.magic, self.max_payload)
                except WireError:
                    self._failed = True  # the stream cannot be trusted past this header
                    raise
            command, length, check, valid = self._header
            end = HEADER_SIZE + length
            if len(buf) < end:
                return out
            payload = bytes(buf[HEADER_SIZE:end])
            del buf[:end]  # CPython moves the start of a bytearray: no copy of the rest
            self._header = None
            if not valid:
                self._reject(f"invalid command {command!r} ({length} bytes)")
            elif checksum(payload) != check:
                self._reject(f"wrong checksum for {command} ({length} bytes)")
            else:
                out.append((command, payload))

    def _reject(self, reason: str) -> None:
        self.rejected += 1
        self.last_reject = reason
